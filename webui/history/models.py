"""One row a minute per container and per host: the history kept after the live streams
(15 minutes) have moved on, and after a container is removed."""
from django.db import models

# The figures of a container's minute, as the agent sends them (workers/agent/history.py).
CONTAINER_FIGURES = ("samples", "cpu", "cpu_max", "mem", "mem_max", "mem_limit", "pids", "net_rx", "net_tx",
                     "io_read", "io_write", "throttled_periods", "throttled_ms", "oom_kills")
# The figures of a host's minute, averaged over its heartbeats (disk free and containers too).
HOST_FIGURES = ("cpu_percent", "cpu_max", "memory_used_bytes", "memory_bytes", "disk_free_bytes",
                "disk_total_bytes", "load", "containers")


class ContainerMinute(models.Model):
    # The container may be deleted with its app; its team's and host's history stays.
    container = models.ForeignKey("containers.Container", on_delete=models.SET_NULL, null=True,
                                  related_name="minutes")
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="+")
    host = models.ForeignKey("hosts.Host", on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(help_text="Start of the UTC minute.")
    samples = models.FloatField(default=0)
    cpu = models.FloatField(default=0, help_text="Average % of one core.")
    cpu_max = models.FloatField(default=0)
    mem = models.FloatField(default=0, help_text="Average working set, bytes.")
    mem_max = models.FloatField(default=0)
    mem_limit = models.FloatField(default=0)
    pids = models.FloatField(default=0)
    net_rx = models.FloatField(default=0, help_text="Average bytes/s.")
    net_tx = models.FloatField(default=0)
    io_read = models.FloatField(default=0)
    io_write = models.FloatField(default=0)
    throttled_periods = models.FloatField(default=0, help_text="Sum over the minute.")
    throttled_ms = models.FloatField(default=0)
    oom_kills = models.FloatField(default=0, help_text="The container's running total.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["container", "at"], name="one_minute_per_container")]
        indexes = [models.Index(fields=["team", "at"]), models.Index(fields=["host", "at"]),
                   models.Index(fields=["at"])]


class HostMinute(models.Model):
    host = models.ForeignKey("hosts.Host", on_delete=models.CASCADE, related_name="minutes")
    at = models.DateTimeField(help_text="Start of the UTC minute.")
    beats = models.PositiveIntegerField(default=0, help_text="Heartbeats averaged into this row.")
    cpu_percent = models.FloatField(default=0, help_text="Average CPU use of the whole host, %.")
    cpu_max = models.FloatField(default=0)
    memory_used_bytes = models.FloatField(default=0)
    memory_bytes = models.FloatField(default=0)
    disk_free_bytes = models.FloatField(default=0)
    disk_total_bytes = models.FloatField(default=0)
    load = models.FloatField(default=0)
    containers = models.FloatField(default=0, help_text="Running containers, averaged.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["host", "at"], name="one_minute_per_host")]
        indexes = [models.Index(fields=["at"])]
