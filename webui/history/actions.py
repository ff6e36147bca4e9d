"""Writes on the history: a container's minute from its agent, a host's heartbeat folded
into its minute, and the pruning of rows older than ``BERTH_HISTORY_DAYS``."""
from __future__ import annotations

import logging
import math
import threading
import time
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webui.containers.models import Container
from webui.hosts.models import Host

from .models import CONTAINER_FIGURES, ContainerMinute, HostMinute

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600
# A minute further ahead than this is a broken clock, not a report.
_FUTURE_SLACK = timedelta(minutes=5)


def _number(value) -> float | None:
    """A finite real number, or None (bools and strings are not figures)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _minute_start(unix_seconds: float) -> datetime:
    return datetime.fromtimestamp(unix_seconds - unix_seconds % 60, tz=dt_timezone.utc)


def _valid_minute(minute) -> datetime | None:
    seconds = _number(minute)
    if seconds is None or seconds < 0:
        return None
    at = _minute_start(seconds)
    now = timezone.now()
    if at > now + _FUTURE_SLACK or at < now - timedelta(days=settings.BERTH_HISTORY_DAYS):
        return None
    return at


def _figures(raw) -> dict[str, float] | None:
    """The figures of one container's minute; None if any is not a number. A figure the
    agent left out counts as 0, and unknown keys are ignored, so either side can grow."""
    if not isinstance(raw, dict):
        return None
    figures = {}
    for name in CONTAINER_FIGURES:
        value = _number(raw.get(name, 0))
        if value is None:
            return None
        figures[name] = value
    return figures


def _minute_rows(host: Host, at: datetime, containers: dict) -> list[ContainerMinute]:
    ids = {key: int(key) for key in containers if isinstance(key, str) and key.isdigit()}
    known = Container.objects.select_related("app").filter(host=host, id__in=ids.values()).in_bulk()
    rows = []
    for key, raw in containers.items():
        container = known.get(ids.get(key))
        figures = _figures(raw)
        if container is None or figures is None:
            log.warning("stats minute from %s at %s: ignored container %r (%s)", host.name, at.isoformat(), key,
                        "unknown on this host" if container is None else f"figures not numbers: {raw!r}")
            continue
        rows.append(ContainerMinute(container=container, team_id=container.app.team_id, host=host, at=at,
                                    **figures))
    return rows


def record_stats_minute(host_name: str, minute, containers) -> int:
    """Store one minute of a host's containers; returns how many rows were written.

    A second delivery of the same (container, minute) replaces the first (an upsert),
    so a redelivered task doubles nothing. Bad entries are logged and skipped alone.
    """
    host = Host.objects.filter(name=host_name).first() if isinstance(host_name, str) else None
    at = _valid_minute(minute)
    if host is None or at is None or not isinstance(containers, dict):
        log.warning("stats minute ignored: host %r, minute %r, %s containers", host_name, minute,
                    type(containers).__name__)
        return 0
    rows = _minute_rows(host, at, containers)
    ContainerMinute.objects.bulk_create(rows, update_conflicts=True, unique_fields=["container", "at"],
                                        update_fields=list(CONTAINER_FIGURES))
    return len(rows)


# --- hosts: heartbeats folded into minutes -----------------------------------------

def _beat_time(info: dict) -> datetime:
    """The heartbeat's own time when it is plausible: a heartbeat that waited in the
    queue during a control worker outage belongs to the minute it was sent in."""
    sent = _number(info.get("time"))
    now = timezone.now()
    if sent is not None and abs(sent - now.timestamp()) < 600:
        return _minute_start(sent)
    return _minute_start(now.timestamp())


# Averaged over the minute's heartbeats; disk and containers too, so a gap shows as a dip.
_HOST_AVERAGED = ("cpu_percent", "memory_used_bytes", "memory_bytes", "disk_free_bytes", "disk_total_bytes",
                  "load", "containers")


@transaction.atomic
def record_host_beat(host: Host, info: dict) -> HostMinute:
    """Fold one heartbeat into the host's minute as a running average."""
    row, _ = HostMinute.objects.select_for_update().get_or_create(host=host, at=_beat_time(info))
    n = row.beats
    for name in _HOST_AVERAGED:
        value = _number(info.get(name))
        if value is not None:  # an agent that does not send a figure leaves it alone
            setattr(row, name, (getattr(row, name) * n + value) / (n + 1))
    row.cpu_max = max(row.cpu_max, _number(info.get("cpu_percent")) or 0)
    row.beats = n + 1
    row.save()
    return row


# --- pruning -------------------------------------------------------------------------

def prune_history(now: datetime | None = None) -> int:
    """Delete the minutes older than ``BERTH_HISTORY_DAYS``; returns how many rows went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.BERTH_HISTORY_DAYS)
    containers, _ = ContainerMinute.objects.filter(at__lt=cutoff).delete()
    hosts, _ = HostMinute.objects.filter(at__lt=cutoff).delete()
    if containers or hosts:
        log.info("history: pruned %d container and %d host minutes before %s", containers, hosts,
                 cutoff.isoformat())
    return containers + hosts


_prune_lock = threading.Lock()
_last_prune = [-math.inf]  # monotonic time of this process's last prune


def prune_if_due() -> bool:
    """Prune at most once an hour per process: the control worker calls this on every
    heartbeat, so pruning needs no scheduler of its own."""
    with _prune_lock:
        if time.monotonic() - _last_prune[0] < PRUNE_EVERY_SECONDS:
            return False
        _last_prune[0] = time.monotonic()
    prune_history()
    return True
