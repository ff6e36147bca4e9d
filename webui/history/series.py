"""The history as the charts draw it: columns of numbers (uPlot's data shape), one
point a minute, oldest first. Team series are sums over the team's containers,
made at query time so that no second copy of the minutes is kept."""
from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Sum
from django.utils import timezone

from .models import HOST_FIGURES, ContainerMinute, HostMinute

CONTAINER_SERIES = ("cpu", "cpu_max", "mem", "mem_max", "mem_limit", "pids", "net_rx", "net_tx", "io_read",
                    "io_write", "throttled_ms", "oom_kills")
TEAM_SERIES = ("cpu", "mem", "mem_limit", "pids", "net_rx", "net_tx", "io_read", "io_write", "throttled_ms")


def _columns(rows, names) -> dict[str, list]:
    columns: dict[str, list] = {"t": []}
    columns.update({name: [] for name in names})
    for row in rows:
        columns["t"].append(int(row["at"].timestamp()))
        for name in names:
            columns[name].append(round(row[name], 2))
    return columns


def _since(hours: int):
    return timezone.now() - timedelta(hours=hours)


def container_series(container, hours: int = 24) -> dict[str, list]:
    rows = (ContainerMinute.objects.filter(container=container, at__gte=_since(hours))
            .order_by("at").values("at", *CONTAINER_SERIES))
    return _columns(rows, CONTAINER_SERIES)


def host_series(host, hours: int = 24) -> dict[str, list]:
    rows = HostMinute.objects.filter(host=host, at__gte=_since(hours)).order_by("at").values("at", *HOST_FIGURES)
    return _columns(rows, HOST_FIGURES)


def team_series(team, hours: int = 24) -> dict[str, list]:
    rows = (ContainerMinute.objects.filter(team=team, at__gte=_since(hours)).values("at")
            .annotate(containers=Count("id"), **{name: Sum(name) for name in TEAM_SERIES}).order_by("at"))
    return _columns(rows, TEAM_SERIES + ("containers",))
