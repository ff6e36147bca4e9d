"""Which host takes a build or a run.

A host qualifies when it is up and not cordoned, carries every label the app
asks for, and has the memory left for the job's limit (the limits of what it
already holds are counted, not its momentary use: a limit is a promise). Of
those, a host where a container failed to start in the last two minutes comes last;
then the one holding the fewest of the team's containers wins, then the one holding
the fewest in all: a team's containers spread over the fleet.
"""
from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone

from webui.core.errors import UserError
from workers import contracts

from .models import Host

FAILING_SECONDS = 120


def matches(host: Host, wanted: dict) -> bool:
    return all(str(host.labels.get(key)) == str(value) for key, value in wanted.items())


def _eligible(only: Host | None, exclude: Host | None):
    hosts = Host.objects.up()
    if only is not None:
        hosts = hosts.filter(id=only.id)
    if exclude is not None:
        hosts = hosts.exclude(id=exclude.id)
    return hosts


def candidates(team, memory_mb: int, cpus: float | None, labels: dict, only: Host | None = None,
               exclude: Host | None = None) -> list[Host]:
    """Hosts that can take a job of these limits, best first."""
    holding = Q(container_set__status__in=contracts.C_HOLDING)
    # A container that could not start holds nothing, so a host that fails every start would
    # look the emptiest and draw all the work: one that failed lately comes last.
    failing = Q(container_set__status=contracts.C_FAILED,
                container_set__finished__gte=timezone.now() - timedelta(seconds=FAILING_SECONDS))
    hosts = (_eligible(only, exclude)
             .annotate(committed_mb=Sum("container_set__memory_mb", filter=holding, default=0),
                       held=Count("container_set", filter=holding),
                       team_held=Count("container_set", filter=holding & Q(container_set__app__team=team)),
                       failed_lately=Count("container_set", filter=failing)))
    fitting = [h for h in hosts
               if matches(h, labels)
               and h.committed_mb + memory_mb <= h.memory_bytes // (1024 * 1024)
               and (cpus or 0) <= max(h.cpus, 1)]
    return sorted(fitting, key=lambda h: (h.failed_lately > 0, h.team_held, h.held, h.name))


def place(team, memory_mb: int, cpus: float | None, labels: dict, only: Host | None = None,
          exclude: Host | None = None) -> Host:
    """The best host, or a UserError saying why none qualifies. ``only``: the one host that
    has what the job needs (its image, without a shared registry); ``exclude``: a host the
    job is moving away from."""
    found = candidates(team, memory_mb, cpus, labels, only, exclude)
    if found:
        return found[0]
    raise UserError(_why_none(memory_mb, cpus, labels, only, exclude))


def _why_none(memory_mb: int, cpus: float | None, labels: dict, only: Host | None, exclude: Host | None) -> str:
    up = list(_eligible(only, exclude))
    where = f"host {only.name}" if only else "no host"
    if not up:
        if only:
            return (f"The image is only on host {only.name}, which is down or cordoned, and the hosts share "
                    "no registry: build it again, or wait for the host.")
        return "No host is up to take it: ask an admin to start or uncordon a host agent."
    if labels and not any(matches(h, labels) for h in up):
        wanted = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
        return f"No host that is up carries the labels the app asks for ({wanted})."
    if cpus and all(cpus > max(h.cpus, 1) for h in up):
        return f"{cpus:g} CPUs is more than any host has (the largest has {max(h.cpus for h in up)})."
    return (f"{where.capitalize() if only else 'No host'} has {memory_mb} MB of memory left for it: "
            "the memory limits of the containers already running fill "
            f"{'it' if only else 'every host'}. Stop some, or ask an admin for another host.")
