"""The control worker's clock: once a second it marks hosts whose heartbeats stopped as down.

A thread in the worker rather than Celery beat: the check must run every second
wherever the control worker runs, and a second control worker doing it too is
harmless (marking a host down is a conditional update, done once).
"""
from __future__ import annotations

import logging
import threading

from django.db import close_old_connections

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 1.0


def _watch(stop: threading.Event) -> None:
    from webui.hosts.actions import mark_down_hosts
    while not stop.wait(INTERVAL_SECONDS):
        close_old_connections()
        try:
            for host in mark_down_hosts():
                log.warning("host %s is down: no heartbeat since %s", host.name, host.last_seen)
        except Exception:  # a database hiccup must not end the watch
            log.exception("the host watch failed; trying again")


def start() -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=_watch, args=(stop,), name="host-watch", daemon=True).start()
    return stop
