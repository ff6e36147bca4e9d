"""The fair build queue with a real agent of one build slot: builds queued by two teams all
run, one at a time, taking turns across the teams, and a waiting build's page follows its
place in the queue live until it runs and succeeds."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from webui.api.client import Api

from .conftest import ROOT
from .pages import log_in

pytestmark = pytest.mark.e2e
STACK_SETTINGS = {"BERTH_BUILD_SLOTS": "1"}  # the web's queue and the agent alike

SEED_APPS = """
from django.contrib.auth import get_user_model
from webui.api.models import ApiToken
from webui.images.models import App
for name, count in (("alice", 3), ("bob", 1)):
    user = get_user_model().objects.get(username=name)
    for n in range(count):
        App.objects.create(team=user.teams.get(personal=True), name=f"queued{n}", created_by=user,
                           dockerfile=f"FROM busybox\\nRUN echo {name} {n} && sleep 3\\n")
    print(ApiToken.issue(user, "queue e2e")[1])
"""


def _apis(stack) -> tuple[Api, Api]:
    tokens = subprocess.run([sys.executable, "manage.py", "shell", "-c", SEED_APPS], cwd=ROOT, env=stack.env,
                            check=True, capture_output=True, text=True).stdout.split()
    alice, bob = [token for token in tokens if token.startswith("berth_")]  # the shell may say more
    return Api(stack.url, alice), Api(stack.url, bob)


def _build(api: Api) -> list[int]:
    apps = sorted((a for a in api.call("GET", "apps/") if a["name"].startswith("queued")), key=lambda a: a["id"])
    return [api.call("POST", f"apps/{a['id']}/build/", {"no_cache": True})["id"] for a in apps]


def test_queued_builds_all_run_one_at_a_time_taking_turns_across_teams(page, stack):
    alice, bob = _apis(stack)
    log_in(page, stack, "alice")
    a_builds = _build(alice)
    [b_build] = _build(bob)
    # Alice's first build took the only slot; Bob's one goes before her other two.
    assert alice.call("GET", f"builds/{a_builds[2]}/queue/")["queue_position"] == 3
    assert bob.call("GET", f"builds/{b_build}/queue/")["queue_position"] == 1

    page.goto(f"{stack.url}/builds/{a_builds[2]}/")
    page.wait_for_selector("#queue >> text=queued: position 2 of 2")  # Alice's first ended, Bob's went out
    page.wait_for_selector("#queue >> text=queued: position 1 of 1")  # Bob's ended, Alice's second went out
    page.wait_for_selector("#status >> text=running", timeout=60_000)
    assert page.is_hidden("#queue")
    page.wait_for_selector("#status >> text=succeeded", timeout=60_000)
    assert page.evaluate("document.body.dataset.connects") == "1"  # all heard on the page's first socket

    deadline = time.monotonic() + 60
    while stack.query("SELECT count(*) FROM images_build WHERE status = 'succeeded'")[0][0] < 4:
        assert time.monotonic() < deadline, stack.query("SELECT id, status, error FROM images_build")
        time.sleep(0.2)
    runs = stack.query("SELECT id, dispatched, finished FROM images_build ORDER BY dispatched")
    assert [build_id for build_id, _, _ in runs] == [a_builds[0], b_build, a_builds[1], a_builds[2]]
    for (_, _, finished), (_, dispatched, _) in zip(runs, runs[1:]):
        assert dispatched >= finished  # one slot: each went out once the one before had ended
