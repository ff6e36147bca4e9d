"""Every page, action and websocket shows a team's objects to its members only."""
from __future__ import annotations

import asyncio
import re

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.test import Client

from webui.accounts.models import Membership
from webui.asgi import application
from workers import contracts


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# Every page of the site and who may use it; a page missing here fails the test below.
# read: every role of the object's team; write: owners and members; manage: owners (and
# admins); admin: admins only; own: every user, on what is theirs; invitee / revoke: whom an
# invitation invites / its team's owners. Each page: (method, kind, what a refused write leaves).
PAGE_RULES = {
    "dashboard": ("GET", "own"), "app_new": ("GET", "own"), "teams": ("GET", "own"), "tokens": ("GET", "own"),
    "invitations": ("GET", "own"), "token_revoke": ("POST", "own"),
    "app": ("GET", "read"), "build": ("GET", "read"), "build_log": ("GET", "read"), "container": ("GET", "read"),
    "container_log": ("GET", "read"), "container_history": ("GET", "read"), "team": ("GET", "read"),
    "team_history": ("GET", "read"), "volumes": ("GET", "read"), "team_images": ("GET", "read"),
    "team_members": ("GET", "read"),
    "app_settings": ("POST", "write"), "app_delete": ("POST", "write"), "app_build": ("POST", "write"),
    "app_run": ("POST", "write"), "build_cancel": ("POST", "write"), "container_stop": ("POST", "write"),
    "container_kill": ("POST", "write"), "container_restart": ("POST", "write"),
    "container_remove": ("POST", "write"), "volume_remove": ("POST", "write"), "images_prune": ("POST", "write"),
    "image_remove": ("POST", "write"),
    "team_audit": ("GET", "manage"), "member_role": ("POST", "manage"), "member_remove": ("POST", "manage"),
    "invitation_accept": ("POST", "invitee"), "invitation_decline": ("POST", "invitee"),
    "invitation_revoke": ("POST", "revoke"),
    "hosts": ("GET", "admin"), "host": ("GET", "admin"), "host_history": ("GET", "admin"), "audit": ("GET", "admin"),
    "host_cordon": ("POST", "admin"), "host_drain": ("POST", "admin"), "host_labels": ("POST", "admin"),
    "host_remove": ("POST", "admin"), "join_token_create": ("POST", "admin"), "join_token_revoke": ("POST", "admin"),
    "metrics": ("GET", "admin"),
}
# The same URL with another method, when that is a write of its own.
POSTS_TOO = {"volumes": "write", "team_members": "manage"}
NOT_SIGNED_IN = {"login", "logout"}  # and /metrics, which answers 403 to a scraper rather than a login page
POST_DATA = {"container_kill": {"signal": "HUP"}, "container_remove": {"force": "1"}, "volumes": {"name": "data2"},
             "member_role": {"role": "member"}, "team_members": {"who": "erin", "role": "viewer"}}
REFUSED = {"read": {"outsider"}, "write": {"outsider", "viewer"}, "manage": {"outsider", "viewer", "teammate"},
           "admin": {"outsider", "viewer", "teammate", "owner"}, "invitee": {"outsider", "viewer", "teammate", "owner"},
           "revoke": {"outsider", "viewer", "teammate", "invitee"}, "own": set()}
# Who sees the object at all (others get 404; those who see it but lack the role are told why).
SEES = {"invitee": {"invitee", "owner"}, "revoke": {"invitee", "owner"}}


@pytest.fixture
def site(owner, team, teammate, viewer, outsider, app, build, container, host):
    """Everything a page can name, and the personas' browsers."""
    from django.contrib.auth import get_user_model

    from webui.api.models import ApiToken
    from webui.hosts.models import JoinToken
    from webui.invitations.actions import invite
    from webui.volumes.models import Volume

    users = get_user_model().objects
    wendy = users.create_user("wendy", password="pw")  # the member whose role the pages change
    Membership.objects.create(team=team, user=wendy, role=Membership.VIEWER)
    users.create_user("erin", password="pw")
    invitee = users.create_user("dave", password="pw")
    admin = users.create_superuser("root", password="pw")
    ids = {"app_id": app.id, "build_id": build.id, "container_id": container.id, "host_id": host.id,
           "team_id": team.id, "user_id": wendy.id, "invitation_id": invite(owner, team, "dave", "member").id,
           "volume_id": Volume.objects.create(team=team, name="data", created_by=owner).id}
    tokens = {"token_revoke": ApiToken.issue(owner, "t")[0].id,
              "join_token_revoke": JoinToken.objects.create(name="j", key_digest="0" * 64, hint="x").id}
    browsers = {name: client_for(user) for name, user in [
        ("owner", owner), ("teammate", teammate), ("viewer", viewer), ("outsider", outsider),
        ("invitee", invitee), ("admin", admin)]}
    return ids, tokens, browsers


def site_pages() -> dict[str, list[str]]:
    """Each named page of the site (not the admin's, not the API's) and its URL's arguments."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.app_name != "admin" and str(entry.pattern) != "api/":
                    yield from walk(entry.url_patterns)
            elif isinstance(entry, URLPattern) and entry.name:
                yield entry.name, list(entry.pattern.converters)
    return dict(walk(get_resolver().url_patterns))


def page_url(name: str, ids: dict, tokens: dict) -> str:
    from django.urls import reverse

    arguments = site_pages()[name]
    return reverse(name, kwargs={key: tokens[name] if key == "token_id" else ids[key] for key in arguments})


@pytest.mark.django_db
def test_every_page_has_a_role_rule():
    pages = set(site_pages()) - NOT_SIGNED_IN
    assert pages == set(PAGE_RULES), f"pages with no rule: {pages - set(PAGE_RULES)}; " \
                                     f"rules for no page: {set(PAGE_RULES) - pages}"


def _checks():
    for name, (method, kind) in sorted(PAGE_RULES.items()):
        yield name, method, kind
        if name in POSTS_TOO:
            yield name, "POST", POSTS_TOO[name]


@pytest.mark.parametrize("name, method, kind", list(_checks()), ids=lambda v: str(v))
def test_each_page_refuses_whom_it_must(name, method, kind, site, queue, django_capture_on_commit_callbacks):
    from webui.audit.models import AuditEntry

    ids, tokens, browsers = site
    url, data = page_url(name, ids, tokens), POST_DATA.get(name, {})
    anonymous = getattr(Client(), method.lower())(url, data)
    if name == "metrics":
        assert anonymous.status_code == 403
    else:
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/"), anonymous
    before = AuditEntry.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        for persona in sorted(REFUSED[kind]):
            response = getattr(browsers[persona], method.lower())(url, data)
            if persona == "outsider" or kind == "admin" or persona not in SEES.get(kind, {persona}):
                expected = 403 if name == "metrics" else 404
                assert response.status_code == expected, (persona, response.status_code)  # not told it exists
            else:  # in the team (or the invitee), without the role: nothing done
                assert response.status_code in (302, 400, 404), (persona, response.status_code)
    assert AuditEntry.objects.count() == before, "a refused write was done"
    assert not list(queue.scan_iter("host.*")), "a refused write queued a job"
    allowed = {"read": "viewer", "write": "teammate", "manage": "owner", "admin": "admin", "own": "outsider",
               "invitee": "invitee", "revoke": "owner"}[kind]
    if name == "token_revoke":
        allowed = "owner"  # the token is the owner's own
    response = getattr(browsers[allowed], method.lower())(url, data)
    assert response.status_code in (200, 302), (allowed, response.status_code)


def test_other_teams_objects_are_not_listed_on_the_dashboard(outsider, app, container):
    dashboard = client_for(outsider).get("/").content.decode()
    assert f"/apps/{app.id}/" not in dashboard and f"/containers/{container.id}/" not in dashboard


def test_viewer_cannot_stop(viewer, container, queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(viewer).post(f"/containers/{container.id}/stop/", follow=True)
    assert b"Viewers cannot stop or remove containers." in response.content
    assert queue.llen("host.test-host") == 0
    container.refresh_from_db()
    assert container.status == contracts.C_RUNNING


async def _connect(path: str, session_key: str | None) -> bool:
    """The websocket handshake through the whole ASGI app (channels.testing needs Daphne)."""
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if session_key:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    scope = {"type": "websocket", "path": path, "query_string": b"", "headers": headers, "subprotocols": []}
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "websocket.connect"})
    answer = await communicator.receive_output(timeout=5)
    if answer["type"] == "websocket.accept":
        await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
        await communicator.wait(timeout=5)
    return answer["type"] == "websocket.accept"


# Who may open each websocket route: "watch" is every role of the object's team, "terminal"
# its owners and members, "admin" admins only. A route missing here fails the test below.
WEBSOCKETS = {"ws/builds/<int:build_id>/": "watch", "ws/containers/<int:container_id>/": "watch",
              "ws/containers/<int:container_id>/exec/": "terminal", "ws/hosts/": "admin", "ws/hosts/<int:host_id>/": "admin",
              "ws/teams/<int:team_id>/": "watch"}
OPENS = {"watch": {"owner", "teammate", "viewer"}, "terminal": {"owner", "teammate"}, "admin": {"admin"}}


@pytest.mark.django_db(transaction=True)
def test_each_websocket_opens_for_its_roles_only(owner, teammate, viewer, outsider, team, build, container, host,
                                                 queue):
    from django.contrib.auth import get_user_model

    from webui.routing import websocket_urlpatterns

    routes = {str(route.pattern) for route in websocket_urlpatterns}
    assert routes == set(WEBSOCKETS), f"routes with no role rule: {routes - set(WEBSOCKETS)}"
    admin = get_user_model().objects.create_superuser("root", password="pw")
    gone = get_user_model().objects.create_user("gone", password="pw")
    Membership.objects.create(team=team, user=gone, role=Membership.OWNER)
    keys = {name: client_for(user).cookies["sessionid"].value for name, user in
            [("owner", owner), ("teammate", teammate), ("viewer", viewer), ("outsider", outsider),
             ("admin", admin), ("deactivated", gone)]}
    gone.is_active = False  # a session made before: refused now
    gone.save()
    ids = {"build_id": build.id, "container_id": container.id, "host_id": host.id, "team_id": team.id}
    for route, kind in WEBSOCKETS.items():
        path = "/" + re.sub(r"<int:(\w+)>", lambda m: str(ids[m.group(1)]), route)
        for persona, key in [*keys.items(), ("anonymous", None)]:
            assert async_to_sync(_connect)(path, key) is (persona in OPENS[kind]), (path, persona)


def _scope(path: str, session_key: str) -> dict:
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"),
               (b"cookie", f"sessionid={session_key}".encode())]
    return {"type": "websocket", "path": path, "query_string": b"", "headers": headers, "subprotocols": []}


async def _open(path: str, session_key: str) -> ApplicationCommunicator:
    socket = ApplicationCommunicator(application, _scope(path, session_key))
    await socket.send_input({"type": "websocket.connect"})
    assert (await socket.receive_output(timeout=5))["type"] == "websocket.accept", path
    return socket


async def _until_closed(socket: ApplicationCommunicator, timeout: float = 5) -> bytes:
    """What the socket sent until it closed (its binary frames)."""
    sent = b""
    while True:
        message = await socket.receive_output(timeout=timeout)
        if message["type"] == "websocket.close":
            return sent
        sent += message.get("bytes") or b""


async def _quiet(socket: ApplicationCommunicator) -> bool:
    """Drain what the socket sent on opening; then is it still open, with nothing more to say?"""
    while not await socket.receive_nothing(timeout=0.5):
        if (await socket.receive_output())["type"] == "websocket.close":
            return False
    return True


@pytest.mark.django_db(transaction=True)
def test_open_sockets_close_when_the_access_that_opened_them_goes(owner, teammate, viewer, team, container,
                                                                  queue):
    from channels.db import database_sync_to_async

    from webui.invitations import members

    keys = {user: client_for(user).cookies["sessionid"].value for user in (teammate, viewer)}
    membership = {user: team.memberships.get(user=user) for user in (teammate, viewer)}
    watch, shell = f"/ws/containers/{container.id}/", f"/ws/containers/{container.id}/exec/"

    async def scenario():
        viewer_watch, member_watch = await _open(watch, keys[viewer]), await _open(watch, keys[teammate])
        member_shell = await _open(shell, keys[teammate])
        while not queue.llen("host.test-host"):  # the shell is asked of the host: the session is open
            await asyncio.sleep(0.05)
        await database_sync_to_async(members.change_role)(owner, membership[teammate], "viewer")
        said = await _until_closed(member_shell)
        assert b"Your role in the team no longer allows a terminal: the shell is closed." in said
        assert await _quiet(member_watch) and await _quiet(viewer_watch)  # viewers still watch
        await database_sync_to_async(members.remove_member)(owner, membership[viewer])
        await _until_closed(viewer_watch)
        teammate.is_active = False
        await database_sync_to_async(teammate.save)()
        await _until_closed(member_watch)

    async_to_sync(scenario)()
