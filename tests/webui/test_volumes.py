"""A team's named volumes: made on the volumes page, mounted through an app's settings, kept
apart from other teams', and removed through the host agent, which refuses while in use."""
from __future__ import annotations

import base64
import json
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from runtime.build.builder import BuildOptions, build as build_image
from webui.accounts.models import Membership
from webui.images.models import App, Build
from webui.volumes.models import Volume
from workers import contracts
from workers.agent import tasks
from workers.control.tasks import volume_event


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def settings_of(app, volumes: str) -> dict:
    return {"ports": "", "memory_mb": "32", "cpus": "0.5", "restart_policy": "no", "volumes": volumes}


def queued(queue, task: str) -> list:
    """The arguments of each ``task`` job queued for the test host, oldest first."""
    found = []
    for raw in reversed(queue.lrange("host.test-host", 0, -1)):
        message = json.loads(raw)
        if message["headers"]["task"] == task:
            found.append(json.loads(base64.b64decode(message["body"]))[0])
    return found


@pytest.fixture
def data(team, owner):
    return Volume.objects.create(team=team, name="data", created_by=owner)


def test_a_member_creates_a_volume_and_a_viewer_cannot(owner, viewer, team):
    response = client_for(owner).post(f"/teams/{team.id}/volumes/", {"name": "site-data"}, follow=True)
    assert "Volume site-data created" in response.content.decode()
    assert team.volumes.get().name == "site-data"
    response = client_for(viewer).post(f"/teams/{team.id}/volumes/", {"name": "other"})
    assert response.status_code == 400 and "Viewers cannot create volumes." in response.content.decode()


@pytest.mark.parametrize("name, why", [("a/b", "is not a volume name"), ("..", "is not a volume name"),
                                       (".hidden", "is not a volume name"), ("x" * 65, "at most 64 characters")])
def test_a_bad_volume_name_is_refused_naming_it(owner, team, name, why):
    response = client_for(owner).post(f"/teams/{team.id}/volumes/", {"name": name})
    assert response.status_code == 400 and why in response.content.decode()
    assert not team.volumes.exists()


def test_another_team_neither_sees_nor_mounts_nor_removes_the_volume(outsider, team, data, queue):
    client = client_for(outsider)
    assert client.get(f"/teams/{team.id}/volumes/").status_code == 404
    assert client.post(f"/volumes/{data.id}/remove/").status_code == 404
    theirs = App.objects.create(team=outsider.teams.get(), name="theirs", dockerfile="FROM busybox\n", memory_mb=32)
    response = client.post(f"/apps/{theirs.id}/settings/", settings_of(theirs, "data:/data"))
    assert response.status_code == 400
    assert "The team bob has no volume “data”: create it on its Volumes page first." in response.content.decode()
    assert Volume.objects.filter(id=data.id).exists() and queued(queue, contracts.AGENT_REMOVE_VOLUME) == []


@pytest.mark.parametrize("line, why", [
    ("data", "is not NAME:/PATH"), ("data:/", "would hide the whole root of the container"),
    ("data:relative", "must be absolute"), ("data:/a/../etc", "must not contain “..”"),
    ("data:/data:rx", "is not NAME:/PATH"), ("data:/d\ndata:/d", "/d is mounted twice")])
def test_bad_mount_lines_are_refused_naming_what_is_wrong(owner, app, data, line, why):
    response = client_for(owner).post(f"/apps/{app.id}/settings/", settings_of(app, line))
    assert response.status_code == 400 and why in response.content.decode()


def test_a_host_path_is_for_admins_only(owner, team, app):
    response = client_for(owner).post(f"/apps/{app.id}/settings/", settings_of(app, "/etc:/host-etc:ro"))
    assert response.status_code == 400
    assert "Mounting the host path /etc is for admins only: use one of the team&#x27;s named volumes." in \
        response.content.decode()
    admin = get_user_model().objects.create_superuser("root-admin", password="pw-admin")
    Membership.objects.create(team=team, user=admin, role=Membership.MEMBER)
    assert client_for(admin).post(f"/apps/{app.id}/settings/", settings_of(app, "/etc:/host-etc:ro")).status_code == 302
    app.refresh_from_db()
    assert app.volumes == ["/etc:/host-etc:ro"]
    # Its members may keep what an admin mounted, while changing other settings.
    assert client_for(owner).post(f"/apps/{app.id}/settings/", settings_of(app, "/etc:/host-etc:ro")).status_code == 302


def test_the_run_job_carries_the_teams_runtime_names(owner, team, app, build, data, queue,
                                                     django_capture_on_commit_callbacks):
    client = client_for(owner)
    assert client.post(f"/apps/{app.id}/settings/", settings_of(app, "data:/data:ro")).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/apps/{app.id}/run/")
    [[job]] = queued(queue, contracts.AGENT_RUN)
    assert job["volumes"] == [f"team{team.id}-data:/data:ro"]
    data.refresh_from_db()
    assert data.host == build.host  # its files are made on the host of its first container


def test_an_old_run_job_without_volumes_still_runs():
    assert tasks._run_options({"team": "1"})["volumes"] == ()


# Through the agent's task functions, with real containers.

def _app_with_image(ctx, team, host, owner, tmp_path, name: str, command: list[str], volumes: list[str]) -> App:
    app = App.objects.create(team=team, name=name, dockerfile="", memory_mb=32, cpus=0.5, volumes=volumes,
                             created_by=owner)
    image = build_image(ctx.containers.config, ctx.store, f"FROM busybox\nCMD {json.dumps(command)}\n", tmp_path,
                        BuildOptions(tag=f"team{team.id}/{name}:latest", memory_bytes=64 << 20), lambda _: None)
    Build.objects.create(app=app, host=host, status=contracts.BUILD_SUCCEEDED, image=image.name,
                         image_id=image.id)
    return app


def _run(ctx, made, client, queue, app, capture) -> tuple[dict, str]:
    """Run the app from the web, run its job on the host, and return the job and the output."""
    with capture(execute=True):
        assert client.post(f"/apps/{app.id}/run/").status_code == 302
    [job] = queued(queue, contracts.AGENT_RUN)[-1]
    made.append(job["runtime_id"])
    tasks._run(ctx, job)
    deadline = time.monotonic() + 10
    while ctx.containers.get(job["runtime_id"]).status.state != "exited":
        assert time.monotonic() < deadline, "the container did not exit"
        time.sleep(0.05)
    return job, "\n".join(line.text for line in ctx.containers.logs(job["runtime_id"]))


def _remove(ctx, made, runtime_id: str) -> None:
    ctx.containers.remove(runtime_id)
    made.remove(runtime_id)


def _answer_removal(ctx, queue, volume: Volume) -> None:
    """The agent's side of the removal the web queued, and the control worker's record of it."""
    volume_id, runtime_name = queued(queue, contracts.AGENT_REMOVE_VOLUME)[-1]
    ctx.redis.delete("control")
    tasks._remove_volume(ctx, volume_id, runtime_name)
    for raw in ctx.redis.lrange("control", 0, -1):
        message = json.loads(raw)
        if message["headers"]["task"] == contracts.CONTROL_VOLUME_EVENT:
            volume_event(*json.loads(base64.b64decode(message["body"]))[0])


@pytest.mark.root
def test_a_file_written_by_one_container_is_read_by_the_next_and_kept_until_removal(
        agent, owner, team, host, data, queue, tmp_path, django_capture_on_commit_callbacks):
    ctx, made = agent
    client = client_for(owner)
    writer = _app_with_image(ctx, team, host, owner, tmp_path, "writer", ["sh", "-c", "echo kept > /data/note"],
                             ["data:/data"])
    reader = _app_with_image(ctx, team, host, owner, tmp_path, "reader", ["cat", "/data/note"], ["data:/data:ro"])
    first, _ = _run(ctx, made, client, queue, writer, django_capture_on_commit_callbacks)
    _remove(ctx, made, first["runtime_id"])
    _, out = _run(ctx, made, client, queue, reader, django_capture_on_commit_callbacks)
    assert out == "kept"

    # The reader (exited, not removed) still uses it: the host refuses, and the page says why.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/volumes/{data.id}/remove/")
    _answer_removal(ctx, queue, data)
    page = client.get(f"/teams/{team.id}/volumes/").content.decode()
    reader_container = reader.containers.get()
    assert f"Volume data is in use by {reader_container.name}: remove them first (stopped ones too)." in page
    assert ctx.containers.volumes.path(data.runtime_name).joinpath("note").read_text() == "kept\n"

    _remove(ctx, made, reader_container.runtime_id)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/volumes/{data.id}/remove/")
    _answer_removal(ctx, queue, data)
    assert not Volume.objects.filter(id=data.id).exists()
    assert not ctx.containers.volumes.path(data.runtime_name).exists()


@pytest.mark.root
def test_a_read_only_mount_refuses_writes(agent, owner, team, host, data, queue, tmp_path,
                                          django_capture_on_commit_callbacks):
    ctx, made = agent
    app = _app_with_image(ctx, team, host, owner, tmp_path, "scribbler",
                          ["sh", "-c", "echo x > /data/new 2>&1; echo status=$?"], ["data:/data:ro"])
    job, out = _run(ctx, made, client_for(owner), queue, app, django_capture_on_commit_callbacks)
    assert "Read-only file system" in out and "status=1" in out
    assert not ctx.containers.volumes.path(data.runtime_name).joinpath("new").exists()
    _remove(ctx, made, job["runtime_id"])
    ctx.containers.remove_volume(data.runtime_name)
