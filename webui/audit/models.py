"""Who did what to which object: one row per write a user made, kept when the object is gone."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    when = models.DateTimeField(default=timezone.now)
    # The names are kept beside the keys, so an entry still says who and where once the user
    # or the team is deleted.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+")
    username = models.CharField(max_length=150, blank=True, help_text="Empty: Berth itself, not a user.")
    team = models.ForeignKey("accounts.Team", on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="audit_entries")
    team_name = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=40, help_text="What was done, e.g. container.stop.")
    object_type = models.CharField(max_length=40, blank=True, help_text="The model's name, e.g. container.")
    object_id = models.CharField(max_length=64, blank=True)
    object_name = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-when", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["team", "-when"], name="audit_team_newest"),
                   models.Index(fields=["action", "-when"], name="audit_action_newest"),
                   models.Index(fields=["-when"], name="audit_newest")]

    def __str__(self):
        return f"{self.username or 'Berth'} {self.action} {self.object_type} {self.object_name}"
