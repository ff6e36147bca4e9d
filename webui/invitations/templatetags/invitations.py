"""The nav's count of invitations waiting for an answer, and a team page's owner-only links."""
from django import template

from webui.core.access import can_manage

from ..models import Invitation

register = template.Library()


@register.simple_tag
def pending_invitations(user) -> int:
    """``{% pending_invitations user as n %}``"""
    if not user.is_authenticated:
        return 0
    return Invitation.objects.filter(user=user, status=Invitation.PENDING).count()


@register.simple_tag
def manages_team(user, team) -> bool:
    """``{% manages_team user team as manages %}``: may ``user`` invite and read the team's audit log?"""
    return can_manage(user, team)
