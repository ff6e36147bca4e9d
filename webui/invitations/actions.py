"""Invitations: an owner (or admin) invites a user with a role; the user accepts or declines;
the owner may revoke it while it is pending. Views, the API and tests all go through these."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from webui.accounts.models import Membership
from webui.audit.log import record
from webui.core.access import can_manage, managed_teams_of
from webui.core.errors import UserError

from .models import Invitation

ROLE_NAMES = [role for role, _ in Membership.ROLES]


def a_role(role: str) -> str:
    """"an owner", "a member", "a viewer": a role as a sentence says it."""
    return f"{'an' if role[:1] in 'aeiou' else 'a'} {role}"


def check_role(role: str) -> None:
    if role not in ROLE_NAMES:
        raise UserError(f"“{role}” is not a role: use {', '.join(ROLE_NAMES[:-1])} or {ROLE_NAMES[-1]}.")


def check_manages(user, team) -> None:
    if not can_manage(user, team):
        raise UserError(f"Only the owners of {team} (and admins) can invite people and change roles.")


def find_user(who: str):
    """The active user whose username is ``who``, or whose e-mail it is (in any case)."""
    who = (who or "").strip()
    if not who:
        raise UserError("Say whom to invite: a username or an e-mail address.")
    users = get_user_model().objects.filter(is_active=True)
    found = users.filter(username=who).first()
    if found is None and "@" in who:
        matches = list(users.filter(email__iexact=who)[:2])
        if len(matches) > 1:
            raise UserError(f"Several users have the e-mail {who}: invite one of them by username.")
        found = matches[0] if matches else None
    if found is None:
        raise UserError(f"No user has the username or e-mail “{who}”.")
    return found


def invite(user, team, who: str, role: str) -> Invitation:
    check_manages(user, team)
    check_role(role)
    invitee = find_user(who)
    membership = team.memberships.filter(user=invitee).first()
    if membership is not None:
        raise UserError(f"{invitee} is already {a_role(membership.role)} of {team}: change their role on the "
                        "members page instead.")
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(team=team, user=invitee, role=role, invited_by=user)
    except IntegrityError:  # the constraint: one pending invitation per user and team
        raise UserError(f"{invitee} already has a pending invitation to {team}: revoke it first to invite "
                        "them with another role.") from None
    record(user, team, "invitation.create", invitation, invitee=invitee.get_username(), role=role)
    return invitation


def _answer(invitation: Invitation, status: str) -> Invitation:
    """Mark a pending invitation answered; refused if someone answered it meanwhile."""
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not locked.pending:
            raise UserError(f"This invitation to {invitation.team} was {locked.status} already.")
        locked.status, locked.answered = status, timezone.now()
        locked.save(update_fields=["status", "answered"])
        if status == Invitation.ACCEPTED:
            _join(locked)
    return locked


def _join(invitation: Invitation) -> None:
    membership = invitation.team.memberships.filter(user=invitation.user).first()
    if membership is not None:  # added in the admin since the invitation was made
        raise UserError(f"You are already {a_role(membership.role)} of {invitation.team}: decline this invitation, "
                        "or ask an owner to change your role.")
    Membership.objects.create(team=invitation.team, user=invitation.user, role=invitation.role)


def _check_invitee(user, invitation: Invitation) -> None:
    if invitation.user_id != user.id:
        raise UserError(f"This invitation is for {invitation.user}: only they can answer it.")


def accept(user, invitation: Invitation) -> Invitation:
    _check_invitee(user, invitation)
    invitation = _answer(invitation, Invitation.ACCEPTED)
    record(user, invitation.team, "invitation.accept", invitation, role=invitation.role)
    return invitation


def decline(user, invitation: Invitation) -> Invitation:
    _check_invitee(user, invitation)
    invitation = _answer(invitation, Invitation.DECLINED)
    record(user, invitation.team, "invitation.decline", invitation, role=invitation.role)
    return invitation


def revoke(user, invitation: Invitation) -> Invitation:
    check_manages(user, invitation.team)
    invitation = _answer(invitation, Invitation.REVOKED)
    record(user, invitation.team, "invitation.revoke", invitation, invitee=invitation.user.get_username())
    return invitation


def visible_to(user):
    """The invitations ``user`` may see: those made to them, and those to the teams they manage."""
    return Invitation.objects.filter(Q(user=user) | Q(team__in=managed_teams_of(user))) \
        .select_related("team", "user", "invited_by")


def pending_for(user):
    """The invitations waiting for ``user``'s answer, newest first."""
    return Invitation.objects.filter(user=user, status=Invitation.PENDING).select_related("team", "invited_by")


def pending_of_team(team):
    return team.invitations.filter(status=Invitation.PENDING).select_related("user", "invited_by")
