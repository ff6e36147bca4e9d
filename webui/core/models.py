from django.conf import settings
from django.db import models


class AppJob(models.Model):
    """What is made from an app (a build, a container): it belongs to the app's team."""

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-id"]

    @property
    def team(self):
        return self.app.team
