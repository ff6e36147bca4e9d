"""Invitations and a team's members, on the pages: owners (and admins) invite with a role, the
invitee accepts or declines, owners change roles and remove members, a team keeps an owner."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from webui.accounts.models import Membership
from webui.audit.models import AuditEntry
from webui.core.errors import UserError
from webui.invitations import actions, members
from webui.invitations.models import Invitation

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def dave(db):
    return get_user_model().objects.create_user("dave", email="Dave@Example.org", password="pw-dave")


@pytest.fixture
def admin(db):
    return get_user_model().objects.create_superuser("root", password="pw-root")


def invite_page(user, team, who: str, role: str = "viewer", follow: bool = True):
    return client_for(user).post(f"/teams/{team.id}/members/", {"who": who, "role": role}, follow=follow)


def role_of(user, team) -> str | None:
    membership = team.memberships.filter(user=user).first()
    return membership.role if membership else None


def test_an_owner_invites_and_the_invitee_accepts_from_the_nav(owner, team, dave, app):
    page = invite_page(owner, team, "dave", "viewer").content.decode()
    assert "Invited dave as viewer" in page and 'data-user="dave"' in page  # in the pending list
    home = client_for(dave).get("/").content.decode()
    assert 'id="nav-invitations">Invitations <span class="count">1</span>' in home
    listing = client_for(dave).get("/invitations/").content.decode()
    assert f'data-team="{team.name}"' in listing and "viewer" in listing
    invitation = Invitation.objects.get(user=dave)
    assert client_for(dave).get(f"/apps/{app.id}/").status_code == 404  # not in the team yet
    response = client_for(dave).post(f"/invitations/{invitation.id}/accept/", follow=True)
    assert f"You joined {team.name} as viewer." in response.content.decode()
    assert response.redirect_chain[-1][0] == f"/teams/{team.id}/"
    assert role_of(dave, team) == Membership.VIEWER
    assert client_for(dave).get(f"/apps/{app.id}/").status_code == 200
    assert "nav-invitations" not in client_for(dave).get("/").content.decode()  # nothing pending now
    entries = AuditEntry.objects.filter(team=team, action__startswith="invitation.").order_by("id")
    assert [(e.username, e.action) for e in entries] == [("alice", "invitation.create"), ("dave", "invitation.accept")]


def test_an_invitation_by_e_mail_finds_the_user_in_any_case(owner, team, dave):
    invitation = actions.invite(owner, team, " dave@example.ORG ", "member")
    assert invitation.user == dave and invitation.role == "member"


@pytest.mark.parametrize("who, role, message", [
    ("nobody", "viewer", "No user has the username or e-mail “nobody”."),
    ("", "viewer", "Say whom to invite: a username or an e-mail address."),
    ("carol", "viewer", "carol is already a member of alice: change their role on the members page instead."),
    ("alice", "viewer", "alice is already an owner of alice: change their role on the members page instead."),
    ("dave", "boss", "“boss” is not a role: use owner, member or viewer."),
])
def test_bad_invitations_are_refused_with_a_clear_error(owner, team, teammate, dave, who, role, message):
    with pytest.raises(UserError) as refused:
        actions.invite(owner, team, who, role)
    assert str(refused.value) == message
    assert not Invitation.objects.exists() and not AuditEntry.objects.filter(action="invitation.create").exists()


def test_the_invite_form_names_what_is_wrong(owner, team, teammate):
    response = invite_page(owner, team, "carol", "member", follow=False)
    assert response.status_code == 400 and "carol is already a member of alice" in response.content.decode()
    response = invite_page(owner, team, "dave", "boss", follow=False)
    assert response.status_code == 400 and "Select a valid choice. boss is not one of the available choices." \
        in response.content.decode()


def test_a_second_invitation_while_one_is_pending_is_refused(owner, team, dave):
    actions.invite(owner, team, "dave", "viewer")
    with pytest.raises(UserError, match="dave already has a pending invitation to alice: revoke it first"):
        actions.invite(owner, team, "dave", "owner")


def test_an_e_mail_two_users_share_asks_for_a_username(owner, team, dave):
    get_user_model().objects.create_user("dave2", email="dave@example.org")
    with pytest.raises(UserError, match="Several users have the e-mail dave@example.org: invite one of them by "
                                        "username."):
        actions.invite(owner, team, "dave@example.org", "viewer")


def test_members_and_viewers_cannot_invite_and_other_teams_do_not_see_the_page(teammate, viewer, outsider, team,
                                                                              dave):
    for user in (teammate, viewer):
        response = invite_page(user, team, "dave", "viewer")
        assert f"Only the owners of {team.name} (and admins) can invite people." in response.content.decode()
        assert 'id="invite"' not in response.content.decode()  # no form for them
        with pytest.raises(UserError, match="Only the owners of alice"):
            actions.invite(user, team, "dave", "viewer")
    assert invite_page(outsider, team, "dave", "viewer").status_code == 404
    assert client_for(outsider).get(f"/teams/{team.id}/members/").status_code == 404
    assert not Invitation.objects.exists()


def test_declined_and_revoked_invitations_give_no_membership(owner, team, dave):
    declined = actions.invite(owner, team, "dave", "member")
    response = client_for(dave).post(f"/invitations/{declined.id}/decline/", follow=True)
    assert "You declined to join alice." in response.content.decode()
    revoked = actions.invite(owner, team, "dave", "member")  # a new one, once the first is answered
    client_for(owner).post(f"/invitations/{revoked.id}/revoke/")
    response = client_for(dave).post(f"/invitations/{revoked.id}/accept/", follow=True)
    assert "This invitation to alice was revoked already." in response.content.decode()
    assert role_of(dave, team) is None
    assert {i.status for i in Invitation.objects.all()} == {"declined", "revoked"}


def test_only_the_invitee_answers_and_others_get_404(owner, team, dave, outsider, viewer):
    invitation = actions.invite(owner, team, "dave", "member")
    for user in (outsider, viewer):  # not theirs, and not a team they own
        for answer in ("accept", "decline", "revoke"):
            assert client_for(user).post(f"/invitations/{invitation.id}/{answer}/").status_code == 404
    response = client_for(owner).post(f"/invitations/{invitation.id}/accept/", follow=True)
    assert "This invitation is for dave: only they can answer it." in response.content.decode()
    response = client_for(dave).post(f"/invitations/{invitation.id}/revoke/", follow=True)
    assert "Only the owners of alice (and admins) can invite people and change roles." in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.pending


def test_an_owner_changes_a_role_and_removes_a_member(owner, team, teammate, viewer, app):
    browser = client_for(owner)
    response = browser.post(f"/teams/{team.id}/members/{viewer.id}/role/", {"role": "member"}, follow=True)
    assert f"victor is now a member of {team.name}." in response.content.decode()
    assert role_of(viewer, team) == "member"
    response = browser.post(f"/teams/{team.id}/members/{teammate.id}/remove/", follow=True)
    assert f"carol is no longer in {team.name}." in response.content.decode()
    assert role_of(teammate, team) is None
    assert client_for(teammate).get(f"/apps/{app.id}/").status_code == 404
    entries = AuditEntry.objects.filter(team=team, action__startswith="member.").order_by("id")
    assert [(e.action, e.object_name, e.details) for e in entries] == [
        ("member.role", "victor", {"old": "viewer", "new": "member"}),
        ("member.remove", "carol", {"role": "member"})]


def test_an_unknown_role_is_refused_naming_it(owner, team, viewer):
    response = client_for(owner).post(f"/teams/{team.id}/members/{viewer.id}/role/", {"role": "boss"}, follow=True)
    assert "“boss” is not a role: use owner, member or viewer." in response.content.decode()
    assert role_of(viewer, team) == "viewer"


def test_the_last_owner_can_be_neither_demoted_nor_removed(owner, team, teammate):
    browser = client_for(owner)
    response = browser.post(f"/teams/{team.id}/members/{owner.id}/role/", {"role": "member"}, follow=True)
    assert "alice is the last owner of alice: making them a member would leave it with no owner. Make another " \
           "member an owner first." in response.content.decode()
    response = browser.post(f"/teams/{team.id}/members/{owner.id}/remove/", follow=True)
    assert "alice is the last owner of alice: leaving would leave it with no owner." in response.content.decode()
    assert role_of(owner, team) == "owner"
    members.change_role(owner, team.memberships.get(user=teammate), "owner")
    members.change_role(owner, team.memberships.get(user=owner), "viewer")  # another owner now: allowed
    assert role_of(owner, team) == "viewer" and role_of(teammate, team) == "owner"
    with pytest.raises(UserError, match="carol is the last owner of alice: removing them would leave it with no "
                                        "owner"):
        members.remove_member(get_user_model().objects.create_superuser("root", password="pw"),
                              team.memberships.get(user=teammate))


def test_members_see_the_list_but_cannot_change_it(owner, team, teammate, viewer):
    for user in (teammate, viewer):
        page = client_for(user).get(f"/teams/{team.id}/members/").content.decode()
        assert 'data-user="alice"' in page and 'data-user="carol"' in page and 'data-user="victor"' in page
        assert "pending-invitations" not in page and 'name="role"' not in page
        response = client_for(user).post(f"/teams/{team.id}/members/{owner.id}/role/", {"role": "viewer"},
                                         follow=True)
        assert "Only the owners of alice (and admins) can invite people and change roles." in \
            response.content.decode()
        client_for(user).post(f"/teams/{team.id}/members/{owner.id}/remove/")
    assert role_of(owner, team) == "owner"


def test_a_member_leaves_a_team(team, teammate):
    response = client_for(teammate).post(f"/teams/{team.id}/members/{teammate.id}/remove/", follow=True)
    assert f"You left {team.name}." in response.content.decode()
    assert role_of(teammate, team) is None
    assert AuditEntry.objects.get(action="member.leave").username == "carol"


def test_an_admin_manages_every_team_without_being_in_it(admin, owner, team, viewer, dave):
    page = client_for(admin).get(f"/teams/{team.id}/members/").content.decode()
    assert 'id="invite"' in page and 'name="role"' in page
    assert f'href="/teams/{team.id}/"' not in page  # the team's own page is for its members
    invite_page(admin, team, "dave", "member")
    client_for(admin).post(f"/teams/{team.id}/members/{viewer.id}/role/", {"role": "owner"})
    assert Invitation.objects.get(user=dave).invited_by == admin and role_of(viewer, team) == "owner"
    assert role_of(admin, team) is None


def test_the_team_page_leads_to_the_members_and_owners_to_the_audit_log(owner, team, viewer):
    mine = client_for(owner).get(f"/teams/{team.id}/").content.decode()
    assert f'href="/teams/{team.id}/members/"' in mine and f'href="/teams/{team.id}/audit/"' in mine
    theirs = client_for(viewer).get(f"/teams/{team.id}/").content.decode()
    assert f'href="/teams/{team.id}/members/"' in theirs and f'href="/teams/{team.id}/audit/"' not in theirs
