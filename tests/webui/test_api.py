"""The JSON API with per-user tokens: the same rules as the pages, for every endpoint."""
from __future__ import annotations

import base64
import json

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from webui.api.models import ApiToken
from webui.containers.models import Container
from workers import contracts, streams

pytestmark = pytest.mark.django_db
DOCKERFILE = 'FROM busybox\nCMD ["sleep", "600"]\n'


def api(user=None, token: str | None = None) -> Client:
    if user is not None:
        _, token = ApiToken.issue(user, "tests")
    return Client(headers={"Authorization": f"Bearer {token}"} if token else {})


def jobs(queue) -> list[tuple[str, list]]:
    found = []
    for raw in reversed(queue.lrange("host.test-host", 0, -1)):
        message = json.loads(raw)
        found.append((message["headers"]["task"], json.loads(base64.b64decode(message["body"]))[0]))
    return found


def test_no_token_a_bad_token_and_a_removed_users_token_are_refused(owner, app):
    assert api().get("/api/apps/").status_code == 401
    response = api(token="berth_not-a-real-token").get("/api/apps/")
    assert response.status_code == 401 and "unknown or was revoked" in response.json()["detail"]
    client = api(owner)
    assert client.get("/api/apps/").status_code == 200
    owner.is_active = False
    owner.save()
    assert "deactivated" in client.get("/api/apps/").json()["detail"]
    owner.delete()
    assert client.get("/api/apps/").status_code == 401


def test_a_member_of_another_team_gets_404_on_every_object(owner, outsider, app, build, container):
    stranger = api(outsider)
    assert stranger.get("/api/apps/").json() == []
    for method, path in [("get", f"/api/apps/{app.id}/"), ("delete", f"/api/apps/{app.id}/"),
                         ("post", f"/api/apps/{app.id}/build/"), ("post", f"/api/apps/{app.id}/run/"),
                         ("get", f"/api/builds/{build.id}/"), ("get", f"/api/builds/{build.id}/log/"),
                         ("post", f"/api/builds/{build.id}/cancel/"), ("get", f"/api/containers/{container.id}/"),
                         ("post", f"/api/containers/{container.id}/stop/"),
                         ("post", f"/api/containers/{container.id}/kill/"),
                         ("post", f"/api/containers/{container.id}/restart/"),
                         ("delete", f"/api/containers/{container.id}/"),
                         ("get", f"/api/containers/{container.id}/logs/")]:
        assert getattr(stranger, method)(path).status_code == 404, (method, path)


def test_a_viewer_reads_but_cannot_change(viewer, app, build, container, queue):
    watcher = api(viewer)
    assert watcher.get(f"/api/containers/{container.id}/").json()["status"] == container.status
    for path in (f"/api/containers/{container.id}/stop/", f"/api/apps/{app.id}/build/", f"/api/apps/{app.id}/run/"):
        assert watcher.post(path).status_code == 403, path
    assert watcher.delete(f"/api/containers/{container.id}/").status_code == 403
    assert jobs(queue) == []


def test_create_build_run_stop_and_remove_through_the_api(owner, team, host, queue,
                                                          django_capture_on_commit_callbacks):
    client = api(owner)
    response = client.post("/api/apps/", {"name": "api-app", "team": team.id, "dockerfile": DOCKERFILE,
                                          "ports": ["18190:80"], "memory_mb": 64, "cpus": 0.5},
                           content_type="application/json")
    assert response.status_code == 201, response.json()
    app_id = response.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        built = client.post(f"/api/apps/{app_id}/build/", {"build_args": {"V": "1"}, "no_cache": True},
                            content_type="application/json")
    assert built.status_code == 202 and built.json()["build_args"] == {"V": "1"}
    assert jobs(queue)[-1][0] == contracts.AGENT_BUILD and jobs(queue)[-1][1][0]["no_cache"] is True
    assert client.post(f"/api/apps/{app_id}/run/").json()["detail"].startswith("The app has no successful build")

    from webui.images.models import Build
    Build.objects.filter(id=built.json()["id"]).update(status=contracts.BUILD_SUCCEEDED, image="team/api-app:latest")
    with django_capture_on_commit_callbacks(execute=True):
        ran = client.post(f"/api/apps/{app_id}/run/")
    assert ran.status_code == 202 and ran.json()["status"] == contracts.C_PENDING
    container = Container.objects.get(id=ran.json()["id"])
    Container.objects.filter(id=container.id).update(status=contracts.C_RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/api/containers/{container.id}/stop/").status_code == 202
        assert client.post(f"/api/containers/{container.id}/kill/", {"signal": "HUP"},
                           content_type="application/json").status_code == 202
    assert [task for task, _ in jobs(queue)][-2:] == [contracts.AGENT_STOP, contracts.AGENT_KILL]
    refused = client.delete(f"/api/containers/{container.id}/")
    assert refused.status_code == 400 and "running" in refused.json()["detail"]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/api/containers/{container.id}/?force=1").status_code == 202
    assert jobs(queue)[-1][0] == contracts.AGENT_REMOVE


@pytest.mark.parametrize("body, field, message", [
    ({"dockerfile": ""}, "dockerfile", "empty"),
    ({"dockerfile": "FROM busybox\n\x00\x01"}, "dockerfile", "binary data"),
    ({"memory_mb": 1}, "memory_mb", "greater than or equal to 6"),
    ({"ports": ["80:80:80:80"]}, "ports", "80:80:80:80"),
    ({"name": "Bad Name"}, "name", "Lowercase letters"),
])
def test_bad_input_is_named_by_field_and_nothing_is_made(owner, team, body, field, message):
    data = {"name": "api-app", "team": team.id, "dockerfile": DOCKERFILE, "memory_mb": 64, "cpus": 0.5, **body}
    response = api(owner).post("/api/apps/", data, content_type="application/json")
    assert response.status_code == 400
    assert message.lower() in " ".join(response.json()[field]).lower(), response.json()
    assert not team.apps.filter(name=data["name"]).exists()


def test_logs_after_a_position_and_the_newest_lines(owner, container):
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    key = streams.container_log(container.id)
    client.delete(key)
    ids = [client.xadd(key, {"line": f"line {n}", "s": "stdout"}) for n in range(5)]
    http = api(owner)
    everything = http.get(f"/api/containers/{container.id}/logs/").json()
    assert [fields["line"] for _, fields in everything["entries"]] == [f"line {n}" for n in range(5)]
    later = http.get(f"/api/containers/{container.id}/logs/?after={ids[2]}").json()
    assert [fields["line"] for _, fields in later["entries"]] == ["line 3", "line 4"] and later["next"] == ids[4]
    newest = http.get(f"/api/containers/{container.id}/logs/?tail=2").json()
    assert [fields["line"] for _, fields in newest["entries"]] == ["line 3", "line 4"]
    assert http.get(f"/api/containers/{container.id}/logs/?tail=lots").status_code == 400


def test_hosts_are_for_admins_and_the_schema_is_served(owner, host):
    assert api(owner).get("/api/hosts/").status_code == 404
    admin = get_user_model().objects.create_superuser("api-admin", password="pw")
    assert [h["name"] for h in api(admin).get("/api/hosts/").json()] == ["test-host"]
    schema = api(owner).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/apps/{id}/build/" in schema["paths"] and "bearerToken" in schema["components"]["securitySchemes"]


def test_the_token_page_shows_a_new_token_once_and_revokes(owner, outsider):
    browser = Client()
    browser.force_login(owner)
    page = browser.post("/account/tokens/", {"name": "laptop"}).content.decode()
    token = page.split('id="new-token">Your new token, shown only now: <code>')[1].split("</code>")[0]
    assert api(token=token).get("/api/apps/").status_code == 200
    assert token not in browser.get("/account/tokens/").content.decode()  # shown only once
    mine = owner.api_tokens.get()
    other = Client()
    other.force_login(outsider)
    assert other.post(f"/account/tokens/{mine.id}/revoke/").status_code == 404
    browser.post(f"/account/tokens/{mine.id}/revoke/")
    assert api(token=token).get("/api/apps/").status_code == 401
