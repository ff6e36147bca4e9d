from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from webui.core.models import AppJob
from workers import contracts


class App(models.Model):
    """What a user uploads: a Dockerfile, an optional context, and how to run the result."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="apps")
    name = models.CharField(max_length=60)
    dockerfile = models.TextField()
    context = models.FileField(upload_to="contexts/", blank=True)
    ports = models.JSONField(default=list, help_text='Port mappings like "8080:80/tcp".')
    memory_mb = models.PositiveIntegerField(default=256)
    cpus = models.FloatField(default=1.0)
    restart_policy = models.CharField(max_length=24, default="no",
                                      help_text="no, on-failure[:N], always or unless-stopped, as Docker's.")
    pids_limit = models.PositiveIntegerField(default=1024, help_text="Processes and threads it may run at once.")
    cpuset_cpus = models.CharField(max_length=64, blank=True, help_text="CPUs it may run on, e.g. 0-1; empty: all.")
    network_in_mb = models.FloatField(null=True, blank=True, help_text="MB/s it may receive; empty: no limit.")
    network_out_mb = models.FloatField(null=True, blank=True, help_text="MB/s it may send; empty: no limit.")
    volumes = models.JSONField(default=list, blank=True,
                               help_text='Mounts like "data:/data", "data:/data:ro" or "/srv/site:/www" (admins).')
    env = models.JSONField(default=list, blank=True, help_text='Environment variables like "KEY=value".')
    network_mode = models.CharField(max_length=10, default="bridge",
                                    help_text="bridge (its team's network), none, or host (admins only).")
    host_labels = models.JSONField(default=dict, blank=True,
                                   help_text='Labels a host must carry to build or run it, e.g. {"disk": "ssd"}.')
    # Set by admins only (in the admin): a chatty app's log may need more room than the host's default.
    log_size_max_mb = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="MB its containers' log files hold before conmon starts them again; empty: the host's.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="app_name_unique_in_team")]
        ordering = ["-created"]

    def __str__(self):
        return self.name

    @property
    def context_filename(self) -> str:
        return self.context.name.rsplit("/", 1)[-1] if self.context else ""

    @property
    def image_name(self) -> str:
        # Team IDs keep two teams' apps of the same name apart in a host's store.
        return f"team{self.team_id}/{self.name}:latest"

    def last_good_build(self):
        return self.builds.filter(status=contracts.BUILD_SUCCEEDED, image_removed=False).order_by("-id").first()


class Build(AppJob):
    STATES = [(s, s) for s in contracts.BUILD_STATES]

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="builds")
    host = models.ForeignKey("hosts.Host", on_delete=models.SET_NULL, null=True, blank=True)
    status = models.CharField(max_length=20, choices=STATES, default=contracts.BUILD_QUEUED)
    image = models.CharField(max_length=200, blank=True)
    image_id = models.CharField(max_length=80, blank=True)
    error = models.TextField(blank=True)
    log = models.TextField(blank=True, help_text="The whole build output, kept when the build ends.")
    seconds = models.FloatField(null=True, blank=True)
    build_args = models.JSONField(default=dict, blank=True, help_text="--build-arg values, by name.")
    target = models.CharField(max_length=100, blank=True, help_text="The stage to stop at (--target).")
    no_cache = models.BooleanField(default=False)
    registry_ref = models.CharField(max_length=300, blank=True,
                                    help_text="Where its host pushed the image for other hosts, by digest.")
    dispatched = models.DateTimeField(null=True, blank=True,
                                      help_text="When the fair queue handed it to a host; empty while it waits.")
    # The image as its host's store describes it (set when the build succeeds).
    image_size = models.BigIntegerField(null=True, blank=True)
    image_layers = models.JSONField(default=list, blank=True, help_text="[digest, size] per layer, bottom first.")
    image_history = models.JSONField(default=list, blank=True)
    image_removed = models.BooleanField(default=False, help_text="Removed from its host's store.")
    image_error = models.TextField(blank=True, help_text="Why the last removal was refused.")

    def __str__(self):
        return f"build {self.id} of {self.app}"

    @property
    def done(self) -> bool:
        return self.status in (contracts.BUILD_SUCCEEDED, contracts.BUILD_FAILED)
