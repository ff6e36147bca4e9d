"""A team's members: owners (and admins) change roles and remove members; anyone may leave.
A team always keeps an owner, so someone can still invite and change roles."""
from __future__ import annotations

from django.db import transaction

from webui.accounts.models import Membership
from webui.audit.log import record
from webui.core.errors import UserError

from .actions import a_role, check_manages, check_role


def members_of(team):
    """Owners first, then members, then viewers; by username within each."""
    order = {role: n for n, (role, _) in enumerate(Membership.ROLES)}
    memberships = list(team.memberships.select_related("user"))
    return sorted(memberships, key=lambda m: (order.get(m.role, len(order)), m.user.get_username()))


def _locked_owners(team) -> int:
    """The team's owners, counted with their rows locked, so two owners demoting each other at
    once cannot leave the team with none (SQLite's IMMEDIATE transactions serialise them anyway)."""
    return len(Membership.objects.select_for_update().filter(team=team, role=Membership.OWNER))


def _check_keeps_an_owner(membership: Membership, what: str) -> None:
    if membership.role == Membership.OWNER and _locked_owners(membership.team) == 1:
        raise UserError(f"{membership.user} is the last owner of {membership.team}: {what} would leave it with "
                        "no owner. Make another member an owner first.")


def change_role(user, membership: Membership, role: str) -> Membership:
    check_manages(user, membership.team)
    check_role(role)
    old = membership.role
    if role == old:
        raise UserError(f"{membership.user} is already {a_role(role)} of {membership.team}.")
    with transaction.atomic():
        if role != Membership.OWNER:
            _check_keeps_an_owner(membership, f"making them {a_role(role)}")
        membership.role = role
        membership.save(update_fields=["role"])
    record(user, membership.team, "member.role", membership.user, old=old, new=role)
    return membership


def remove_member(user, membership: Membership) -> None:
    """Remove ``membership``; a user may also remove themselves (leave the team)."""
    leaving = membership.user_id == user.id
    if not leaving:
        check_manages(user, membership.team)
    with transaction.atomic():
        _check_keeps_an_owner(membership, "leaving" if leaving else "removing them")
        membership.delete()
    record(user, membership.team, "member.leave" if leaving else "member.remove", membership.user,
           role=membership.role)
