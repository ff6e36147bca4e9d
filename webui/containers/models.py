import uuid

from django.db import models

from webui.core.models import AppJob
from workers import contracts


def _runtime_id() -> str:
    return uuid.uuid4().hex


class Container(AppJob):
    STATES = [(s, s) for s in contracts.CONTAINER_STATES]

    app = models.ForeignKey("images.App", on_delete=models.CASCADE, related_name="containers")
    build = models.ForeignKey("images.Build", on_delete=models.CASCADE, related_name="containers")
    host = models.ForeignKey("hosts.Host", on_delete=models.PROTECT, related_name="container_set")
    runtime_id = models.CharField(max_length=64, unique=True, default=_runtime_id)
    status = models.CharField(max_length=20, choices=STATES, default=contracts.C_PENDING)
    ports = models.JSONField(default=list)
    volumes = models.JSONField(default=list, blank=True, help_text="The app's mounts it started with.")
    env = models.JSONField(default=list, blank=True, help_text='Its environment, "KEY=value" each.')
    pids_limit = models.PositiveIntegerField(null=True, blank=True)
    network_mode = models.CharField(max_length=10, default="bridge")
    replaces = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                 help_text="The lost container this one restarted elsewhere (restart always).")
    memory_mb = models.PositiveIntegerField()
    cpus = models.FloatField(null=True, blank=True)
    ip = models.CharField(max_length=45, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    oom_killed = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    restart_policy = models.CharField(max_length=24, default="no")
    restart_count = models.PositiveIntegerField(default=0, help_text="Restarts made by the restart policy.")

    def __str__(self):
        return self.name

    @property
    def name(self) -> str:
        return f"{self.app.name}-{self.id}"

    @property
    def exit_description(self) -> str:
        return describe_exit(self.exit_code, self.oom_killed)


# Exit codes above 128 mean "killed by signal (code - 128)", as shells report them.
_SIGNALS = {9: "SIGKILL", 15: "SIGTERM", 2: "SIGINT", 6: "SIGABRT", 11: "SIGSEGV"}


def describe_exit(code: int | None, oom_killed: bool) -> str:
    if code is None:
        return ""
    if oom_killed:
        return f"{code} (killed: out of memory)"
    if code > 128 and code - 128 in _SIGNALS:
        return f"{code} (ended by {_SIGNALS[code - 128]})"
    return str(code)
