"""``{% pending_invitations user as n %}``: the nav's count of invitations waiting for an answer."""
from django import template

from ..models import Invitation

register = template.Library()


@register.simple_tag
def pending_invitations(user) -> int:
    if not user.is_authenticated:
        return 0
    return Invitation.objects.filter(user=user, status=Invitation.PENDING).count()
