"""Every page, action and websocket shows a team's objects to its members only."""
from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.test import Client

from webui.asgi import application
from workers import contracts


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


PAGES = ["/apps/{app}/", "/apps/{app}/settings/", "/builds/{build}/", "/containers/{container}/"]
ACTIONS = ["/apps/{app}/build/", "/apps/{app}/run/", "/apps/{app}/settings/", "/apps/{app}/delete/",
           "/containers/{container}/stop/", "/containers/{container}/remove/"]


def urls(paths, app, build, container):
    return [p.format(app=app.id, build=build.id, container=container.id) for p in paths]


def test_owner_and_teammate_see_the_pages(owner, teammate, app, build, container):
    for user in (owner, teammate):
        for url in urls(PAGES, app, build, container):
            assert client_for(user).get(url).status_code == 200, url


def test_other_team_gets_404_for_pages_and_actions(outsider, app, build, container, queue):
    client = client_for(outsider)
    for url in urls(PAGES, app, build, container):
        assert client.get(url).status_code == 404, url
    for url in urls(ACTIONS, app, build, container):
        assert client.post(url).status_code == 404, url
    dashboard = client.get("/").content.decode()
    assert f"/apps/{app.id}/" not in dashboard and f"/containers/{container.id}/" not in dashboard
    assert not list(queue.scan_iter("host.*"))  # nothing was queued for them
    container.refresh_from_db()
    assert container.status == contracts.C_RUNNING


def test_viewer_cannot_stop(viewer, container, queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(viewer).post(f"/containers/{container.id}/stop/", follow=True)
    assert b"Viewers cannot stop or remove containers." in response.content
    assert queue.llen("host.test-host") == 0


def test_anonymous_is_sent_to_login(app):
    response = Client().get(f"/apps/{app.id}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


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


@pytest.mark.django_db(transaction=True)
def test_other_team_cannot_open_the_websockets(owner, outsider, build, container):
    paths = [f"/ws/builds/{build.id}/", f"/ws/containers/{container.id}/"]
    owner_key = client_for(owner).cookies["sessionid"].value
    outsider_key = client_for(outsider).cookies["sessionid"].value
    for path in paths:
        assert async_to_sync(_connect)(path, owner_key) is True, path
        assert async_to_sync(_connect)(path, outsider_key) is False, path
        assert async_to_sync(_connect)(path, None) is False, path
