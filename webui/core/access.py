"""The one place that decides who may see what: members of an object's team."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404

from webui.accounts.models import Membership, Team

WRITE_ROLES = (Membership.OWNER, Membership.MEMBER)


def teams_of(user):
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user)


def writable_teams_of(user):
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user, memberships__role__in=WRITE_ROLES)


def visible(queryset, user, team_path: str):
    """Filter ``queryset`` to the objects whose team (reached by ``team_path``) has ``user``."""
    return queryset.filter(**{f"{team_path}__in": teams_of(user)})


def get_visible_or_404(queryset, user, team_path: str, **lookup):
    """404, not 403, for other teams' objects: their existence is not revealed."""
    return get_object_or_404(visible(queryset, user, team_path), **lookup)


def can_write(user, team) -> bool:
    return writable_teams_of(user).filter(pk=team.pk).exists()


def team_of_user(user, team_id):
    """The team with this ID (as a form or an API body gives it) if ``user`` is in it, else None."""
    text = str(team_id)  # isdigit alone is true of "²", which no ID lookup takes
    return teams_of(user).filter(id=team_id).first() if text.isascii() and text.isdigit() else None


def teams_seen_by(user):
    """Teams whose members page ``user`` may read: their own, and every team for admins."""
    if user.is_authenticated and user.is_staff:
        return Team.objects.all()
    return teams_of(user)


def managed_teams_of(user):
    """Teams where ``user`` invites, changes roles and reads the audit log: those they own;
    every team for admins."""
    if not user.is_authenticated:
        return Team.objects.none()
    if user.is_staff:
        return Team.objects.all()
    return Team.objects.filter(memberships__user=user, memberships__role=Membership.OWNER)


def can_manage(user, team) -> bool:
    return managed_teams_of(user).filter(pk=team.pk).exists()


def still_active(user) -> bool:
    """Is the account (seen when a socket opened) still there and active? Checked again later."""
    return get_user_model().objects.filter(pk=user.pk, is_active=True).exists()
