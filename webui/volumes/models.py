from django.conf import settings
from django.db import models


class Volume(models.Model):
    """A team's named volume. Its files live on one host, made there on first use."""

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="volumes")
    name = models.CharField(max_length=64)
    host = models.ForeignKey("hosts.Host", on_delete=models.PROTECT, null=True, blank=True,
                             help_text="Where its files are; empty until a container first uses it.")
    removing = models.BooleanField(default=False, help_text="Asked of its host, not yet answered.")
    error = models.TextField(blank=True, help_text="Why the host refused the last removal.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="volume_name_unique_in_team")]
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} of {self.team}"

    @property
    def runtime_name(self) -> str:
        # Every team's volumes share one directory per host: the team ID keeps them apart.
        return runtime_name(self.team_id, self.name)


def runtime_name(team_id: int, name: str) -> str:
    return f"team{team_id}-{name}"
