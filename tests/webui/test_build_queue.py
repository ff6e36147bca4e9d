"""The fair build queue: builds wait without a host, go out as slots free in turns across
teams, show their place (on the page, live, and in the API), and leave when cancelled."""
from __future__ import annotations

import asyncio
import base64
import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import Client
from django.utils import timezone

from webui.api.models import ApiToken
from webui.core import live
from webui.hosts.models import Host
from webui.images import actions, build_queue
from webui.images.models import App, Build
from workers import contracts
from workers.control import tasks as control

pytestmark = pytest.mark.django_db
DOCKERFILE = 'FROM busybox\nCMD ["sleep", "600"]\n'


@pytest.fixture
def one_slot(settings, host, queue):
    """One host with one build slot."""
    settings.BERTH_BUILD_SLOTS = 1
    return host


def apps_of(team, user, count: int, prefix: str) -> list[App]:
    team.quota.max_builds = count
    team.quota.save()
    return [App.objects.create(team=team, name=f"{prefix}{n}", dockerfile=DOCKERFILE, created_by=user)
            for n in range(count)]


def sent_builds(queue, host="test-host") -> list[int]:
    """The build IDs sent to the host's queue, oldest first."""
    return [json.loads(base64.b64decode(json.loads(raw)["body"]))[0][0]["build_id"]
            for raw in reversed(queue.lrange(f"host.{host}", 0, -1))]


def finish(build_id: int) -> None:
    actions.record_build_event(build_id, {"status": contracts.BUILD_RUNNING})
    actions.record_build_event(build_id, {"status": contracts.BUILD_SUCCEEDED, "image": "x", "image_id": "sha256:x"})


def queue_page_text(user, build_id: int) -> str:
    client = Client()
    client.force_login(user)
    html = client.get(f"/builds/{build_id}/").content.decode()
    return html.split('<p id="queue"', 1)[1].split(">", 1)[1].split("</p>", 1)[0]


@pytest.fixture
def twenty_and_one(owner, team, outsider, one_slot, django_capture_on_commit_callbacks):
    """Team A (alice) queues twenty builds, then team B (bob) one."""
    a_builds = []
    with django_capture_on_commit_callbacks(execute=True):
        for app in apps_of(team, owner, 20, "a"):
            a_builds.append(actions.start_build(owner, app).id)
        b_build = actions.start_build(outsider, apps_of(outsider.teams.get(), outsider, 1, "b")[0]).id
    return a_builds, b_build


def test_one_teams_twenty_builds_do_not_starve_anothers_one(twenty_and_one, queue, django_capture_on_commit_callbacks):
    a_builds, b_build = twenty_and_one
    assert sent_builds(queue) == [a_builds[0]]  # the only slot
    assert Build.objects.filter(dispatched=None, host=None).count() == 20  # waiting, no host
    for _ in range(21):
        with django_capture_on_commit_callbacks(execute=True):
            finish(sent_builds(queue)[-1])
    # B's one build goes second: team A already held the slot when it was queued.
    assert sent_builds(queue) == [a_builds[0], b_build, *a_builds[1:]]
    assert Build.objects.filter(status=contracts.BUILD_SUCCEEDED).count() == 21


def test_positions_are_told_and_shift_when_a_build_finishes_or_is_cancelled(
        owner, outsider, twenty_and_one, queue, django_capture_on_commit_callbacks):
    a_builds, b_build = twenty_and_one
    http = Client(headers={"Authorization": f"Bearer {ApiToken.issue(owner, 'queue')[1]}"})

    def place(build_id):
        answer = http.get(f"/api/builds/{build_id}/queue/").json()
        return answer["queue_position"], answer["queue_length"]

    assert queue_page_text(outsider, b_build) == "queued: position 1 of 20"
    assert [place(b) for b in a_builds[:3]] == [(None, 20), (2, 20), (3, 20)]
    assert queue_page_text(owner, a_builds[0]) == "queued: handed to test-host, starting"
    assert queue_page_text(owner, a_builds[19]) == "queued: position 20 of 20"

    with django_capture_on_commit_callbacks(execute=True):
        actions.cancel_build(owner, Build.objects.get(id=a_builds[4]))  # waiting: it leaves the queue
    assert Build.objects.get(id=a_builds[4]).status == contracts.BUILD_FAILED
    assert place(a_builds[4]) == (None, 19) and place(a_builds[5]) == (5, 19)
    assert queue_page_text(owner, a_builds[19]) == "queued: position 19 of 19"

    with django_capture_on_commit_callbacks(execute=True):
        finish(a_builds[0])  # B's build takes the slot; A's move up
    assert queue_page_text(outsider, b_build) == "queued: handed to test-host, starting"
    assert place(a_builds[1]) == (1, 18) and place(a_builds[19]) == (18, 18)
    assert http.get(f"/api/builds/{b_build}/queue/").status_code == 404  # another team's


def test_cancelling_a_build_handed_out_but_not_started_frees_its_slot(
        owner, twenty_and_one, queue, django_capture_on_commit_callbacks):
    a_builds, b_build = twenty_and_one
    with django_capture_on_commit_callbacks(execute=True):
        actions.cancel_build(owner, Build.objects.get(id=a_builds[0]))
    cancelled = Build.objects.get(id=a_builds[0])
    assert cancelled.status == contracts.BUILD_FAILED and cancelled.error == "Cancelled by alice before it started."
    assert sent_builds(queue) == [a_builds[0], b_build]  # the next in turn got the slot
    # The host's late report of the cancelled build changes nothing.
    actions.record_build_event(a_builds[0], {"status": contracts.BUILD_RUNNING})
    assert Build.objects.get(id=a_builds[0]).status == contracts.BUILD_FAILED


def test_the_page_hears_its_new_place_live(owner, twenty_and_one, queue, django_capture_on_commit_callbacks):
    a_builds, _ = twenty_and_one
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(live.group_name("build", a_builds[3]), channel)

    async def next_state():
        return (await asyncio.wait_for(layer.receive(channel), 5))["state"]
    try:
        with django_capture_on_commit_callbacks(execute=True):
            finish(a_builds[0])
        assert async_to_sync(next_state)() == {"status": "queued", "error": "", "queue": "queued: position 3 of 19",
                                               "notice": ""}
    finally:
        async_to_sync(layer.group_discard)(live.group_name("build", a_builds[3]), channel)


def test_a_heartbeat_of_a_new_host_hands_it_the_waiting_builds(owner, team, one_slot, queue, settings,
                                                               django_capture_on_commit_callbacks):
    settings.BERTH_BUILD_SLOTS = 2
    with django_capture_on_commit_callbacks(execute=True):
        builds = [actions.start_build(owner, app).id for app in apps_of(team, owner, 4, "h")]
    assert sent_builds(queue) == builds[:2]
    Host.objects.filter(name="test-host").update(cordoned=True)  # a build never goes to a cordoned host
    queue.delete("host.second-host")
    Host.objects.create(name="second-host", cpus=2, memory_bytes=8 << 30, last_seen=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        control.heartbeat.run({"name": "second-host", "cpus": 2, "memory_bytes": 8 << 30})
        control.heartbeat.run({"name": "second-host", "cpus": 2, "memory_bytes": 8 << 30})  # again: nothing more
    assert sent_builds(queue, "second-host") == builds[2:]
    assert build_queue.dispatch() == []


def test_a_build_goes_only_to_a_host_with_its_labels_and_others_pass_it(owner, team, one_slot, queue,
                                                                         django_capture_on_commit_callbacks):
    Host.objects.create(name="ssd-host", cpus=2, memory_bytes=8 << 30, labels={"disk": "ssd"},
                        last_seen=timezone.now())
    queue.delete("host.ssd-host")
    first, picky, plain = apps_of(team, owner, 3, "l")
    App.objects.filter(id=picky.id).update(host_labels={"disk": "ssd"})
    picky.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        # The first two fill both hosts' slots (test-host carries no label); the third waits.
        ids = [actions.start_build(owner, app).id for app in (first, plain, picky)]
    assert Build.objects.get(id=ids[2]).dispatched is None
    with django_capture_on_commit_callbacks(execute=True):
        finish(next(b for b in ids[:2] if b in sent_builds(queue)))  # test-host's slot frees: not for it
    assert Build.objects.get(id=ids[2]).dispatched is None
    with django_capture_on_commit_callbacks(execute=True):
        finish(sent_builds(queue, "ssd-host")[0])
    assert sent_builds(queue, "ssd-host")[-1] == ids[2]


def test_a_build_no_host_could_take_is_refused_with_the_reason(owner, app, one_slot):
    App.objects.filter(id=app.id).update(host_labels={"gpu": "yes"})
    app.refresh_from_db()
    with pytest.raises(Exception, match=r"No host that is up carries the labels the app asks for \(gpu=yes\)"):
        actions.start_build(owner, app)
    assert not app.builds.exists()
