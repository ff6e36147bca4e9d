"""What the live tables of running containers show (host and team pages), and the
state sent to their Channels groups when a heartbeat or a container event changes it."""
from __future__ import annotations

from django.urls import reverse

from webui.core import live
from workers import contracts

from .models import Container


def running_rows(queryset) -> list[dict]:
    running = queryset.filter(status=contracts.C_RUNNING).select_related("app", "app__team", "host")
    return [{"id": c.id, "name": c.name, "app": c.app.name, "team": c.app.team.name, "host": c.host.name,
             "url": reverse("container", args=[c.id]), "memory_mb": c.memory_mb, "cpus": c.cpus}
            for c in running.order_by("id")]


def host_state(host) -> dict:
    return {"host": {
        "name": host.name, "up": host.is_up, "cpus": host.cpus, "cpu_percent": host.cpu_percent,
        "memory_bytes": host.memory_bytes, "memory_used_bytes": host.memory_used_bytes,
        "disk_free_bytes": host.disk_free_bytes, "disk_total_bytes": host.disk_total_bytes,
        "load": host.load, "containers": host.containers, "last_seen": host.last_seen.isoformat(),
    }, "containers": running_rows(Container.objects.filter(host=host))}


def fleet_row(host) -> dict:
    """A host's row on the Hosts list."""
    return {"id": host.id, "name": host.name, "up": host.is_up, "cordoned": host.cordoned, "labels": host.labels,
            "cpus": host.cpus, "cpu_percent": host.cpu_percent, "memory_bytes": host.memory_bytes,
            "memory_used_bytes": host.memory_used_bytes, "disk_free_bytes": host.disk_free_bytes,
            "load": host.load, "containers": host.containers, "agent_version": host.agent_version}


def team_state(team) -> dict:
    return {"containers": running_rows(Container.objects.filter(app__team=team))}


def notify_tables(container: Container) -> None:
    """A container started or ended: the host's and the team's tables gain or lose a row."""
    live.changed("host", container.host_id)
    live.changed("team", container.app.team_id)
