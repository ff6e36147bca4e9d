"""Build args, target and no-cache: from the app page's build form to the job the host gets."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest
from django.test import Client

from workers import streams

pytestmark = pytest.mark.django_db


def queued_build_job(queue) -> dict:
    raw = queue.lrange("host.test-host", 0, -1)
    assert len(raw) == 1, "one build job on the host's queue"
    return json.loads(base64.b64decode(json.loads(raw[0])["body"]))[0][0]


def _post(user, app, **data):
    client = Client()
    client.force_login(user)
    return client.post(f"/apps/{app.id}/build/", data, follow=True)


def test_build_args_target_and_no_cache_reach_the_host(owner, app, host, queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(owner, app, build_args="VERSION=1.2\n\nGREETING=hello world=yes\n", target="final",
                         no_cache="on")
    job = queued_build_job(queue)
    assert job["build_args"] == {"VERSION": "1.2", "GREETING": "hello world=yes"}
    assert job["target"] == "final" and job["no_cache"] is True
    page = response.content.decode()
    assert "--build-arg VERSION=1.2" in page and "--target final" in page and "--no-cache" in page


def test_a_plain_build_sends_no_options(owner, app, host, queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _post(owner, app)
    job = queued_build_job(queue)
    assert (job["build_args"], job["target"], job["no_cache"]) == ({}, "", False)


@pytest.mark.parametrize("data, message", [
    ({"build_args": "VERSION"}, "Line 1: &#x27;VERSION&#x27; is not NAME=value"),
    ({"build_args": "OK=1\n9LIVES=yes"}, "Line 2: &#x27;9LIVES=yes&#x27; is not NAME=value"),
    ({"build_args": "A=1\nA=2"}, "Line 2: A is given twice."),
    ({"target": "-final"}, "A stage name starts with a letter"),
])
def test_bad_build_options_are_refused_and_nothing_is_queued(owner, app, host, queue, data, message):
    page = _post(owner, app, **data).content.decode()
    assert message in page
    assert not app.builds.exists() and queue.llen("host.test-host") == 0


def test_cancelling_a_queued_build_ends_it_and_tells_the_host(owner, app, host, queue,
                                                              django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _post(owner, app)
    build = app.builds.get()
    client = Client()
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(f"/builds/{build.id}/cancel/", follow=True).content.decode()
    build.refresh_from_db()
    assert build.status == "failed" and build.error == "Cancelled by alice before it started."
    assert "Cancelling: the running step is stopped" in page
    assert queue.exists(streams.build_cancel(build.id))  # the agent that takes the job sees it
    again = client.post(f"/builds/{build.id}/cancel/", follow=True).content.decode()
    assert f"Build #{build.id} has already failed." in again


def test_a_viewer_cannot_cancel_and_another_team_gets_404(owner, viewer, outsider, app, host, queue,
                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _post(owner, app)
    build = app.builds.get()
    queue.delete(streams.build_cancel(build.id))  # IDs start again in each test's database; Redis keeps keys
    watcher = Client()
    watcher.force_login(viewer)
    assert "Viewers cannot cancel builds." in watcher.post(f"/builds/{build.id}/cancel/", follow=True).content.decode()
    stranger = Client()
    stranger.force_login(outsider)
    assert stranger.post(f"/builds/{build.id}/cancel/").status_code == 404
    build.refresh_from_db()
    assert build.status == "queued" and not queue.exists(streams.build_cancel(build.id))


def test_a_build_gets_the_build_limits_lowered_to_the_teams_quota(owner, team, app, host, queue, settings,
                                                                   django_capture_on_commit_callbacks):
    settings.BERTH_BUILD_MEMORY_MB, settings.BERTH_BUILD_CPUS = 1024, 2.0
    team.quota.max_memory_mb, team.quota.max_cpus = 256, 0.5
    team.quota.save()
    with django_capture_on_commit_callbacks(execute=True):
        _post(owner, app)
    job = queued_build_job(queue)
    assert job["memory_bytes"] == 256 << 20 and job["cpus"] == 0.5


@pytest.mark.parametrize("value, message", [("lots", "BERTH_BUILD_CPUS='lots' is not a number"),
                                            ("0", "BERTH_BUILD_CPUS='0' must be more than 0")])
def test_a_bad_build_cpus_setting_stops_the_web_at_start_up(value, message):
    env = dict(os.environ, BERTH_BUILD_CPUS=value)
    result = subprocess.run([sys.executable, "-c", "import webui.settings"], env=env, capture_output=True, text=True)
    assert result.returncode != 0 and message in result.stderr
