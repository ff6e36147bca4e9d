"""Three host agents, each in its own network namespace with its own state (tests/fleet/hosts.py):
runs spread over them, a cordoned host gets nothing new, an image built on one host runs on
the others through the shared registry, and a host whose agent is killed is marked down
within 15 s while its restart-always container comes up on another host."""
from __future__ import annotations

import time

import pytest

from webui.api.client import ClientError

SLEEPER = 'FROM busybox\nCMD ["sleep", "3600"]\n'


def _container(fleet, cid: int) -> dict:
    return fleet.alice.call("GET", f"containers/{cid}/")


def _running(fleet, cid: int) -> dict | None:
    found = _container(fleet, cid)
    assert found["status"] not in ("failed", "removed"), found
    return found if found["status"] == "running" else None


def _hosts(fleet) -> dict[str, dict]:
    return {h["name"]: h for h in fleet.admin.call("GET", "hosts/")}


@pytest.fixture(scope="module")
def built(fleet):
    """The app, built once, on whichever host the queue chose; every other host lacks it."""
    return fleet.built_app("sleeper", SLEEPER, memory_mb=32, cpus=0.1)


def test_runs_spread_over_the_hosts_through_the_shared_registry(fleet, built):
    app, build = built
    assert build["host"] in _hosts(fleet)
    ids = [fleet.alice.call("POST", f"apps/{app['id']}/run/", {})["id"] for _ in range(3)]
    started = [fleet.wait(f"container {cid} running", lambda cid=cid: _running(fleet, cid), 90) for cid in ids]
    assert sorted(c["host"] for c in started) == ["host-a", "host-b", "host-c"], "one on each host"
    for container in started:
        if container["host"] != build["host"]:  # the image came from the registry
            assert "build-" in fleet.host(container["host"]).runtime("images")
    for container in started:  # and each really runs there, in that host's own namespaces
        assert container["runtime_id"][:12] in fleet.host(container["host"]).runtime("ps")
    for cid in ids:
        fleet.alice.call("DELETE", f"containers/{cid}/?force=true")
    fleet.wait("the containers removed", lambda: all(_container(fleet, cid)["status"] == "removed" for cid in ids))


def test_a_cordoned_host_gets_no_new_work(fleet, built):
    app, _ = built
    cordoned = _hosts(fleet)["host-c"]
    assert fleet.admin.call("POST", f"hosts/{cordoned['id']}/cordon/")["cordoned"] is True
    try:
        ids = [fleet.alice.call("POST", f"apps/{app['id']}/run/", {})["id"] for _ in range(4)]
        hosts = [fleet.wait("running", lambda cid=cid: _running(fleet, cid), 90)["host"] for cid in ids]
        assert sorted(hosts) == ["host-a", "host-a", "host-b", "host-b"]
        for cid in ids:
            fleet.alice.call("DELETE", f"containers/{cid}/?force=true")
        fleet.wait("removed", lambda: all(_container(fleet, cid)["status"] == "removed" for cid in ids))
    finally:
        fleet.admin.call("POST", f"hosts/{cordoned['id']}/uncordon/")


def test_a_host_that_dies_is_marked_down_and_its_restart_always_container_moves(fleet, built):
    app, _ = built
    keeper = fleet.alice.call("POST", f"apps/{app['id']}/run/", {"restart_policy": "always"})
    keeper = fleet.wait("running", lambda: _running(fleet, keeper["id"]), 90)
    doomed = fleet.host(keeper["host"])
    doomed.kill_agent()
    killed = time.monotonic()
    fleet.wait("the host marked down", lambda: not _hosts(fleet)[doomed.name]["is_up"], 20)
    down_after = time.monotonic() - killed
    print(f"{doomed.name} marked down {down_after:.1f} s after its agent was killed")
    assert down_after <= 15
    assert _container(fleet, keeper["id"])["status"] == "lost"
    twin = fleet.wait("a replacement", lambda: next((c for c in fleet.alice.call("GET", "containers/")
                                                     if c.get("replaces") == keeper["id"]), None), 15)
    twin = fleet.wait("the replacement running", lambda: _running(fleet, twin["id"]), 90)
    assert twin["host"] != doomed.name
    assert twin["runtime_id"][:12] in fleet.host(twin["host"]).runtime("ps")
    # The old one still runs under its monitor on the dead host (the agent is not the container's parent).
    assert keeper["runtime_id"][:12] in doomed.runtime("ps")
    with pytest.raises(ClientError, match="still has"):
        fleet.admin.call("DELETE", f"hosts/{_hosts(fleet)[doomed.name]['id']}/")
    fleet.alice.call("DELETE", f"containers/{twin['id']}/?force=true")
