import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class HostQuerySet(models.QuerySet):
    def up(self):
        """Hosts that take new work: up (the control's host watch marks them down), not cordoned."""
        return self.filter(down_since=None, cordoned=False, removed=None)


class Host(models.Model):
    """A worker host, as its agent's heartbeats describe it."""

    name = models.CharField(max_length=200, unique=True)
    cpus = models.PositiveIntegerField(default=0)
    memory_bytes = models.BigIntegerField(default=0)
    memory_used_bytes = models.BigIntegerField(default=0, help_text="Total minus available, as free(1) shows it.")
    disk_free_bytes = models.BigIntegerField(default=0)
    disk_total_bytes = models.BigIntegerField(default=0, help_text="Of the filesystem holding the agent's state.")
    load = models.FloatField(default=0)
    cpu_percent = models.FloatField(default=0)
    containers = models.PositiveIntegerField(default=0, help_text="Running containers, as the agent counts them.")
    agent_version = models.CharField(max_length=40, blank=True)
    cordoned = models.BooleanField(default=False, help_text="A cordoned host gets no new work.")
    labels = models.JSONField(default=dict, blank=True, help_text='What apps can ask for, e.g. {"disk": "ssd"}.')
    join_token = models.ForeignKey("JoinToken", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="hosts", help_text="The token it joined with.")
    down_since = models.DateTimeField(null=True, blank=True,
                                      help_text="When its heartbeats were found missing; empty while up.")
    removed = models.DateTimeField(null=True, blank=True,
                                   help_text="Removed by an admin: gets no work and is not listed until it joins again.")
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(default=timezone.now)

    objects = HostQuerySet.as_manager()

    def __str__(self):
        return self.name

    @property
    def is_up(self) -> bool:
        return self.down_since is None and self.removed is None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class JoinToken(models.Model):
    """Lets a host agent join the fleet. Only a digest is kept: the token is shown once, when made."""

    name = models.CharField(max_length=100, help_text="What it is for, e.g. 'rack 2 hosts'.")
    key_digest = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=16)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    created = models.DateTimeField(auto_now_add=True)
    revoked = models.DateTimeField(null=True, blank=True, help_text="Hosts cannot join with it after this.")

    def __str__(self):
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def issue(cls, name: str, user=None) -> tuple["JoinToken", str]:
        """A new token: the row, and the token to show once."""
        token = "berthjoin_" + secrets.token_urlsafe(32)
        return cls.objects.create(name=name, key_digest=token_digest(token), hint=token[:14], created_by=user), token

    @classmethod
    def valid(cls, token: str) -> "JoinToken | None":
        if not token:
            return None
        return cls.objects.filter(key_digest=token_digest(token), revoked=None).first()
