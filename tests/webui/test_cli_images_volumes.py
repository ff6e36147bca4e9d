"""`berth rmi`, `berth image prune` and `berth volume ls|create|rm` against the real web server
(Django's live server), through the JSON API. The host agent's part is played while the CLI
waits for its answer: the removal job is taken off the host's real Redis queue and answered as
the agent answers (in the CLI's pauses, so that SQLite's in-memory test database has one
writer at a time)."""
from __future__ import annotations

import base64
import io
import json
import time

import pytest
import redis
from django.conf import settings

from webui.accounts.models import Membership, Team
from webui.api import client
from webui.containers.models import Container
from webui.images.actions import record_build_event
from webui.images.models import Build
from webui.volumes.actions import record_volume_event
from webui.volumes.models import Volume
from workers import contracts

from .test_cli import berth, capsys_err, cells  # noqa: F401 (berth: the fixture)

pytestmark = pytest.mark.django_db(transaction=True)
IMAGE_HEADINGS = ["TEAM", "APP", "IMAGE", "IMAGE ID", "SIZE", "LAYERS", "BUILT", "HOST"]
VOLUME_HEADINGS = ["TEAM", "VOLUME NAME", "HOST", "USED BY", "STATUS"]


@pytest.fixture
def logged_in(berth, queue):  # noqa: F811 (the fixture of test_cli.py)
    """Logged in, with the host's queue empty: earlier tests' jobs are no answer to wait for."""
    berth("login", berth.url, "--token", berth.token)
    return berth


def built(app, host, n: int) -> Build:
    return Build.objects.create(app=app, host=host, status=contracts.BUILD_SUCCEEDED, image=app.image_name,
                                image_id=f"sha256:{n}" + "0" * 63, image_size=1 << 20)


def take_job(task: str) -> list:
    """The next job on the test host's queue, as its agent would take it."""
    queued = redis.Redis.from_url(settings.REDIS_URL).brpop("host.test-host", timeout=10)
    assert queued is not None, f"no {task} job was queued"
    message = json.loads(queued[1])
    assert message["headers"]["task"] == task
    return json.loads(base64.b64decode(message["body"]))[0]


def agent(monkeypatch, *answers) -> list:
    """Answers each removal job queued, in turn, with the next of ``answers`` (a function of
    the job's arguments), whenever the CLI pauses between its polls. What is left unanswered
    is returned, for the test to see that every answer was given."""
    pending, pause = list(answers), time.sleep
    queue = redis.Redis.from_url(settings.REDIS_URL)

    def sleep(seconds):
        if pending and queue.llen("host.test-host"):
            answer = pending.pop(0)
            answer(take_job(answer.task))
        pause(0.01)
    monkeypatch.setattr(client.time, "sleep", sleep)
    return pending


def image_removed(job):
    record_build_event(job[0], {"image_removed": True})


def image_in_use(job):
    record_build_event(job[0], {"image_error": contracts.error(
        "invalid_state", f"image {job[1][7:19]} is used by container(s) web-1: remove them first")})


def volume_removed(job):
    record_volume_event(job[0], {"removed": True})


def volume_in_use(job):
    record_volume_event(job[0], {"users": [str(Container.objects.get().id)]})


image_removed.task = image_in_use.task = contracts.AGENT_REMOVE_IMAGE
volume_removed.task = volume_in_use.task = contracts.AGENT_REMOVE_VOLUME


# Images

def test_rmi_by_the_apps_name_untags_and_deletes_its_current_image(logged_in, app, host, monkeypatch):
    older, current = built(app, host, 1), built(app, host, 2)
    left = agent(monkeypatch, image_removed)
    code, out, err = logged_in("rmi", "web")
    assert left == []
    assert code == 0, err
    assert out == f"Untagged: {app.image_name}\nDeleted: {current.image_id}\n"
    assert Build.objects.get(id=current.id).image_removed and not Build.objects.get(id=older.id).image_removed
    code, out, _ = logged_in("images")
    assert [row[2] for row in cells(out, IMAGE_HEADINGS)] == [app.image_name]  # the older one is current now


@pytest.mark.parametrize("ref", ["image_name", "build_id", "image_id", "long_image_id"])
def test_rmi_takes_each_name_the_list_shows(logged_in, app, host, ref, monkeypatch):
    older, current = built(app, host, 1), built(app, host, 2)
    given = {"image_name": app.image_name, "build_id": str(older.id), "image_id": "100000000000",
             "long_image_id": older.image_id}[ref]
    left = agent(monkeypatch, image_removed)
    code, out, err = logged_in("image", "rm", given)
    assert left == []
    assert code == 0, err
    gone = current if ref == "image_name" else older
    assert out.splitlines()[-1] == f"Deleted: {gone.image_id}" and Build.objects.get(id=gone.id).image_removed


def test_rmi_of_an_image_a_container_uses_exits_1_with_the_hosts_reason(logged_in, app, host, monkeypatch):
    build = built(app, host, 1)
    left = agent(monkeypatch, image_in_use)
    code, out, err = logged_in("rmi", str(build.id))
    assert left == []
    assert code == 1 and out == ""
    assert f"berth: {build.id}: test-host refused: image 100000000000 is used by container(s) web-1" in err
    assert not Build.objects.get(id=build.id).image_removed


def test_rmi_of_several_goes_on_past_a_refusal_and_exits_1(logged_in, app, host, monkeypatch):
    first, again = built(app, host, 7), built(app, host, 7)  # a cached rebuild: the same image
    left = agent(monkeypatch, image_removed)
    code, out, err = logged_in("rmi", "nosuch", str(first.id), "999999", "web")
    assert left == []
    assert code == 1
    assert "berth: no image 'nosuch' in your teams (`berth images` lists them)" in err
    assert f"berth: Build #{again.id} made the same image: remove it there. (HTTP 400)" in err
    assert "berth: no image '999999' in your teams" in err
    assert out == f"Untagged: {app.image_name}\nDeleted: {again.image_id}\n"  # "web" was removed all the same


def test_rmi_of_an_ambiguous_image_id_asks_for_a_build_id(logged_in, app, host):
    one, two = built(app, host, 1), built(app, host, 2)
    Build.objects.filter(id=two.id).update(image_id="sha256:1" + "f" * 63)
    code, _, err = logged_in("rmi", "sha256:1")
    assert code == 1 and f"'sha256:1' names several images: give a build ID ({one.id}, {two.id})" in err


def test_rmi_without_an_image_exits_2_and_a_viewers_rmi_exits_1(logged_in, app, host, viewer, monkeypatch):
    with pytest.raises(SystemExit) as done:
        client.main(["rmi"])
    assert done.value.code == 2 and "the following arguments are required: IMAGE" in capsys_err(logged_in)
    build = built(app, host, 1)
    monkeypatch.setenv("BERTH_TOKEN", token_of(viewer))
    code, _, err = logged_in("rmi", str(build.id))
    assert code == 1 and "Viewers can look but not change anything. (HTTP 403)" in err


def token_of(user) -> str:
    from webui.api.models import ApiToken
    return ApiToken.issue(user, "cli")[1]


def test_rmi_says_so_when_the_host_does_not_answer(logged_in, app, host, monkeypatch):
    monkeypatch.setattr(client, "HOST_ANSWER_SECONDS", 0.3)
    build = built(app, host, 1)
    code, _, err = logged_in("rmi", str(build.id))
    assert code == 1 and "asked; no answer from the host in 0.3 s (it may be down)" in err
    take_job(contracts.AGENT_REMOVE_IMAGE)  # it was asked


def test_image_prune_removes_the_older_images_and_keeps_one_in_use(logged_in, app, host, monkeypatch):
    first, second, current = built(app, host, 1), built(app, host, 2), built(app, host, 3)
    left = agent(monkeypatch, image_removed, image_in_use)  # the older first: the API lists them newest first
    code, out, err = logged_in("image", "prune", "-f")
    assert left == []
    assert code == 0, err
    assert out == f"Deleted Images:\nDeleted: {second.image_id}\n\nRemoved 1 of 2 older image(s) of team alice; " \
                  "each app keeps its current one.\n"
    assert f"berth: kept build #{first.id}'s image: image 100000000000 is used by container(s) web-1" in err
    assert [b.image_removed for b in Build.objects.order_by("id")] == [False, True, False]
    assert Build.objects.get(id=current.id).image_error == ""


def test_image_prune_asks_first_and_a_no_prunes_nothing(logged_in, app, host, monkeypatch):
    built(app, host, 1), built(app, host, 2)
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, out, err = logged_in("image", "prune")
    assert code == 1 and "WARNING! This will remove every image of team alice but each app's current one." in out
    assert "berth: image prune has been cancelled" in err
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal: no answer is a no
    assert logged_in("image", "prune")[0] == 1
    assert redis.Redis.from_url(settings.REDIS_URL).llen("host.test-host") == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    left = agent(monkeypatch, image_removed)
    code, out, _ = logged_in("image", "prune")
    assert left == []
    assert code == 0 and "Removed 1 of 1 older image(s)" in out


def test_image_prune_needs_the_team_when_you_write_in_several(logged_in, owner, app, host):
    other = Team.objects.create(name="ops")
    Membership.objects.create(team=other, user=owner, role=Membership.MEMBER)
    code, _, err = logged_in("image", "prune", "-f")
    assert code == 1 and "say which team with --team; yours: " in err and "ops (member)" in err
    code, _, err = logged_in("image", "prune", "-f", "--team", "nosuch")
    assert code == 1 and "no team 'nosuch' among yours: " in err
    code, out, err = logged_in("image", "prune", "-f", "--team", "ops")
    assert code == 0 and out == "Removed 0 of 0 older image(s) of team ops; each app keeps its current one.\n"


# Volumes

def test_volume_create_ls_and_rm_of_an_unused_volume(logged_in, team):
    code, out, err = logged_in("volume", "create", "data")
    assert (code, out) == (0, "data\n"), err
    code, out, _ = logged_in("volume", "ls")
    assert cells(out, VOLUME_HEADINGS) == [["alice", "data", "not used yet", "", ""]]
    code, out, err = logged_in("volume", "rm", "data")
    assert (code, out) == (0, "data\n"), err
    assert not Volume.objects.exists()


@pytest.mark.parametrize("name, message", [
    ("a/b", "berth: name: “a/b” is not a volume name: use letters, digits and . _ -"),
    ("x" * 65, "berth: name: Ensure this value has at most 64 characters (it has 65)."),
    ("data", "berth: The team already has a volume named “data”. (HTTP 400)"),
])
def test_volume_create_refused_exits_1_with_the_servers_reason(logged_in, team, owner, name, message):
    Volume.objects.create(team=team, name="data", created_by=owner)
    code, out, err = logged_in("volume", "create", name)
    assert code == 1 and message in err and out == ""
    assert list(Volume.objects.values_list("name", flat=True)) == ["data"]


def test_volume_rm_waits_for_the_host_which_refuses_while_a_container_uses_it(logged_in, team, app, build, host,
                                                                             monkeypatch):
    Volume.objects.create(team=team, name="logs", host=host)
    user = Container.objects.create(app=app, build=build, host=host, ports=[], memory_mb=64,
                                    status=contracts.C_EXITED, volumes=["logs:/var/log"])
    code, out, _ = logged_in("volume", "ls")
    assert cells(out, VOLUME_HEADINGS) == [["alice", "logs", "test-host", f"{user.name} (exited)", ""]]
    left = agent(monkeypatch, volume_in_use)
    code, out, err = logged_in("volume", "rm", "logs")
    assert left == []
    assert code == 1 and out == ""
    reason = f"Volume logs is in use by {user.name}: remove them first (stopped ones too)."
    assert f"berth: logs: test-host refused: {reason}" in err
    assert cells(logged_in("volume", "ls")[1], VOLUME_HEADINGS)[0][4] == reason
    left = agent(monkeypatch, volume_removed)
    code, out, err = logged_in("volume", "rm", "logs")
    assert left == []
    assert (code, out) == (0, "logs\n"), err
    assert not Volume.objects.exists()


def test_volume_names_in_several_teams_need_the_team(logged_in, owner, team):
    other = Team.objects.create(name="ops")
    Membership.objects.create(team=other, user=owner, role=Membership.MEMBER)
    for t in (team, other):
        Volume.objects.create(team=t, name="data")
    code, _, err = logged_in("volume", "create", "cache")
    assert code == 1 and "say which team with --team" in err and not Volume.objects.filter(name="cache").exists()
    assert logged_in("volume", "create", "--team", "ops", "cache")[0] == 0
    assert Volume.objects.get(name="cache").team == other
    code, _, err = logged_in("volume", "rm", "data")
    assert code == 1 and "'data' names volumes in several teams (alice, ops): say which with --team" in err
    code, out, _ = logged_in("volume", "ls", "--team", "ops")
    assert [row[1] for row in cells(out, VOLUME_HEADINGS)] == ["cache", "data"]
    assert logged_in("volume", "rm", "--team", "ops", "data") == (0, "data\n", "")
    assert list(Volume.objects.values_list("team__name", "name").order_by("team__name", "name")) == [
        ("alice", "data"), ("ops", "cache")]
    code, _, err = logged_in("volume", "rm", "nosuch")
    assert code == 1 and "no volume 'nosuch' in your teams (`berth volume ls` lists them)" in err


def test_help_lists_the_image_and_volume_commands(berth, capsys):  # noqa: F811
    with pytest.raises(SystemExit):
        client.main(["--help"])
    out = capsys.readouterr().out
    for command in ("rmi", "image", "volume"):
        assert f"\n    {command} " in out, command
    assert "berth image prune -f" in out
    with pytest.raises(SystemExit) as done:
        client.main(["volume", "mv", "a", "b"])
    assert done.value.code == 2 and "invalid choice: 'mv' (choose from" in capsys.readouterr().err


def test_a_name_in_unicode_digits_is_a_name_not_an_id(logged_in, app, host):
    code, _, err = logged_in("rmi", "²")
    assert code == 1 and "no image '²' in your teams" in err
    code, _, err = logged_in("logs", "²")
    assert code == 1 and "no container '²' in your teams" in err
