"""Pages: the invitations waiting for you, and a team's members (with invitations, for owners)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from webui.accounts.models import Membership
from webui.core.access import can_manage, teams_seen_by
from webui.core.errors import UserError

from . import actions, members
from .forms import InviteForm
from .models import Invitation


def _team(request, team_id):
    return get_object_or_404(teams_seen_by(request.user), id=team_id)  # 404 for other teams


@login_required
def invitation_list(request):
    return render(request, "invitations/invitation_list.html",
                  {"invitations": actions.pending_for(request.user)})


def _answerable(request, invitation_id) -> Invitation:
    """One the user may see: their own, or one to a team they manage; 404 for any other."""
    return get_object_or_404(actions.visible_to(request.user), id=invitation_id)


def _answer(request, invitation_id, answer, done: str) -> tuple[Invitation, bool]:
    """Run ``answer`` on the invitation; it, and whether it was done (else the page says why)."""
    invitation = _answerable(request, invitation_id)
    try:
        answer(request.user, invitation)
    except UserError as exc:
        messages.error(request, str(exc))
        return invitation, False
    messages.success(request, done.format(team=invitation.team, role=invitation.role, user=invitation.user))
    return invitation, True


@login_required
@require_POST
def invitation_accept(request, invitation_id):
    invitation, joined = _answer(request, invitation_id, actions.accept, "You joined {team} as {role}.")
    return redirect("team", team_id=invitation.team_id) if joined else redirect("invitations")


@login_required
@require_POST
def invitation_decline(request, invitation_id):
    _answer(request, invitation_id, actions.decline, "You declined to join {team}.")
    return redirect("invitations")


@login_required
@require_POST
def invitation_revoke(request, invitation_id):
    invitation, _ = _answer(request, invitation_id, actions.revoke, "The invitation of {user} is revoked.")
    if can_manage(request.user, invitation.team):
        return redirect("team_members", team_id=invitation.team_id)
    return redirect("invitations")  # the invitee's own: they decline it instead


@login_required
def team_members(request, team_id):
    """Everyone in the team sees its members; owners and admins also invite here (the POST)."""
    team = _team(request, team_id)
    manages = can_manage(request.user, team)
    form = InviteForm(request.POST or None)
    if request.method == "POST":
        if not manages:
            messages.error(request, f"Only the owners of {team} (and admins) can invite people.")
            return redirect("team_members", team_id=team.id)
        if form.is_valid():
            try:
                invitation = actions.invite(request.user, team, form.cleaned_data["who"], form.cleaned_data["role"])
            except UserError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Invited {invitation.user} as {invitation.role}: they see the "
                                          "invitation when they log in.")
                return redirect("team_members", team_id=team.id)
    return render(request, "invitations/team_members.html", {
        "team": team, "members": members.members_of(team), "manages": manages, "form": form,
        "roles": Membership.ROLES,
        "invitations": actions.pending_of_team(team) if manages else [],
        "in_team": team.memberships.filter(user=request.user).exists()},
        status=400 if form.errors else 200)


def _membership(request, team_id, user_id):
    team = _team(request, team_id)
    return get_object_or_404(team.memberships.select_related("user", "team"), user_id=user_id)


@login_required
@require_POST
def member_role(request, team_id, user_id):
    membership = _membership(request, team_id, user_id)
    try:
        members.change_role(request.user, membership, request.POST.get("role", ""))
    except UserError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{membership.user} is now {actions.a_role(membership.role)} of {membership.team}.")
    return redirect("team_members", team_id=team_id)


@login_required
@require_POST
def member_remove(request, team_id, user_id):
    membership = _membership(request, team_id, user_id)
    try:
        members.remove_member(request.user, membership)
    except UserError as exc:
        messages.error(request, str(exc))
        return redirect("team_members", team_id=team_id)
    if membership.user_id == request.user.id:
        messages.success(request, f"You left {membership.team}.")
        return redirect("teams")
    messages.success(request, f"{membership.user} is no longer in {membership.team}.")
    return redirect("team_members", team_id=team_id)
