"""``record``: the one way an action writes the audit log, and the queries its pages share."""
from __future__ import annotations

import json

from django.db.models import QuerySet

from .models import AuditEntry


def record(user, team, action: str, obj, **details) -> AuditEntry:
    """Note that ``user`` did ``action`` to ``obj`` (a model instance, or None) in ``team``
    (None for what belongs to no team, such as a user's API tokens). Call it once the action
    has succeeded; ``details`` are whatever tells the action apart (a signal, a role)."""
    actor = user if user is not None and user.is_authenticated else None
    return AuditEntry.objects.create(
        user=actor, username=actor.get_username() if actor else "",
        team=team, team_name=team.name if team is not None else "", action=action,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_name=str(obj)[:200] if obj is not None else "", details=_plain(details))


def _plain(details: dict) -> dict:
    """JSON the database can keep: a model instance or a path is kept as its text."""
    return json.loads(json.dumps(details, default=str))


def entries(team=None, action: str = "") -> QuerySet:
    """Newest first: the team's entries (None: the whole fleet's), of one action if given."""
    found = AuditEntry.objects.select_related("team")
    if team is not None:
        found = found.filter(team=team)
    if action:
        found = found.filter(action=action)
    return found


def actions_in(team=None) -> list[str]:
    """The actions the log holds (of the team), for the filter's choices."""
    found = AuditEntry.objects.all() if team is None else AuditEntry.objects.filter(team=team)
    return sorted(found.order_by().values_list("action", flat=True).distinct())
