"""An owner's (or admin's) invitation of a user into a team, with a role, until answered."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from webui.accounts.models import Membership


class Invitation(models.Model):
    PENDING, ACCEPTED, DECLINED, REVOKED = "pending", "accepted", "declined", "revoked"
    STATES = [(PENDING, "pending"), (ACCEPTED, "accepted"), (DECLINED, "declined"), (REVOKED, "revoked")]

    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations",
                             help_text="Who is invited.")
    role = models.CharField(max_length=10, choices=Membership.ROLES)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    status = models.CharField(max_length=10, choices=STATES, default=PENDING)
    created = models.DateTimeField(auto_now_add=True)
    answered = models.DateTimeField(null=True, blank=True, help_text="When it was accepted, declined or revoked.")

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [models.UniqueConstraint(fields=["team", "user"], condition=models.Q(status="pending"),
                                               name="one_pending_invitation_per_team_and_user")]

    def __str__(self):
        return f"{self.user} as {self.role}"

    @property
    def pending(self) -> bool:
        return self.status == self.PENDING
