from django.conf import settings
from django.db import models


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    personal = models.BooleanField(default=False, help_text="Made for one user at sign-up.")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class Membership(models.Model):
    OWNER, MEMBER, VIEWER = "owner", "member", "viewer"
    ROLES = [(OWNER, "Owner"), (MEMBER, "Member"), (VIEWER, "Viewer")]

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=ROLES, default=MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")]

    def __str__(self):
        return f"{self.user} in {self.team} ({self.role})"


def default_max_containers():
    return settings.BERTH_DEFAULT_MAX_CONTAINERS


def default_max_memory_mb():
    return settings.BERTH_DEFAULT_MAX_MEMORY_MB


def default_max_cpus():
    return settings.BERTH_DEFAULT_MAX_CPUS


def default_max_builds():
    return settings.BERTH_DEFAULT_MAX_BUILDS


def default_max_image_storage_mb():
    return settings.BERTH_DEFAULT_MAX_IMAGE_STORAGE_MB


def default_port_min():
    return settings.BERTH_PORT_MIN


def default_port_max():
    return settings.BERTH_PORT_MAX


class Quota(models.Model):
    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="quota")
    max_containers = models.PositiveIntegerField(default=default_max_containers,
                                                 help_text="Containers running (or starting) at once.")
    max_memory_mb = models.PositiveIntegerField(default=default_max_memory_mb,
                                                help_text="Total memory limit of running containers, in MB.")
    max_cpus = models.FloatField(default=default_max_cpus,
                                 help_text="Total CPU limit of running containers.")
    max_builds = models.PositiveIntegerField(default=default_max_builds,
                                             help_text="Builds queued or running at once.")
    max_image_storage_mb = models.PositiveIntegerField(default=default_max_image_storage_mb,
                                                       help_text="Total size of the team's images on the hosts, in MB.")
    port_min = models.PositiveIntegerField(default=default_port_min, help_text="Lowest host port it may publish.")
    port_max = models.PositiveIntegerField(default=default_port_max, help_text="Highest host port it may publish.")

    def __str__(self):
        return f"quota of {self.team}"
