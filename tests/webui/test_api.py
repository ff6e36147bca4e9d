"""The JSON API with per-user tokens: the same rules as the pages, for every endpoint."""
from __future__ import annotations

import base64
import json
import time

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


# Who may call each operation (other teams, viewers, members, removed users): test_api_roles.py.


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
    ({"ports": ["99999:80"]}, "ports", "Host port 99999 is outside the allowed range 1024-65535."),
    ({"env": ["GOOD=1", "1BAD=x"]}, "env", "Line 2: “1BAD” is not a variable name"),
    ({"restart_policy": "sometimes"}, "restart_policy", "Use no, on-failure, on-failure:N"),
    ({"host_labels": {"disk": ["ssd"]}}, "host_labels", "Give each label a string value."),
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
    assert {"/api/containers/stats/", "/api/images/"} <= set(schema["paths"])
    assert {"patch", "put"} <= set(schema["paths"]["/api/apps/{id}/"])
    run_body = schema["paths"]["/api/apps/{id}/run/"]["post"]["requestBody"]["content"]["application/json"]
    assert "RunSettingsRequest" in run_body["schema"]["$ref"]


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


def patch(client, app, body):
    return client.patch(f"/api/apps/{app.id}/", body, content_type="application/json")


def test_create_takes_every_setting(owner, team):
    response = api(owner).post("/api/apps/", {
        "name": "full", "team": team.id, "dockerfile": DOCKERFILE, "ports": ["18191:80", "8053:53/udp"],
        "memory_mb": 96, "cpus": 0.25, "pids_limit": 50, "env": ["A=1", "B=x=y"], "restart_policy": "on-failure:3",
        "cpuset_cpus": "0", "network_in_mb": 2, "network_out_mb": 1.5, "host_labels": {"disk": "ssd"}},
        content_type="application/json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["ports"] == ["18191:80/tcp", "8053:53/udp"] and body["env"] == ["A=1", "B=x=y"]
    assert (body["memory_mb"], body["cpus"], body["pids_limit"], body["restart_policy"]) == (96, 0.25, 50,
                                                                                             "on-failure:3")
    assert (body["cpuset_cpus"], body["network_in_mb"], body["network_out_mb"]) == ("0", 2, 1.5)
    assert body["host_labels"] == {"disk": "ssd"} and body["network_mode"] == "bridge"


def test_patch_changes_the_settings_given_and_keeps_the_rest(owner, app):
    app.env, app.pids_limit = ["KEEP=1"], 77
    app.save()
    response = patch(api(owner), app, {"memory_mb": 128, "restart_policy": "always", "host_labels": {"zone": "b"}})
    assert response.status_code == 200, response.json()
    app.refresh_from_db()
    assert (app.memory_mb, app.restart_policy, app.host_labels) == (128, "always", {"zone": "b"})
    assert (app.ports, app.cpus, app.env, app.pids_limit) == (["18090:80/tcp"], 0.5, ["KEEP=1"], 77)
    assert response.json()["memory_mb"] == 128


def test_put_sets_every_setting_and_empties_what_is_left_out(owner, app):
    app.env, app.pids_limit, app.cpuset_cpus = ["GONE=1"], 77, "0"
    app.save()
    client = api(owner)
    response = client.put(f"/api/apps/{app.id}/", {"memory_mb": 32, "cpus": 1, "env": ["NEW=2"]},
                          content_type="application/json")
    assert response.status_code == 200, response.json()
    app.refresh_from_db()
    assert (app.memory_mb, app.cpus, app.env, app.ports, app.pids_limit, app.cpuset_cpus, app.restart_policy) == (
        32, 1, ["NEW=2"], [], 1024, "", "no")
    missing = client.put(f"/api/apps/{app.id}/", {"cpus": 1}, content_type="application/json")
    assert missing.status_code == 400 and missing.json()["memory_mb"] == ["This field is required."]


@pytest.mark.parametrize("body, field, message", [
    ({"ports": ["99999:80"]}, "ports", "Host port 99999 is outside the allowed range 1024-65535."),
    ({"ports": ["80:80"]}, "ports", "Host port 80 is outside the allowed range 1024-65535."),
    ({"ports": ["18080:80", "18080:81"]}, "ports", "Host port 18080/tcp is mapped twice."),
    ({"ports": "8080"}, "ports", "“8080” is not a port mapping like 8080:80"),
    ({"ports": [8080]}, "ports", "Item 1 is not a string: give a list of strings."),
    ({"env": {"A": "1"}}, "env", "Give a list of strings (or text, one item a line)."),
    ({"memory_mb": 5}, "memory_mb", "Ensure this value is greater than or equal to 6."),
    ({"memory_mb": 9999}, "memory_mb", "9999 MB is over the team's memory quota of 2048 MB."),
    ({"memory_mb": "lots"}, "memory_mb", "Enter a whole number."),
    ({"cpus": 0}, "cpus", "Ensure this value is greater than or equal to 0.01."),
    ({"cpus": -1}, "cpus", "Ensure this value is greater than or equal to 0.01."),
    ({"cpus": 65}, "cpus", "Ensure this value is less than or equal to 64."),
    ({"cpus": 9}, "cpus", "9 CPUs is over the team's CPU quota of 4."),
    ({"cpus": "abc"}, "cpus", "Enter a number."),
    ({"pids_limit": 0}, "pids_limit", "Ensure this value is greater than or equal to 1."),
    ({"env": ["1FOO=bar"]}, "env", "Line 1: “1FOO” is not a variable name"),
    ({"env": ["NOVALUE"]}, "env", "Line 1: “NOVALUE” is not KEY=value."),
    ({"env": ["A=1", "A=2"]}, "env", "Line 2: A is already set on line 1."),
    ({"env": ["A=1\nB=2"]}, "env", "Item 1 holds a line break: give one per item."),
    ({"env": ["A=\x00"]}, "env", "holds a NUL character"),
    ({"restart_policy": "sometimes"}, "restart_policy", "Use no, on-failure, on-failure:N (at most N restarts), "
                                                        "always or unless-stopped."),
    ({"cpuset_cpus": "all"}, "cpuset_cpus", "Use CPU numbers and ranges like 0, 0-1 or 0,2."),
    ({"network_in_mb": 0}, "network_in_mb", "Ensure this value is greater than or equal to 0.01."),
    ({"volumes": ["/etc:/host-etc"]}, "volumes", "Mounting the host path /etc is for admins only"),
    ({"volumes": ["nosuch:/data"]}, "volumes", "has no volume “nosuch”"),
    ({"host_labels": {"bad key": "x"}}, "host_labels", "is not a label"),
])
def test_bad_setting_is_refused_with_the_forms_message_and_nothing_changes(owner, app, body, field, message):
    response = patch(api(owner), app, body)
    assert response.status_code == 400
    assert message in " ".join(response.json()[field]), response.json()
    app.refresh_from_db()
    assert (app.ports, app.memory_mb, app.cpus, app.env, app.restart_policy) == (["18090:80/tcp"], 64, 0.5, [], "no")


@pytest.mark.parametrize("body, message", [
    ({"memroy_mb": 64}, "Unknown field(s): memroy_mb. An app's settings are: ports, memory_mb, cpus,"),
    ({"name": "renamed"}, "Unknown field(s): name."),
])
def test_a_field_that_is_no_setting_is_refused_by_name(owner, app, body, message):
    response = patch(api(owner), app, body)
    assert response.status_code == 400 and message in response.json()["detail"]
    app.refresh_from_db()
    assert app.name == "web"


def test_a_body_that_is_no_object_is_refused(owner, app):
    response = api(owner).patch(f"/api/apps/{app.id}/", [1, 2], content_type="application/json")
    assert response.status_code == 400 and response.json()["detail"] == "The body must be a JSON object of fields."


def run(client, app, body):
    return client.post(f"/api/apps/{app.id}/run/", body, content_type="application/json")


def test_run_with_its_own_settings_keeps_them_on_the_container_and_sends_them(
        owner, app, build, queue, django_capture_on_commit_callbacks):
    app.env = ["A=app", "B=app"]
    app.save()
    client = api(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = run(client, app, {"ports": ["18200:80", "127.0.0.1:18201:81/udp"], "memory_mb": 32, "cpus": 0.25,
                                     "pids_limit": 40, "env": ["B=run", "C=run"], "restart_policy": "on-failure:2"})
    assert response.status_code == 202, response.json()
    expected = {"ports": ["18200:80/tcp", "127.0.0.1:18201:81/udp"], "memory_mb": 32, "cpus": 0.25,
                "pids_limit": 40, "env": ["A=app", "B=run", "C=run"], "restart_policy": "on-failure:2"}
    shown = client.get(f"/api/containers/{response.json()['id']}/").json()
    assert {key: shown[key] for key in expected} == expected
    assert {key: response.json()[key] for key in expected} == expected
    task, (job,) = jobs(queue)[-1]
    assert task == contracts.AGENT_RUN
    assert (job["ports"], job["memory_bytes"], job["cpus"], job["pids_limit"], job["env"], job["restart"]) == (
        expected["ports"], 32 << 20, 0.25, 40, expected["env"], "on-failure:2")
    app.refresh_from_db()
    assert app.memory_mb == 64 and app.env == ["A=app", "B=app"]  # the app's own are unchanged


def test_run_without_a_body_uses_the_apps_settings(owner, app, build, queue):
    response = api(owner).post(f"/api/apps/{app.id}/run/")
    assert response.status_code == 202
    assert (response.json()["ports"], response.json()["memory_mb"], response.json()["pids_limit"]) == (
        ["18090:80/tcp"], 64, 1024)


@pytest.mark.parametrize("body, field, message", [
    ({"ports": ["99999:80"]}, "ports", "Host port 99999 is outside the allowed range 1024-65535."),
    ({"memory_mb": 3}, "memory_mb", "Ensure this value is greater than or equal to 6."),
    ({"cpus": 0}, "cpus", "Ensure this value is greater than or equal to 0.01."),
    ({"cpus": -0.5}, "cpus", "Ensure this value is greater than or equal to 0.01."),
    ({"cpus": "abc"}, "cpus", "Enter a number."),
    ({"pids_limit": -1}, "pids_limit", "Ensure this value is greater than or equal to 1."),
    ({"env": ["BAD NAME=1"]}, "env", "Line 1: “BAD NAME” is not a variable name"),
    ({"restart_policy": "on-failure:x"}, "restart_policy", "Use no, on-failure, on-failure:N"),
])
def test_bad_run_setting_is_refused_and_nothing_starts(owner, app, build, queue, body, field, message):
    response = run(api(owner), app, body)
    assert response.status_code == 400
    assert message in " ".join(response.json()[field]), response.json()
    assert not Container.objects.exists() and jobs(queue) == []


@pytest.mark.parametrize("body, fragments", [
    ({"cpus": 3}, ["3 CPUs is more than any host has (the largest has 2)."]),
    ({"memory_mb": 4096}, ["Quota exceeded", "4096 MB"]),  # the quota's own words are the quota's
    ({"volumes": ["data:/data"]}, ["Unknown field(s): volumes. A run may set: ports, memory_mb, cpus, "
                                   "restart_policy, pids_limit, env."]),
])
def test_a_run_the_hosts_or_the_quota_cannot_take_is_refused_with_why(owner, app, build, queue, body, fragments):
    response = run(api(owner), app, body)
    assert response.status_code == 400
    assert all(fragment in response.json()["detail"] for fragment in fragments), response.json()
    assert not Container.objects.exists() and jobs(queue) == []


def add_sample(container, age_seconds: float = 0, **figures) -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    key = streams.container_stats(container.id)
    client.delete(key)
    sample = {"t": 0, "cpu": 12.5, "mem": 10 << 20, "mem_limit": 64 << 20, "pids": 3, **figures}
    ms = int((time.time() - age_seconds) * 1000)
    client.xadd(key, {"j": json.dumps(sample)}, id=f"{ms}-0")


def test_stats_give_the_newest_sample_of_each_running_container(owner, app, build, host, container):
    stopped = Container.objects.create(app=app, build=build, host=host, ports=[], memory_mb=64,
                                       status=contracts.C_EXITED)
    add_sample(container, cpu=42.0)
    add_sample(stopped)
    client = api(owner)
    rows = client.get("/api/containers/stats/").json()
    assert [(r["id"], r["name"], r["app"], r["host"]) for r in rows] == [(container.id, container.name, "web",
                                                                          "test-host")]
    assert rows[0]["sample"]["cpu"] == 42.0 and rows[0]["sample"]["mem_limit"] == 64 << 20
    assert client.get(f"/api/containers/stats/?container={stopped.id}").json() == []
    add_sample(container, age_seconds=120)  # its agent went quiet: no live figures
    assert client.get("/api/containers/stats/").json()[0]["sample"] is None
    refused = client.get("/api/containers/stats/?container=web")
    assert refused.status_code == 400 and "whole numbers" in refused.json()["container"]


def test_images_are_listed_as_the_teams_images_page_lists_them(owner, outsider, app, host):
    from webui.images.models import Build
    older = Build.objects.create(app=app, host=host, status=contracts.BUILD_SUCCEEDED, image=app.image_name,
                                 image_id="sha256:" + "a" * 64, image_size=5 << 20, image_layers=[["d1", 5 << 20]])
    newer = Build.objects.create(app=app, host=host, status=contracts.BUILD_SUCCEEDED, image=app.image_name,
                                 image_id="sha256:" + "b" * 64, image_size=6 << 20,
                                 image_layers=[["d1", 5 << 20], ["d2", 1 << 20]])
    Build.objects.create(app=app, host=host, status=contracts.BUILD_FAILED)
    rows = api(owner).get("/api/images/").json()
    assert [(r["build"], r["current"], r["size"], r["layers"], r["app"], r["host"]) for r in rows] == [
        (newer.id, True, 6 << 20, 2, "web", "test-host"), (older.id, False, 5 << 20, 1, "web", "test-host")]
    assert api(owner).get(f"/api/images/?team={app.team_id + 1000}").json() == []
    assert api(owner).get("/api/images/?team=mine").status_code == 400
