"""Requests at once cannot slip past a quota or a build slot together: twenty runs sent at
the same moment through the real HTTP API against a quota of five start exactly five, and
dispatchers racing never hand out one build or one slot twice."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
import redis

from ..conftest import REDIS_PORT
from .own_server import start_own_server

REDIS_DB = 3
SEED_TEAM = """
from django.contrib.auth import get_user_model
from django.utils import timezone
from webui.api.models import ApiToken
from webui.hosts.models import Host
from webui.images.models import App, Build
user = get_user_model().objects.create_user({name!r}, password="pw")
team = user.teams.get(personal=True)
for field, value in {quota!r}.items():
    setattr(team.quota, field, value)
team.quota.save()
host, _ = Host.objects.get_or_create(name="race-host", defaults=dict(cpus=64, memory_bytes=64 << 30,
                                                                      last_seen=timezone.now()))
app = App.objects.create(team=team, name="web", dockerfile="FROM busybox", ports=[], memory_mb=64, cpus=0.5,
                         created_by=user)
Build.objects.create(app=app, host=host, status="succeeded", image=app.image_name, image_id="sha256:1")
emit({{"app": app.id, "team": team.id, "token": ApiToken.issue(user, "race")[1]}})
"""
COUNT_CONTAINERS = """
from webui.containers.models import Container
emit(Container.objects.filter(app_id={app}).count())
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_server):
    # Hosts seeded by hand send no heartbeats: they stay up for the test's length.
    own = start_own_server(tmp_path_factory.mktemp("own-server"), REDIS_DB, BERTH_HOST_TIMEOUT_SECONDS="3600",
                           BERTH_BUILD_SLOTS="2")
    yield own
    own.stop()
    redis.Redis(port=REDIS_PORT, db=REDIS_DB).flushdb()


def post_all_at_once(url: str, token: str, count: int) -> list[tuple[int, dict]]:
    """``count`` POSTs released together by a barrier; each answer's status and JSON."""
    barrier, answers = threading.Barrier(count), [None] * count

    def send(n):
        request = urllib.request.Request(url, method="POST", data=b"",
                                         headers={"Authorization": f"Bearer {token}"})
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as refused:
            status, body = refused.code, refused.read()
        try:
            answers[n] = (status, json.loads(body))
        except ValueError:  # a server error's page
            answers[n] = (status, {"page": body.decode(errors="replace")[:300]})
    threads = [threading.Thread(target=send, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.parametrize("name, quota, refusal", [
    ("count", {"max_containers": 5},
     "Quota exceeded: running containers — the team runs 5 of its 5 containers."),
    ("memory", {"max_containers": 100, "max_memory_mb": 5 * 64},
     "Quota exceeded: total memory — the team's containers hold 320 MB of its 320 MB; this one asks for 64 MB more."),
])
def test_twenty_runs_at_once_against_a_quota_of_five_start_exactly_five(server, name, quota, refusal):
    seeded = server.django(SEED_TEAM.format(name=name, quota=quota))
    answers = post_all_at_once(f"{server.url}/api/apps/{seeded['app']}/run/", seeded["token"], 20)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [202] * 5 + [400] * 15, answers
    assert {body.get("detail") for status, body in answers if status == 400} == {refusal}
    assert server.django(COUNT_CONTAINERS.format(app=seeded["app"])) == 5
    request = urllib.request.Request(f"{server.url}/api/teams/{seeded['team']}/quota/",
                                     headers={"Authorization": f"Bearer {seeded['token']}"})
    use = {q["quota"]: q for q in json.loads(urllib.request.urlopen(request).read())["quotas"]}
    assert use["running containers"]["in_use"] == 5 and use["total memory"]["in_use"] == 320


RACE = """
import threading
from collections import Counter
from django.contrib.auth import get_user_model
from django.db import connections
from django.utils import timezone
from webui.hosts.models import Host
from webui.images import build_queue
from webui.images.models import App, Build
Host.objects.update(cordoned=True)  # the other tests' host takes no build
for n in range(2):
    Host.objects.create(name=f"slot-host-{n}", cpus=4, memory_bytes=64 << 30, last_seen=timezone.now())
user = get_user_model().objects.create_user("racer", password="pw")
team = user.teams.get(personal=True)
for n in range(12):
    Build.objects.create(app=App.objects.create(team=team, name=f"r{n}", dockerfile="FROM busybox", created_by=user))
barrier, handed = threading.Barrier(8), []
def dispatcher():
    barrier.wait()
    for _ in range(3):
        handed.extend(build.id for build in build_queue.dispatch())
    connections.close_all()
threads = [threading.Thread(target=dispatcher) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
per_host = Counter(Build.objects.filter(dispatched__isnull=False).values_list("host__name", flat=True))
emit({"handed": handed, "per_host": dict(per_host)})
"""


def test_dispatchers_racing_never_hand_out_a_build_or_a_slot_twice(server):
    # Two hosts of two slots each (BERTH_BUILD_SLOTS=2), twelve builds waiting, eight dispatchers at once.
    outcome = server.django(RACE)
    assert len(outcome["handed"]) == len(set(outcome["handed"])) == 4
    assert outcome["per_host"] == {"slot-host-0": 2, "slot-host-1": 2}
