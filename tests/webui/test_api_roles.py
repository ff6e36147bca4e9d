"""Roles and tenants on every operation of the API, enumerated from its OpenAPI schema: an
operation the schema lists and ``RULES`` does not fails the suite until it says who may call it.

Per operation: no token is 401, the token of a deactivated or a deleted user is 401, a member
of another team gets 404 (or sees nothing of the team in a list), a viewer's write is 403, a
member's owner-only call is 403, non-admins get 404 for admin calls; and the least role that
may call it is not refused. Refused calls queue nothing and record nothing in the audit log."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from webui.accounts.models import Membership
from webui.api.models import ApiToken
from webui.audit.models import AuditEntry
from webui.hosts.models import JoinToken
from webui.invitations import actions as invitations
from webui.volumes.models import Volume

DOCKERFILE = 'FROM busybox\nCMD ["sleep", "600"]\n'


@dataclass(frozen=True)
class Rule:
    """``kind`` says who may call it (see WHO); ``body`` is what the allowed caller sends;
    ``allowed`` the status it gets (None: any but 401, 403, 404 and server errors)."""

    kind: str
    body: dict = field(default_factory=dict)
    allowed: int | None = None


# Per kind: the status each refused persona gets, and the least persona the call is for.
WHO = {
    "list": ({}, "viewer"),  # anyone signed in; a member of another team sees nothing of the team
    "read": ({"outsider": 404}, "viewer"),
    "write": ({"outsider": 404, "viewer": 403}, "member"),
    "create": ({"outsider": 400, "viewer": 403}, "member"),  # the team is in the body: not told it exists
    "manage": ({"outsider": 404, "viewer": 403, "member": 403}, "owner"),
    "admin": ({"outsider": 404, "viewer": 404, "member": 404, "owner": 404}, "admin"),
    "invitation": ({"outsider": 404, "viewer": 404, "member": 404}, "invitee"),  # its team's owners see it too
    "invitee": ({"outsider": 404, "viewer": 404, "member": 404, "owner": 403}, "invitee"),
    "revoke": ({"outsider": 404, "viewer": 404, "member": 404, "invitee": 403}, "owner"),
    "own": ({}, "viewer"),  # every user, on what is theirs (test_api_images_volumes.py: only theirs)
    "token": ({"outsider": 404, "viewer": 404, "member": 404, "admin": 404}, "owner"),  # the owner's token
}

APP_SETTINGS = {"ports": ["18091:80"], "memory_mb": 48, "cpus": 0.5}
RULES = {
    ("GET", "/api/apps/"): Rule("list"),
    ("POST", "/api/apps/"): Rule("create", {"name": "new-app", "team": "{team}", "dockerfile": DOCKERFILE,
                                            "memory_mb": 32, "cpus": 0.5}, 201),
    ("GET", "/api/apps/{id}/"): Rule("read"),
    ("PUT", "/api/apps/{id}/"): Rule("write", APP_SETTINGS, 200),
    ("PATCH", "/api/apps/{id}/"): Rule("write", {"memory_mb": 48}, 200),
    ("DELETE", "/api/apps/{id}/"): Rule("write", {}, 400),  # refused for its container, not for the role
    ("POST", "/api/apps/{id}/build/"): Rule("write", {"no_cache": True}, 202),
    ("POST", "/api/apps/{id}/run/"): Rule("write", {"memory_mb": 16}),
    ("GET", "/api/builds/"): Rule("list"),
    ("GET", "/api/builds/{id}/"): Rule("read"),
    ("GET", "/api/builds/{id}/queue/"): Rule("read"),
    ("POST", "/api/builds/{id}/cancel/"): Rule("write", {}, 400),  # it has succeeded already
    ("GET", "/api/builds/{id}/log/"): Rule("read"),
    ("GET", "/api/containers/"): Rule("list"),
    ("GET", "/api/containers/stats/"): Rule("list"),
    ("GET", "/api/containers/{id}/"): Rule("read"),
    ("DELETE", "/api/containers/{id}/"): Rule("write", {}, 400),  # running: needs force
    ("POST", "/api/containers/{id}/stop/"): Rule("write", {}, 202),
    ("POST", "/api/containers/{id}/kill/"): Rule("write", {"signal": "HUP"}, 202),
    ("POST", "/api/containers/{id}/restart/"): Rule("write", {}, 202),
    ("GET", "/api/containers/{id}/logs/"): Rule("read"),
    ("GET", "/api/images/"): Rule("list"),
    ("GET", "/api/images/{id}/"): Rule("read"),
    ("DELETE", "/api/images/{id}/"): Rule("write", {}, 202),  # asked of its host
    ("POST", "/api/teams/{id}/images/prune/"): Rule("write", {}, 202),
    ("GET", "/api/volumes/"): Rule("list"),
    ("POST", "/api/volumes/"): Rule("create", {"name": "data2", "team": "{team}"}, 201),
    ("GET", "/api/volumes/{id}/"): Rule("read"),
    ("DELETE", "/api/volumes/{id}/"): Rule("write", {}, 204),  # no host has its files yet: gone at once
    ("GET", "/api/containers/{id}/history/"): Rule("read", {}, 200),
    ("GET", "/api/teams/{id}/history/"): Rule("read", {}, 200),
    ("GET", "/api/hosts/{id}/history/"): Rule("admin", {}, 200),
    ("GET", "/api/join-tokens/"): Rule("admin", {}, 200),
    ("POST", "/api/join-tokens/"): Rule("admin", {"name": "rack 2"}, 201),
    ("DELETE", "/api/join-tokens/{id}/"): Rule("admin", {}, 204),
    ("GET", "/api/tokens/"): Rule("own", {}, 200),
    ("DELETE", "/api/tokens/{id}/"): Rule("token", {}, 204),
    ("GET", "/api/hosts/"): Rule("admin"),
    ("GET", "/api/hosts/{id}/"): Rule("admin"),
    ("DELETE", "/api/hosts/{id}/"): Rule("admin"),
    ("POST", "/api/hosts/{id}/cordon/"): Rule("admin", {}, 200),
    ("POST", "/api/hosts/{id}/uncordon/"): Rule("admin", {}, 200),
    ("POST", "/api/hosts/{id}/drain/"): Rule("admin"),
    ("PUT", "/api/hosts/{id}/labels/"): Rule("admin", {"labels": {"disk": "ssd"}}, 200),
    ("GET", "/api/teams/"): Rule("list"),
    ("GET", "/api/teams/{id}/"): Rule("read"),
    ("GET", "/api/teams/{id}/quota/"): Rule("read"),
    ("GET", "/api/teams/{id}/members/"): Rule("read"),
    ("PATCH", "/api/teams/{id}/members/{user_id}/"): Rule("manage", {"role": "member"}, 200),
    ("DELETE", "/api/teams/{id}/members/{user_id}/"): Rule("manage", {}, 204),
    ("GET", "/api/teams/{id}/invitations/"): Rule("manage", {}, 200),
    ("POST", "/api/teams/{id}/invitations/"): Rule("manage", {"who": "erin", "role": "viewer"}, 201),
    ("GET", "/api/teams/{id}/audit/"): Rule("manage", {}, 200),
    ("GET", "/api/audit/"): Rule("admin", {}, 200),
    ("GET", "/api/invitations/"): Rule("list"),
    ("GET", "/api/invitations/{id}/"): Rule("invitation", {}, 200),
    ("POST", "/api/invitations/{id}/accept/"): Rule("invitee", {}, 200),
    ("POST", "/api/invitations/{id}/decline/"): Rule("invitee", {}, 200),
    ("POST", "/api/invitations/{id}/revoke/"): Rule("revoke", {}, 200),
}


def schema_operations() -> set[tuple[str, str]]:
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    return {(method.upper(), path) for path, operations in schema["paths"].items() for method in operations
            if method in ("get", "post", "put", "patch", "delete")}


@pytest.mark.django_db
def test_every_operation_of_the_schema_has_a_role_rule():
    operations = schema_operations()
    missing = sorted(operations - set(RULES))
    assert not missing, f"operations with no role rule in RULES: {missing}"
    assert not set(RULES) - operations, f"rules for operations the schema no longer has: {set(RULES) - operations}"


@pytest.fixture
def personas(owner, team, teammate, viewer, outsider, app, build, container, host):
    users = get_user_model().objects
    wendy = users.create_user("wendy", password="pw")  # the member whose role the calls change
    Membership.objects.create(team=team, user=wendy, role=Membership.VIEWER)
    users.create_user("erin", password="pw")  # whom the calls invite
    invitee = users.create_user("dave", password="pw")
    invitation = invitations.invite(owner, team, "dave", "member")
    admin = users.create_superuser("root", password="pw")
    gone = []
    for name in ("deactivated", "deleted"):  # members once, with tokens made while they were
        user = users.create_user(f"was-{name}", password="pw")
        Membership.objects.create(team=team, user=user, role=Membership.OWNER)
        gone.append((name, user, token_of(user)))
    tokens = {"owner": token_of(owner), "member": token_of(teammate), "viewer": token_of(viewer),
              "outsider": token_of(outsider), "invitee": token_of(invitee), "admin": token_of(admin)}
    for name, user, token in gone:
        if name == "deactivated":
            user.is_active = False
            user.save()
        else:
            user.delete()
        tokens[name] = token
    ids = {"apps": app.id, "builds": build.id, "containers": container.id, "hosts": host.id, "teams": team.id,
           "invitations": invitation.id, "images": build.id,
           "volumes": Volume.objects.create(team=team, name="data", created_by=owner).id,
           "join-tokens": JoinToken.issue("rack 1")[0].id, "tokens": ApiToken.issue(owner, "to revoke")[0].id}
    return tokens, ids, {"team": team.id, "user_id": wendy.id}


def token_of(user) -> str:
    return ApiToken.issue(user, "roles")[1]


def url_of(path: str, ids: dict, values: dict) -> str:
    if "{id}" in path:
        path = path.replace("{id}", str(ids[path.split("/")[2]]))  # /api/<resource>/{id}/...
    return path.replace("{user_id}", str(values["user_id"]))


def body_of(rule: Rule, values: dict) -> dict:
    return {key: values["team"] if value == "{team}" else value for key, value in rule.body.items()}


def call(token: str | None, method: str, url: str, body: dict):
    client = Client(headers={"Authorization": f"Bearer {token}"} if token else {})
    if method == "GET":
        return client.get(url)
    return getattr(client, method.lower())(url, json.dumps(body), content_type="application/json")


def queued_tasks(queue) -> list[str]:
    return [json.loads(raw)["headers"]["task"] for raw in queue.lrange("host.test-host", 0, -1)]


def shows_nothing_of(response, values: dict, ids: dict) -> bool:
    """A list another team's member gets: none of the team's objects in it."""
    rows = response.json()
    rows = rows.get("results", rows) if isinstance(rows, dict) else rows
    mine = {ids["apps"], ids["builds"], ids["containers"], ids["invitations"], values["team"]}
    return not [row for row in rows if row.get("id") in mine or row.get("team_id") == values["team"]
                or row.get("app") == ids["apps"] or row.get("team") == values["team"]]


@pytest.mark.django_db
@pytest.mark.parametrize("operation", sorted(RULES), ids=lambda op: f"{op[0]} {op[1]}")
def test_each_operation_refuses_whom_it_must_and_serves_whom_it_is_for(
        operation, personas, queue, django_capture_on_commit_callbacks):
    tokens, ids, values = personas
    method, path = operation
    rule = RULES[operation]
    refused, least = WHO[rule.kind]
    url, body = url_of(path, ids, values), body_of(rule, values)
    audit_before = AuditEntry.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        for persona in (None, "deactivated", "deleted"):
            response = call(tokens.get(persona), method, url, body)
            assert response.status_code == 401, (persona, response.status_code, response.content[:200])
        for persona, expected in refused.items():
            response = call(tokens[persona], method, url, body)
            assert response.status_code == expected, (persona, response.status_code, response.content[:300])
        if rule.kind == "list":
            response = call(tokens["outsider"], method, url, body)
            assert response.status_code == 200 and shows_nothing_of(response, values, ids), response.content[:300]
    assert queued_tasks(queue) == [], "a refused call queued a job"
    assert AuditEntry.objects.count() == audit_before, "a refused call was recorded as done"

    response = call(tokens[least], method, url, body)
    if rule.allowed is not None:
        assert response.status_code == rule.allowed, (least, response.status_code, response.content[:300])
    else:
        assert response.status_code not in (401, 403, 404) and response.status_code < 500, \
            (least, response.status_code, response.content[:300])

