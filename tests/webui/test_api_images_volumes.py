"""What the Images, Volumes, history, Hosts (join tokens) and API tokens pages do, through the
JSON API: the same actions, the same refusals in the same words. Who may call each operation
(other teams 404, viewers 403, admins only) is also checked for all of them in test_api_roles.py."""
from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from webui.api.models import ApiToken
from webui.audit.models import AuditEntry
from webui.containers.models import Container
from webui.history.models import ContainerMinute
from webui.hosts.models import JoinToken
from webui.images.actions import record_build_event
from webui.images.models import Build
from webui.volumes.actions import record_volume_event
from webui.volumes.models import Volume
from workers import contracts

pytestmark = pytest.mark.django_db
INFO = {"size": 3 << 20, "layers": [["sha256:" + "a" * 64, 2 << 20], ["sha256:" + "b" * 64, 1 << 20]],
        "history": [{"created_by": "berth bootstrap busybox"},
                    {"created_by": '/bin/sh -c #(nop) CMD ["sh"]', "empty_layer": True}]}


def api(user) -> Client:
    return Client(headers={"Authorization": f"Bearer {ApiToken.issue(user, 'tests')[1]}"})


def post(client: Client, url: str, body=None):
    return client.post(url, json.dumps(body) if body is not None else None, content_type="application/json")


def jobs(queue, task: str) -> list[list]:
    """The arguments of each ``task`` job queued for the test host, oldest first."""
    found = []
    for raw in reversed(queue.lrange("host.test-host", 0, -1)):
        message = json.loads(raw)
        if message["headers"]["task"] == task:
            found.append(json.loads(base64.b64decode(message["body"]))[0])
    return found


def built(app, host, image_id: str) -> Build:
    build = Build.objects.create(app=app, host=host)
    record_build_event(build.id, {"status": contracts.BUILD_RUNNING})
    record_build_event(build.id, {"status": contracts.BUILD_SUCCEEDED, "image": app.image_name, "image_id": image_id,
                                  "image_info": INFO})
    return Build.objects.get(id=build.id)


# Images

def test_an_image_shows_its_layers_history_and_whether_it_is_current(owner, app, host):
    older, current = built(app, host, "sha256:" + "1" * 64), built(app, host, "sha256:" + "2" * 64)
    client = api(owner)
    row = client.get(f"/api/images/{current.id}/").json()
    assert (row["build"], row["image"], row["current"], row["size"], row["layers"], row["error"]) == (
        current.id, app.image_name, True, 3 << 20, 2, "")
    assert row["layer_details"] == [{"digest": "sha256:" + "a" * 64, "size": 2 << 20},
                                    {"digest": "sha256:" + "b" * 64, "size": 1 << 20}]
    assert row["history"] == [{"created_by": "berth bootstrap busybox", "empty_layer": False},
                              {"created_by": '/bin/sh -c #(nop) CMD ["sh"]', "empty_layer": True}]
    assert client.get(f"/api/images/{older.id}/").json()["current"] is False
    failed = Build.objects.create(app=app, host=host, status=contracts.BUILD_FAILED)
    response = client.get(f"/api/images/{failed.id}/")
    assert response.status_code == 404 and "has no image on its host" in response.json()["detail"]


def test_remove_asks_the_host_and_the_image_tells_how_it_ended(owner, team, app, host, queue,
                                                              django_capture_on_commit_callbacks):
    build = built(app, host, "sha256:" + "1" * 64)
    client = api(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(f"/api/images/{build.id}/")
    assert response.status_code == 202 and response.json()["build"] == build.id
    assert jobs(queue, contracts.AGENT_REMOVE_IMAGE) == [[build.id, "sha256:" + "1" * 64, app.image_name]]
    assert AuditEntry.objects.filter(action="image.remove", object_id=build.id).exists()
    record_build_event(build.id, {"image_error": contracts.error(
        "invalid_state", "image 111111111111 is used by container(s) web-1: remove them first")})
    assert "is used by container(s) web-1" in client.get(f"/api/images/{build.id}/").json()["error"]
    with django_capture_on_commit_callbacks(execute=True):
        again = client.delete(f"/api/images/{build.id}/")
    assert again.status_code == 202 and again.json()["error"] == ""  # asked again: the old refusal is cleared
    record_build_event(build.id, {"image_removed": True})
    assert client.get(f"/api/images/{build.id}/").status_code == 404
    assert client.get("/api/images/").json() == []


def test_a_refused_remove_is_400_with_the_pages_reason_and_asks_nothing(owner, app, host, queue):
    first, again = built(app, host, "sha256:" + "7" * 64), built(app, host, "sha256:" + "7" * 64)
    client = api(owner)
    response = client.delete(f"/api/images/{first.id}/")
    assert response.status_code == 400
    assert response.json()["detail"] == f"Build #{again.id} made the same image: remove it there."
    failed = Build.objects.create(app=app, host=host, status=contracts.BUILD_FAILED)
    response = client.delete(f"/api/images/{failed.id}/")
    assert response.status_code == 400 and response.json()["detail"] == f"Build #{failed.id} has no image to remove."
    assert jobs(queue, contracts.AGENT_REMOVE_IMAGE) == []


def test_another_team_gets_404_and_a_viewer_403_for_remove_and_prune(outsider, viewer, team, app, host, queue):
    older, _ = built(app, host, "sha256:" + "1" * 64), built(app, host, "sha256:" + "2" * 64)
    assert api(outsider).get(f"/api/images/{older.id}/").status_code == 404
    assert api(outsider).delete(f"/api/images/{older.id}/").status_code == 404
    assert post(api(outsider), f"/api/teams/{team.id}/images/prune/").status_code == 404
    refused = api(viewer).delete(f"/api/images/{older.id}/")
    assert refused.status_code == 403 and refused.json()["detail"] == "Viewers can look but not change anything."
    assert post(api(viewer), f"/api/teams/{team.id}/images/prune/").status_code == 403
    assert jobs(queue, contracts.AGENT_REMOVE_IMAGE) == [] and not AuditEntry.objects.filter(
        action__startswith="image").exists()


def test_prune_removes_all_but_each_apps_current_image_and_names_them(owner, team, app, host, queue,
                                                                      django_capture_on_commit_callbacks):
    first, second, current = (built(app, host, f"sha256:{n}" + "0" * 63) for n in "123")
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api(owner), f"/api/teams/{team.id}/images/prune/")
    assert response.status_code == 202
    assert sorted(row["build"] for row in response.json()["removing"]) == [first.id, second.id]
    assert sorted(job[0] for job in jobs(queue, contracts.AGENT_REMOVE_IMAGE)) == [first.id, second.id]
    assert AuditEntry.objects.get(action="images.prune").details == {"removed": 2}


# Volumes

@pytest.fixture
def data(team, owner):
    return Volume.objects.create(team=team, name="data", created_by=owner)


def test_a_member_creates_a_volume_and_the_list_shows_who_mounts_it(owner, teammate, team, app, build, host):
    response = post(api(teammate), "/api/volumes/", {"team": team.id, "name": "site-data"})
    assert response.status_code == 201, response.json()
    assert (response.json()["name"], response.json()["team_id"], response.json()["host"]) == (
        "site-data", team.id, None)
    assert team.volumes.get().name == "site-data"
    Container.objects.create(app=app, build=build, host=host, ports=[], memory_mb=64, status=contracts.C_EXITED,
                             volumes=["site-data:/srv:ro"])
    [row] = api(owner).get(f"/api/volumes/?team={team.id}").json()
    assert [user["status"] for user in row["used_by"]] == [contracts.C_EXITED]
    assert api(owner).get(f"/api/volumes/{row['id']}/").json() == row
    assert api(owner).get("/api/volumes/?team=mine").json() == {"team": "Give a team's ID (a whole number)."}


@pytest.mark.parametrize("body, field, message", [
    ({"name": "a/b"}, "name", "“a/b” is not a volume name: use letters, digits and . _ -"),
    ({"name": ".."}, "name", "is not a volume name"),
    ({"name": ".hidden"}, "name", "is not a volume name"),
    ({"name": "x" * 65}, "name", "at most 64 characters"),
    ({"name": ""}, "name", "This field is required."),
    ({"name": 5}, "name", "Give the volume's name as a string."),
    ({"name": ["data"]}, "name", "Give the volume's name as a string."),
    ({"name": "data", "size": "1g"}, "detail", "Unknown field(s): size. A volume's fields are: team, name."),
    ({"name": "data", "team": 99999}, "team", "Give the ID of one of your teams."),
])
def test_a_bad_volume_is_refused_naming_what_is_wrong_and_nothing_is_made(owner, team, body, field, message):
    response = post(api(owner), "/api/volumes/", {"team": team.id, **body})
    assert response.status_code == 400
    got = response.json()[field]
    assert message in (got if isinstance(got, str) else " ".join(got)), response.json()
    assert not Volume.objects.exists()


def test_a_second_volume_of_the_same_name_is_refused_as_the_page_does(owner, team, data):
    response = post(api(owner), "/api/volumes/", {"team": team.id, "name": "data"})
    assert response.status_code == 400 and response.json()["detail"] == "The team already has a volume named “data”."


def test_another_team_cannot_make_see_or_remove_the_teams_volumes(outsider, viewer, team, data):
    client = api(outsider)
    response = post(client, "/api/volumes/", {"team": team.id, "name": "theirs"})
    assert response.status_code == 400 and "team" in response.json()  # not told the team exists
    assert client.get(f"/api/volumes/{data.id}/").status_code == 404
    assert client.delete(f"/api/volumes/{data.id}/").status_code == 404
    assert client.get("/api/volumes/").json() == []
    response = post(api(viewer), "/api/volumes/", {"team": team.id, "name": "other"})
    assert response.status_code == 403 and response.json()["detail"] == "Viewers can look but not change anything."
    assert api(viewer).delete(f"/api/volumes/{data.id}/").status_code == 403
    assert list(Volume.objects.values_list("name", flat=True)) == ["data"]


def test_remove_of_an_unused_volume_is_at_once_and_of_a_placed_one_asks_its_host(
        owner, team, data, host, app, build, queue, django_capture_on_commit_callbacks):
    client = api(owner)
    assert client.delete(f"/api/volumes/{data.id}/").status_code == 204
    assert not Volume.objects.filter(id=data.id).exists()
    placed = Volume.objects.create(team=team, name="logs", host=host)
    user = Container.objects.create(app=app, build=build, host=host, ports=[], memory_mb=64,
                                    status=contracts.C_RUNNING, volumes=["logs:/var/log"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(f"/api/volumes/{placed.id}/")
    assert response.status_code == 202 and response.json()["removing"] is True
    assert jobs(queue, contracts.AGENT_REMOVE_VOLUME) == [[placed.id, placed.runtime_name]]
    refused = client.delete(f"/api/volumes/{placed.id}/")
    assert refused.status_code == 400 and refused.json()["detail"] == "Volume logs is being removed already."
    record_volume_event(placed.id, {"users": [str(user.id)]})
    row = client.get(f"/api/volumes/{placed.id}/").json()
    assert row["removing"] is False
    assert row["error"] == f"Volume logs is in use by {user.name}: remove them first (stopped ones too)."
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/api/volumes/{placed.id}/").status_code == 202
    record_volume_event(placed.id, {"removed": True})
    assert client.get(f"/api/volumes/{placed.id}/").status_code == 404


# History

def test_history_is_the_columns_the_pages_charts_draw(owner, outsider, team, container, host):
    for minutes_ago, cpu in ((3, 10.0), (2, 20.0)):
        ContainerMinute.objects.create(container=container, team=team, host=host, cpu=cpu,
                                       at=timezone.now() - timedelta(minutes=minutes_ago))
    page = Client()
    page.force_login(owner)
    client = api(owner)
    for url in (f"/containers/{container.id}/history/", f"/teams/{team.id}/history/"):
        answer = client.get(f"/api{url}?hours=1").json()
        assert answer == page.get(f"{url}?hours=1").json() and answer["cpu"] == [10.0, 20.0]
        assert api(outsider).get(f"/api{url}").status_code == 404
    response = client.get(f"/api/containers/{container.id}/history/?hours=10000")
    assert response.status_code == 400 and "less than or equal to 168" in response.json()["hours"][0]
    assert client.get(f"/api/containers/{container.id}/history/?hours=soon").json() == {
        "hours": ["A valid integer is required."]}
    assert client.get(f"/api/hosts/{host.id}/history/").status_code == 404  # hosts are for admins
    admin = get_user_model().objects.create_superuser("root", password="pw")
    assert set(api(admin).get(f"/api/hosts/{host.id}/history/").json()) >= {"t", "cpu_percent", "containers"}


# Join tokens (admins) and your API tokens

def test_an_admin_makes_a_join_token_shown_once_and_revokes_it():
    admin = get_user_model().objects.create_superuser("root", password="pw")
    client = api(admin)
    response = post(client, "/api/join-tokens/", {"name": "rack 2 hosts"})
    assert response.status_code == 201
    made = response.json()
    assert JoinToken.valid(made["token"]).id == made["id"] and made["token"].startswith(made["hint"])
    [listed] = client.get("/api/join-tokens/").json()
    assert listed == {key: made[key] for key in ("id", "name", "hint", "created_by", "created")}  # no token
    assert AuditEntry.objects.filter(action="join_token.create").exists()
    blank = post(client, "/api/join-tokens/", {"name": "  "})
    assert blank.status_code == 400 and blank.json()["detail"].startswith("Give the join token a name")
    assert client.delete(f"/api/join-tokens/{made['id']}/").status_code == 204
    assert JoinToken.valid(made["token"]) is None and client.get("/api/join-tokens/").json() == []


def test_your_tokens_are_yours_only_and_a_revoked_one_stops_working(owner, outsider):
    laptop, laptop_token = ApiToken.issue(owner, "laptop")
    _, script_token = ApiToken.issue(owner, "script")
    theirs, their_token = ApiToken.issue(outsider, "theirs")
    client = Client(headers={"Authorization": f"Bearer {script_token}"})
    rows = client.get("/api/tokens/").json()
    assert [(row["name"], row["current"]) for row in rows] == [("script", True), ("laptop", False)]
    assert client.delete(f"/api/tokens/{theirs.id}/").status_code == 404
    assert Client(headers={"Authorization": f"Bearer {their_token}"}).get("/api/tokens/").status_code == 200
    assert client.delete(f"/api/tokens/{laptop.id}/").status_code == 204
    assert Client(headers={"Authorization": f"Bearer {laptop_token}"}).get("/api/apps/").status_code == 401
    assert AuditEntry.objects.filter(action="token.revoke", object_id=laptop.id).exists()


# A JSON body with half of a surrogate pair ("\ud800") holds no text: refused, not a server error
# when a message would repeat it (any endpoint: the API's JSON parser refuses it).

@pytest.mark.parametrize("method, url, body", [
    ("post", "/api/volumes/", {"team": "{team}", "name": "\ud800"}),
    ("post", "/api/apps/", {"team": "{team}", "name": "x", "dockerfile": "FROM busybox", "memory_mb": 32,
                            "cpus": 0.5, "env": ["A\udfff=1"]}),
    ("patch", "/api/apps/{app}/", {"env": ["OK=1", "\ud83d=x"]}),
])
def test_a_lone_surrogate_in_a_json_body_is_refused_naming_it(owner, team, app, method, url, body):
    body = {key: team.id if value == "{team}" else value for key, value in body.items()}
    half = next(ch for ch in json.dumps(body, ensure_ascii=False) if 0xD800 <= ord(ch) <= 0xDFFF)
    response = getattr(api(owner), method)(url.format(app=app.id), json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"] == (f"JSON parse error - \\u{ord(half):04x} is half of a UTF-16 surrogate "
                                         "pair, not a character.")
    app.refresh_from_db()
    assert not Volume.objects.exists() and app.env == [] and list(team.apps.all()) == [app]


# An ID or a count in Unicode digits ("²", which str.isdigit takes and int refuses) or past the
# database's integers: refused by name, or naming nothing, never a server error.

@pytest.mark.parametrize("method, url, body, field, message", [
    ("get", "/api/volumes/?team=²", None, "team", "Give a team's ID (a whole number)."),
    ("get", "/api/images/?team=²", None, "team", "Give a team's ID (a whole number)."),
    ("get", "/api/containers/stats/?container=²", None, "container", "Give container IDs (whole numbers)."),
    ("get", "/api/containers/{container}/logs/?tail=²", None, "tail", "tail must be a whole number from 1 to"),
    ("post", "/api/volumes/", {"team": "²", "name": "data"}, "team", "Give the ID of one of your teams."),
    ("post", "/api/apps/", {"team": "²", "name": "x", "dockerfile": "FROM busybox", "memory_mb": 32, "cpus": 1},
     "team", "Select a valid choice."),
    ("get", "/api/audit/?team=²", None, "team", "team must be a team's ID (a whole number)"),
])
def test_an_id_in_unicode_digits_is_refused_by_name(owner, container, method, url, body, field, message):
    owner.is_staff = True  # for the fleet's audit log
    owner.save()
    client = api(owner)
    url = url.format(container=container.id)
    response = client.get(url) if method == "get" else post(client, url, body)
    assert response.status_code == 400 and message in str(response.json()[field]), response.content[:300]


def test_an_id_past_the_databases_integers_names_nothing(owner, team, container):
    huge = "9" * 20
    client = api(owner)
    assert client.get(f"/api/containers/stats/?container={huge}&container={container.id}").json()[0]["id"] == \
        container.id
    assert client.get(f"/api/volumes/?team={huge}").json() == []
    assert client.get(f"/api/images/?team={huge}").json() == []
