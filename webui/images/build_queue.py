"""The fair build queue: a build waits without a host until one has a free build slot.

A host runs at most BERTH_BUILD_SLOTS builds at once (the agents' own setting); its slots
are held by the builds handed to it (``dispatched``) that have not ended. Waiting builds go
out in an order fair across teams: the team holding the fewest slots goes first; among
those, the team whose last build went out longest ago (round robin); within a team, its
oldest build. So teams take turns, and one team's twenty builds do not starve another's
one. A build whose labels or memory no host with a free slot can meet now is passed over
until one can.

``dispatch`` is called whenever a slot may have freed or a build may be waiting: a build
queued, a build ended or cancelled, a host's heartbeat (a new host, or one back). It is
idempotent, and runs under a lock on the hosts' rows (on SQLite, the IMMEDIATE transaction
serialises it), so two dispatchers never hand out the same build or the same slot.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from webui.accounts import quotas
from webui.core import live
from webui.hosts import placement
from webui.hosts.models import Host
from workers import client, contracts

from .models import Build



def waiting():
    return Build.objects.filter(status=contracts.BUILD_QUEUED, dispatched=None)


def _holding_slots():
    return Build.objects.filter(status__in=contracts.BUILD_IN_FLIGHT, dispatched__isnull=False)


def build_limits(team) -> tuple[int, float]:
    """A build's memory (MB) and CPUs: the host-wide build limits, never more than the team's quota."""
    quota = quotas.quota_of(team)
    return min(settings.BERTH_BUILD_MEMORY_MB, quota.max_memory_mb), min(settings.BERTH_BUILD_CPUS, quota.max_cpus)


def fair_order(builds: list[Build], slots_held: Counter, last_served: dict[int, float]) -> list[Build]:
    """The order ``builds`` (oldest first) go out in, if each went when its turn came. By team
    ID: ``slots_held``, the builds holding a slot; ``last_served``, when its last build went
    out (a timestamp; a team never served goes before any)."""
    held, served = Counter(slots_held), dict(last_served)
    by_team: dict[int, deque[Build]] = defaultdict(deque)
    for build in builds:
        by_team[build.app.team_id].append(build)
    order = []
    turn = max(served.values(), default=0.0)
    while by_team:
        team = min(by_team, key=lambda t: (held[t], served.get(t, -math.inf), by_team[t][0].id))
        order.append(by_team[team].popleft())
        held[team] += 1
        turn += 1
        served[team] = turn  # served now: it goes behind every other team of as many slots
        if not by_team[team]:
            del by_team[team]
    return order


def queue_order() -> list[Build]:
    """The waiting builds, next first."""
    builds = list(waiting().select_related("app__team").order_by("id"))
    teams = {build.app.team_id for build in builds}
    held = Counter(_holding_slots().filter(app__team_id__in=teams).values_list("app__team_id", flat=True))
    served = {row["app__team_id"]: row["last"].timestamp() for row in
              Build.objects.filter(app__team_id__in=teams, dispatched__isnull=False)
              .values("app__team_id").annotate(last=Max("dispatched"))}
    return fair_order(builds, held, served)


def dispatch(queue_changed: bool = False) -> list[Build]:
    """Hand waiting builds to hosts with a free slot, in the fair order; the builds handed
    out. ``queue_changed``: the caller queued or ended a build, so every waiting build's
    position is told to its page even if nothing goes out."""
    if not waiting().exists():
        return []  # the heartbeats' common case: no write, no lock
    with transaction.atomic():
        hosts = {host.id: host for host in Host.objects.select_for_update().order_by("id")}
        taken = Counter(_holding_slots().values_list("host_id", flat=True))
        free = {host_id: settings.BERTH_BUILD_SLOTS - taken[host_id] for host_id in hosts}
        handed = []
        for build in queue_order():
            if not any(n > 0 for n in free.values()):
                break
            host = _host_with_slot(build, free)
            if host is None:
                continue
            now = timezone.now()
            if not waiting().filter(id=build.id).update(host=host, dispatched=now):
                continue  # cancelled meanwhile
            build.host, build.dispatched = host, now
            free[host.id] -= 1
            handed.append(build)
            transaction.on_commit(partial(_send, build, _job(build)))
        if handed or queue_changed:
            tell_positions(handed)
    return handed


def _host_with_slot(build: Build, free: dict[int, int]) -> Host | None:
    memory_mb, cpus = build_limits(build.app.team)
    for host in placement.candidates(build.app.team, memory_mb, cpus, build.app.host_labels):
        if free.get(host.id, 0) > 0:
            return host
    return None


def _job(build: Build) -> dict:
    app = build.app
    memory_mb, cpus = build_limits(app.team)
    return contracts.build_job(build.id, app.dockerfile, app.image_name, memory_mb * 1024 * 1024, cpus,
                               bool(app.context), settings.BERTH_BUILD_TIMEOUT_SECONDS, build.build_args,
                               build.target, build.no_cache)


def _send(build: Build, job: dict) -> None:
    # The context goes to Redis only now: a build may wait longer than the context's hour there.
    if build.app.context:
        with build.app.context.open("rb") as f:
            client.put_context(build.id, f.read())
    client.queue_build(build.host.name, job)


def position(build: Build, order: list[Build] | None = None) -> tuple[int, int] | None:
    """(N, M): the build is N-th of the M builds waiting; None once a host has it."""
    if build.status != contracts.BUILD_QUEUED or build.dispatched is not None:
        return None
    order = queue_order() if order is None else order
    ids = [b.id for b in order]
    return (ids.index(build.id) + 1, len(ids)) if build.id in ids else None


def queue_text(build: Build, order: list[Build] | None = None) -> str:
    """What the build page says of its place in the queue."""
    if build.status != contracts.BUILD_QUEUED:
        return ""
    if build.dispatched is not None:
        return f"queued: handed to {build.host}, starting"
    place = position(build, order)
    return f"queued: position {place[0]} of {place[1]}" if place else "queued"


def page_state(build: Build, order: list[Build] | None = None) -> dict:
    """What the build page shows live: its status, error, place in the queue, and a succeeded
    build's note that the team's images are at their storage quota."""
    notice = quotas.storage_notice(build.app.team) if build.status == contracts.BUILD_SUCCEEDED else ""
    return {"status": build.status, "error": build.error, "queue": queue_text(build, order), "notice": notice}


def tell_positions(handed: list[Build] = ()) -> None:
    """Every waiting build's page gets its new place; those just handed out, their host."""
    order = queue_order()
    for build in [*order, *handed]:
        live.notify("build", build.id, page_state(build, order))
