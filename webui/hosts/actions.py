"""Writes on hosts: joining, heartbeats, going down, and what admins do (cordon, drain, labels, remove)."""
from __future__ import annotations

import functools
import logging
import re

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webui.containers import fleet
from webui.containers.listing import fleet_row
from webui.audit.log import record
from webui.containers.models import Container
from webui.core import live
from webui.core.errors import UserError
from webui.history.actions import prune_if_due, record_host_beat
from workers import contracts, streams

from .models import Host, JoinToken

log = logging.getLogger(__name__)


@functools.cache
def _redis() -> redis.Redis:
    """One client (and pool) per process: the host watch asks every second."""
    return redis.Redis.from_url(settings.REDIS_URL)


def _refuse(name: str, reason: str) -> None:
    """The agent cannot be answered through Celery: it reads why from Redis and logs it."""
    log.warning("heartbeat of host %s refused: %s", name, reason)
    _redis().set(streams.join_refusal(name), reason, ex=streams.JOIN_REFUSAL_TTL)


def record_heartbeat(info: dict) -> Host | None:
    """A known host's beat updates its figures; an unknown (or removed) one joins only with
    a join token an admin made and has not revoked."""
    name = info["name"]
    host = Host.objects.filter(name=name).first()
    token = None
    if host is None or host.removed:
        token = JoinToken.valid(info.get("join_token", ""))
        if token is None:
            _refuse(name, "no valid join token: an admin makes one on the Hosts page (BERTH_JOIN_TOKEN)")
            return None
    figures = {
        "cpus": info.get("cpus", 0), "memory_bytes": info.get("memory_bytes", 0),
        "memory_used_bytes": info.get("memory_used_bytes", 0),
        "disk_free_bytes": info.get("disk_free_bytes", 0), "disk_total_bytes": info.get("disk_total_bytes", 0),
        "load": info.get("load", 0), "cpu_percent": info.get("cpu_percent", 0),
        "containers": info.get("containers", 0), "agent_version": info.get("version", ""),
        "last_seen": timezone.now(),
    }
    if host is not None and host.down_since and _redis().exists(streams.host_alive(name)):
        # Back. (A beat sent before the outage, that waited in the queue, finds no alive key.)
        figures["down_since"] = None
    if token is not None:
        figures.update(join_token=token, removed=None)
        _redis().delete(streams.join_refusal(name))  # an earlier refusal is not this agent's news
    with transaction.atomic():
        host, _ = Host.objects.update_or_create(name=name, defaults=figures)
        if "states" in info and host.down_since is None:
            fleet.found_again(host, info["states"])
    record_host_beat(host, info)
    _tell_pages(host)
    prune_if_due()  # heartbeats arrive every few seconds from every host: the history's clock
    return host


def _tell_pages(host: Host) -> None:
    live.changed("host", host.id)
    live.notify("fleet", 0, {"host": fleet_row(host)})


def mark_down_hosts() -> list[Host]:
    """Hosts whose alive key expired (no heartbeat for streams.HOST_ALIVE_SECONDS): marked
    down once, their containers lost (and those that must always run started elsewhere).
    Called every second by the control worker."""
    hosts = list(Host.objects.filter(down_since=None, removed=None))
    if not hosts:
        return []
    client = _redis()
    alive = client.pipeline(transaction=False)
    for host in hosts:
        alive.exists(streams.host_alive(host.name))
    down = []
    for host, is_alive in zip(hosts, alive.execute()):
        if is_alive:
            continue
        with transaction.atomic():
            if not Host.objects.filter(id=host.id, down_since=None).update(down_since=timezone.now()):
                continue  # another control worker got there first
            reason = (f"Host {host.name} stopped sending heartbeats (the last at "
                      f"{timezone.localtime(host.last_seen):%H:%M:%S}): its containers are lost until it is back.")
            fleet.lose_containers(host, reason)
            _fail_builds(host)
        host.refresh_from_db()
        _tell_pages(host)
        down.append(host)
    return down


def _fail_builds(host: Host) -> None:
    from webui.images.actions import record_build_event
    from webui.images.models import Build
    for build in Build.objects.filter(host=host, status__in=(contracts.BUILD_QUEUED, contracts.BUILD_RUNNING)):
        record_build_event(build.id, {"status": contracts.BUILD_FAILED, "error": contracts.error(
            "host_down", f"Host {host.name} stopped answering during the build: build again.")})


def set_cordoned(user, host: Host, cordoned: bool) -> None:
    Host.objects.filter(id=host.id).update(cordoned=cordoned)
    record(user, None, "host.cordon" if cordoned else "host.uncordon", host)


def drain_host(user, host: Host) -> tuple[int, int]:
    """Cordon the host, then move its containers that must keep running and stop the rest."""
    with transaction.atomic():
        Host.objects.filter(id=host.id).update(cordoned=True)
        moved, stopped = fleet.drain(host)
        record(user, None, "host.drain", host, moved=moved, stopped=stopped)
    return moved, stopped


def remove_host(user, host: Host) -> None:
    """Forget a host: refused while it holds containers. Its agent, if it runs on, must join again."""
    held = Container.objects.filter(host=host).exclude(status__in=(contracts.C_REMOVED, contracts.C_FAILED)).count()
    if held:
        raise UserError(f"Host {host.name} still has {held} container(s): drain it and remove them first.")
    Host.objects.filter(id=host.id).update(removed=timezone.now(), cordoned=False)
    record(user, None, "host.remove", host)


_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def parse_labels(text: str) -> dict:
    """``key=value`` per line (blank lines ignored) into a dict, with an error naming the bad line."""
    labels = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        key, eq, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not _LABEL.match(key) or not _LABEL.match(value):
            raise UserError(f"Line {number} “{line}” is not a label: write key=value, letters, digits, . _ - "
                            "(up to 63 each).")
        if key in labels:
            raise UserError(f"Line {number}: the label {key} is given twice.")
        labels[key] = value
    return labels


def set_labels(user, host: Host, labels: dict) -> None:
    Host.objects.filter(id=host.id).update(labels=labels)
    record(user, None, "host.labels", host, labels=labels)


def create_join_token(user, name: str) -> str:
    name = name.strip()
    if not name:
        raise UserError("Give the join token a name that says what it is for, e.g. 'rack 2 hosts'.")
    token, secret = JoinToken.issue(name[:100], user)
    record(user, None, "join_token.create", token)
    return secret


def revoke_join_token(user, token: JoinToken) -> None:
    if JoinToken.objects.filter(id=token.id, revoked=None).update(revoked=timezone.now()):
        record(user, None, "join_token.revoke", token)

