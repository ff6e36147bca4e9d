import uuid

from django.conf import settings
from django.db import models

from workers import contracts


def _runtime_id() -> str:
    return uuid.uuid4().hex


class Container(models.Model):
    STATES = [(s, s) for s in contracts.CONTAINER_STATES]

    app = models.ForeignKey("images.App", on_delete=models.CASCADE, related_name="containers")
    build = models.ForeignKey("images.Build", on_delete=models.PROTECT, related_name="containers")
    host = models.ForeignKey("hosts.Host", on_delete=models.PROTECT, related_name="container_set")
    runtime_id = models.CharField(max_length=64, unique=True, default=_runtime_id)
    status = models.CharField(max_length=20, choices=STATES, default=contracts.C_PENDING)
    ports = models.JSONField(default=list)
    memory_mb = models.PositiveIntegerField()
    cpus = models.FloatField(null=True, blank=True)
    ip = models.CharField(max_length=45, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    oom_killed = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.app.name}-{self.id}"

    @property
    def team(self):
        return self.app.team

    @property
    def name(self) -> str:
        return f"{self.app.name}-{self.id}"

    @property
    def holds_resources(self) -> bool:
        """Counts against the quota: starting or running."""
        return self.status in (contracts.C_PENDING, contracts.C_RUNNING)

    @property
    def published_host_ports(self) -> list[int]:
        return [int(p.split(":")[0]) for p in self.ports]
