from django.utils import timezone

from webui.containers.listing import host_state
from webui.core import live
from webui.history.actions import prune_if_due, record_host_beat

from .models import Host


def record_heartbeat(info: dict) -> Host:
    host, _ = Host.objects.update_or_create(name=info["name"], defaults={
        "cpus": info.get("cpus", 0), "memory_bytes": info.get("memory_bytes", 0),
        "memory_used_bytes": info.get("memory_used_bytes", 0),
        "disk_free_bytes": info.get("disk_free_bytes", 0), "disk_total_bytes": info.get("disk_total_bytes", 0),
        "load": info.get("load", 0), "cpu_percent": info.get("cpu_percent", 0),
        "containers": info.get("containers", 0), "agent_version": info.get("version", ""),
        "last_seen": timezone.now(),
    })
    record_host_beat(host, info)
    live.notify("host", host.id, host_state(host))
    prune_if_due()  # heartbeats arrive every 5 s from every host: the history's clock
    return host


def pick_host() -> Host | None:
    """The up, uncordoned host running the fewest containers."""
    return Host.objects.up().order_by("containers", "name").first()
