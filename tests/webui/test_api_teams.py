"""Teams, members and invitations through the API: what the members page does, with the
same rules and messages (who may call what is in test_api_roles.py)."""
from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from webui.api.models import ApiToken

pytestmark = pytest.mark.django_db


def api(user) -> Client:
    _, token = ApiToken.issue(user, "tests")
    return Client(headers={"Authorization": f"Bearer {token}"})


def send(client: Client, method: str, path: str, body: dict | None = None):
    return getattr(client, method)(path, json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def dave(db):
    return get_user_model().objects.create_user("dave", email="dave@example.org", password="pw")


def test_teams_list_each_with_your_role(owner, team, viewer, outsider):
    assert [(t["name"], t["role"]) for t in api(viewer).get("/api/teams/").json()] == [
        ("alice", "viewer"), ("victor", "owner")]
    admin = get_user_model().objects.create_superuser("root", password="pw")
    roles = {t["name"]: t["role"] for t in api(admin).get("/api/teams/").json()}
    assert roles == {"alice": None, "bob": None, "victor": None, "root": "owner"}  # admins: every team


def test_invite_accept_and_the_new_member_works_in_the_team(owner, team, dave, app):
    made = send(api(owner), "post", f"/api/teams/{team.id}/invitations/", {"who": "dave@example.org",
                                                                             "role": "member"})
    assert made.status_code == 201 and made.json()["user"] == "dave" and made.json()["status"] == "pending"
    assert [i["user"] for i in api(owner).get(f"/api/teams/{team.id}/invitations/").json()] == ["dave"]
    invitee = api(dave)
    assert [i["team"] for i in invitee.get("/api/invitations/").json()] == ["alice"]
    assert invitee.get(f"/api/apps/{app.id}/").status_code == 404
    accepted = invitee.post(f"/api/invitations/{made.json()['id']}/accept/")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert invitee.get(f"/api/apps/{app.id}/").status_code == 200
    assert invitee.get("/api/invitations/").json() == []
    again = invitee.post(f"/api/invitations/{made.json()['id']}/decline/")
    assert again.status_code == 400 and again.json()["detail"] == "This invitation to alice was accepted already."


@pytest.mark.parametrize("body, status, message", [
    ({"who": "carol", "role": "viewer"}, 400, "carol is already a member of alice"),
    ({"who": "nobody", "role": "viewer"}, 400, "No user has the username or e-mail “nobody”."),
    ({"who": "dave", "role": "boss"}, 400, '"boss" is not a valid choice.'),
    ({"role": "viewer"}, 400, "This field is required."),
])
def test_bad_invitations_are_refused_naming_what_is_wrong(owner, team, teammate, dave, body, status, message):
    response = send(api(owner), "post", f"/api/teams/{team.id}/invitations/", body)
    said = [text for value in response.json().values() for text in (value if isinstance(value, list) else [value])]
    assert response.status_code == status and message in " ".join(said), said
    assert api(owner).get(f"/api/teams/{team.id}/invitations/").json() == []


def test_a_member_cannot_invite_nor_change_roles(team, teammate, viewer, dave):
    member = api(teammate)
    refused = send(member, "post", f"/api/teams/{team.id}/invitations/", {"who": "dave", "role": "viewer"})
    assert refused.status_code == 403 and refused.json()["detail"] == \
        "Only the owners of alice (and admins) can do this."
    assert send(member, "patch", f"/api/teams/{team.id}/members/{viewer.id}/", {"role": "owner"}).status_code == 403
    assert {m["username"]: m["role"] for m in member.get(f"/api/teams/{team.id}/members/").json()}["victor"] == \
        "viewer"


def test_roles_change_members_go_and_the_last_owner_stays(owner, team, teammate, viewer):
    client = api(owner)
    changed = send(client, "patch", f"/api/teams/{team.id}/members/{viewer.id}/", {"role": "member"})
    assert changed.status_code == 200 and changed.json() == {"user_id": viewer.id, "username": "victor",
                                                             "role": "member"}
    assert send(client, "delete", f"/api/teams/{team.id}/members/{teammate.id}/").status_code == 204
    assert [m["username"] for m in client.get(f"/api/teams/{team.id}/members/").json()] == ["alice", "victor"]
    demoted = send(client, "patch", f"/api/teams/{team.id}/members/{owner.id}/", {"role": "viewer"})
    assert demoted.status_code == 400 and "alice is the last owner of alice" in demoted.json()["detail"]
    left = send(client, "delete", f"/api/teams/{team.id}/members/{owner.id}/")
    assert left.status_code == 400 and "leaving would leave it with no owner" in left.json()["detail"]
    unknown = send(client, "patch", f"/api/teams/{team.id}/members/{owner.id}/", {"role": "boss"})
    assert unknown.status_code == 400 and unknown.json() == {"role": ['"boss" is not a valid choice.']}
    assert send(client, "patch", f"/api/teams/{team.id}/members/999999/", {"role": "viewer"}).status_code == 404


def test_a_viewer_leaves_and_their_token_then_sees_nothing_of_the_team(team, viewer, app):
    client = api(viewer)
    assert send(client, "delete", f"/api/teams/{team.id}/members/{viewer.id}/").status_code == 204
    assert client.get(f"/api/apps/{app.id}/").status_code == 404
    assert client.get(f"/api/teams/{team.id}/").status_code == 404


def test_revoke_is_for_the_teams_owners_and_ends_the_invitation(owner, team, dave):
    made = send(api(owner), "post", f"/api/teams/{team.id}/invitations/", {"who": "dave", "role": "viewer"}).json()
    refused = api(dave).post(f"/api/invitations/{made['id']}/revoke/")
    assert refused.status_code == 403
    revoked = api(owner).post(f"/api/invitations/{made['id']}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    late = api(dave).post(f"/api/invitations/{made['id']}/accept/")
    assert late.status_code == 400 and late.json()["detail"] == "This invitation to alice was revoked already."
