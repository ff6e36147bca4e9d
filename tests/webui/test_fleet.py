"""The fleet as the control sees it, against the real test Redis: joining with a token,
placement, a host going down (its containers lost, restart-always ones started elsewhere),
coming back, drain, labels and removal. tests/fleet runs the same with three real agents."""
from __future__ import annotations

import base64
import json

import pytest

from webui.audit.models import AuditEntry
from webui.containers.actions import remove_container, run_app
from webui.containers.models import Container
from webui.core.errors import UserError
from webui.hosts import actions, placement
from webui.hosts.models import Host, JoinToken
from workers import contracts, streams

pytestmark = pytest.mark.django_db(transaction=True)


def _beat(name: str, alive: bool = True, **info) -> Host | None:
    if alive:  # what the agent sets before each heartbeat
        actions._redis().set(streams.host_alive(name), "1", ex=streams.HOST_ALIVE_SECONDS)
    return actions.record_heartbeat({"name": name, "cpus": 2, "memory_bytes": 1 << 30, **info})


def _die(name: str) -> None:
    actions._redis().delete(streams.host_alive(name))


def _queued(queue, host_name: str) -> list[tuple[str, list]]:
    """(task name, arguments) of each job waiting on a host's queue, oldest last."""
    messages = [json.loads(m) for m in queue.lrange(f"host.{host_name}", 0, -1)]
    return [(m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0]) for m in messages]


def _queued_runs(queue, host_name: str) -> list[dict]:
    return [args[0] for task, args in _queued(queue, host_name) if task == contracts.AGENT_RUN]


@pytest.fixture
def fleet(host, queue):
    """Three hosts up: test-host (the build's) and two more, 1 GB each."""
    _, token = JoinToken.issue("tests")
    hosts = [_beat(host.name)] + [_beat(f"h{i}", join_token=token) for i in (2, 3)]
    yield hosts
    for h in hosts:
        _die(h.name)


def test_an_unknown_host_joins_only_with_a_valid_token(db, queue):
    assert _beat("stranger") is None
    refusal = actions._redis().getdel(streams.join_refusal("stranger"))
    assert b"join token" in refusal
    assert _beat("stranger", join_token="berthjoin_forged") is None
    assert _beat("stranger", join_token="berthjoin_forged") is None
    token_row, token = JoinToken.issue("rack 2")
    assert _beat("stranger", join_token=token).join_token == token_row
    assert not actions._redis().exists(streams.join_refusal("stranger")), "the agent is not told of the old refusal"
    actions.revoke_join_token(None, token_row)
    assert _beat("latecomer", join_token=token) is None, "a revoked token lets no new host in"
    assert _beat("stranger") is not None, "a host that joined stays without sending the token again"
    assert not Host.objects.filter(name="latecomer").exists()


def test_runs_spread_over_the_hosts_and_skip_cordoned_ones(fleet, app, build):
    build.registry_ref = "10.0.0.1:5000/team1/web:build-1"
    build.save()
    app.ports = []
    app.save()
    first = [run_app(None, app).host.name for _ in range(3)]
    assert sorted(first) == ["h2", "h3", "test-host"]
    actions.set_cordoned(None, Host.objects.get(name="h3"), True)
    more = [run_app(None, app).host.name for _ in range(4)]
    assert "h3" not in more and sorted(more) == ["h2", "h2", "test-host", "test-host"]


def test_without_a_shared_registry_runs_stay_on_the_build_host(fleet, app, build):
    app.ports = []
    app.save()
    assert {run_app(None, app).host.name for _ in range(3)} == {"test-host"}
    actions.set_cordoned(None, Host.objects.get(name="test-host"), True)
    with pytest.raises(UserError, match="only on host test-host.*share no registry"):
        run_app(None, app)


def test_labels_and_memory_decide_where_a_run_may_go(fleet, app, build):
    build.registry_ref = "10.0.0.1:5000/team1/web:build-1"
    build.save()
    app.ports, app.host_labels = [], {"disk": "ssd"}
    app.save()
    with pytest.raises(UserError, match=r"carries the labels the app asks for \(disk=ssd\)"):
        run_app(None, app)
    actions.set_labels(None, Host.objects.get(name="h2"), actions.parse_labels("disk=ssd\n\nzone = a\n"))
    assert run_app(None, app).host.name == "h2"
    app.memory_mb = 1000  # h2 has 1024 MB, 64 of them promised
    app.save()
    with pytest.raises(UserError, match="1000 MB of memory left"):
        run_app(None, app)


@pytest.mark.parametrize("text, message", [
    ("disk", "Line 1 “disk” is not a label"),
    ("a=b\n=c", "Line 2"),
    ("a=b\na=c", "the label a is given twice"),
    ("k=" + "v" * 64, "up to 63"),
])
def test_bad_labels_are_refused_naming_the_line(text, message):
    with pytest.raises(UserError, match=message):
        actions.parse_labels(text)


def test_a_silent_host_is_marked_down_and_its_restart_always_container_moves(fleet, app, build, queue):
    build.registry_ref = "10.0.0.1:5000/team1/web:build-1"
    build.save()
    app.ports, app.restart_policy = [], "always"
    app.save()
    keeper = run_app(None, app)
    plain = run_app(None, app, {"restart_policy": "no"})
    Container.objects.filter(id__in=[keeper.id, plain.id]).update(status=contracts.C_RUNNING)
    dead = keeper.host
    Container.objects.filter(id=plain.id).update(host=dead)
    assert actions.mark_down_hosts() == [], "every host is alive"

    _die(dead.name)
    assert [h.name for h in actions.mark_down_hosts()] == [dead.name]
    assert actions.mark_down_hosts() == [], "marked down once"
    dead.refresh_from_db()
    assert not dead.is_up and dead.down_since is not None
    keeper.refresh_from_db()
    plain.refresh_from_db()
    assert (keeper.status, plain.status) == (contracts.C_LOST, contracts.C_LOST)
    assert f"Host {dead.name} stopped sending heartbeats" in plain.error
    twin = Container.objects.get(replaces=keeper)
    assert twin.host != dead and twin.status == contracts.C_PENDING and twin.restart_policy == "always"
    assert not Container.objects.filter(replaces=plain).exists()
    entry = AuditEntry.objects.get(action="container.replace")
    assert (entry.username, entry.object_id, entry.details["replaces"]) == ("", str(twin.id), keeper.id)
    assert [job["container_id"] for job in _queued_runs(queue, twin.host.name)].count(twin.id) == 1
    assert _queued_runs(queue, twin.host.name)[0]["image"] == build.registry_ref, "pulled from the registry"

    # The host comes back with both containers still running under their monitors.
    _beat(dead.name, states={str(keeper.id): "running", str(plain.id): "running"})
    dead.refresh_from_db()
    keeper.refresh_from_db()
    plain.refresh_from_db()
    assert dead.is_up
    assert plain.status == contracts.C_RUNNING and plain.error == ""
    assert keeper.status == contracts.C_LOST, "replaced: removed on its host, not run twice"
    assert (contracts.AGENT_REMOVE, [keeper.id, keeper.runtime_id, True]) in _queued(queue, dead.name)


def test_a_beat_that_waited_in_the_queue_does_not_bring_a_dead_host_back(fleet):
    dead = fleet[1]
    _die(dead.name)
    actions.mark_down_hosts()
    _beat(dead.name, alive=False, states={})
    dead.refresh_from_db()
    assert not dead.is_up


def test_drain_moves_what_must_keep_running_and_stops_the_rest(fleet, app, build, queue):
    build.registry_ref = "10.0.0.1:5000/team1/web:build-1"
    build.save()
    app.ports = []
    app.save()
    target = Host.objects.get(name="h2")
    for policy in ("always", "no"):
        c = run_app(None, app, {"restart_policy": policy})
        Container.objects.filter(id=c.id).update(host=target, status=contracts.C_RUNNING)
    queue.delete("host.h2")
    assert actions.drain_host(None, target) == (1, 1)
    target.refresh_from_db()
    assert target.cordoned
    assert sorted(task for task, _ in _queued(queue, "h2")) == sorted([contracts.AGENT_REMOVE, contracts.AGENT_STOP])
    moved = Container.objects.get(replaces__isnull=False)
    assert moved.host.name != "h2"


def test_a_host_with_containers_cannot_be_removed(fleet, container):
    with pytest.raises(UserError, match="still has 1 container"):
        actions.remove_host(None, container.host)
    Container.objects.filter(id=container.id).update(status=contracts.C_REMOVED)
    actions.remove_host(None, container.host)
    assert not Host.objects.up().filter(id=container.host_id).exists()
    assert _beat(container.host.name) is None, "a removed host joins again only with a token"


def test_placement_prefers_hosts_holding_fewer_of_the_team(fleet, container, team):
    assert container.host.name == "test-host"
    assert [h.name for h in placement.candidates(team, 64, 0.5, {})] == ["h2", "h3", "test-host"]
    assert placement.candidates(team, 64, 4, {}) == [], "no host has 4 CPUs"


def test_a_pending_container_given_up_is_withdrawn_from_its_hosts_queue(fleet, app, build, queue):
    """Its run job may still wait for the host: the agent is told not to start it."""
    app.ports = []
    app.save()
    waiting = run_app(None, app)
    removed = run_app(None, app)
    remove_container(None, removed)
    assert queue.exists(streams.run_withdrawn(removed.runtime_id))
    assert not queue.exists(streams.run_withdrawn(waiting.runtime_id))
    _die(waiting.host.name)
    actions.mark_down_hosts()
    assert queue.exists(streams.run_withdrawn(waiting.runtime_id))


def test_a_host_that_fails_its_starts_does_not_draw_the_work(fleet, app, build):
    """A failed start holds nothing: without a penalty the failing host would look emptiest."""
    from django.utils import timezone

    build.registry_ref = "10.0.0.1:5000/team1/web:build-1"
    build.save()
    app.ports = []
    app.save()
    broken = Host.objects.get(name="h2")
    Container.objects.create(app=app, build=build, host=broken, memory_mb=64, status=contracts.C_FAILED,
                             finished=timezone.now(), error="no free address")
    for _ in range(2):
        Container.objects.create(app=app, build=build, host=Host.objects.get(name="h3"), memory_mb=64,
                                 status=contracts.C_RUNNING)
    assert [h.name for h in placement.candidates(app.team, 64, None, {})] == ["test-host", "h3", "h2"]


def test_a_drain_that_cannot_move_a_container_is_refused_naming_it(fleet, app, build, queue):
    """Without a shared registry the image is only on its build host: nothing is done."""
    app.ports, app.restart_policy = [], "always"
    app.save()
    keeper = run_app(None, app)
    Container.objects.filter(id=keeper.id).update(status=contracts.C_RUNNING)
    with pytest.raises(UserError, match=f"Drain refused: {keeper.name} \\(restart always\\) cannot start on "
                                        "another host: The image is only on host test-host"):
        actions.drain_host(None, keeper.host)
    keeper.host.refresh_from_db()
    assert not keeper.host.cordoned, "rolled back: still takes work"
    assert not Container.objects.filter(replaces=keeper).exists()
