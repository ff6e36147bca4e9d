"""Restart policies applied by the agent's sampler, on real containers, and restored when the agent starts."""
from __future__ import annotations

import base64
import json
import threading
import time

import pytest

from runtime.container.manager import RunRequest
from workers import contracts
from workers.agent.context import CONTAINER_LABEL
from workers.agent.loops import Sampler, Shipper
from workers.agent.restarts import Restarts

from .. import shipping

pytestmark = pytest.mark.root


def _run(ctx, made, container_id: int, command: tuple, policy: str):
    req = RunRequest(image="busybox", memory_bytes=64 << 20, command=command, init=True, restart=policy,
                     labels=((CONTAINER_LABEL, str(container_id)),))
    made.append(req.id)
    return ctx.containers.run(req)


def _events(ctx, container_id: int) -> list[dict]:
    """The container events the agent reported to the control queue, oldest first."""
    events = []
    for raw in reversed(ctx.redis.lrange("control", 0, -1)):
        message = json.loads(raw)
        args = json.loads(base64.b64decode(message["body"]))[0]
        if message["headers"]["task"] == contracts.CONTROL_CONTAINER_EVENT and args[0] == container_id:
            events.append(args[1])
    return events


def _until(what: str, check, tick=lambda: None, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    tick()
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)
        tick()


def test_on_failure_restarts_the_same_container_up_to_its_limit(agent):
    ctx, made = agent
    ctx.redis.delete("control")
    info = _run(ctx, made, 201, ("sh", "-c", "echo run; exit 1"), "on-failure:2")
    sampler, shipper = Sampler(ctx, threading.Event()), Shipper(ctx, threading.Event())
    started = time.monotonic()

    def ticks():
        sampler.tick()
        shipper.tick()

    _until("two restarts were made and the last run exited",
           lambda: ctx.containers.get(info.id).record.restart_count == 2
           and ctx.containers.get(info.id).status.state == "exited"
           and ctx.reported_state(info.id) == "exited", ticks)
    assert time.monotonic() - started >= 0.3  # the back-off: 100 ms, then 200 ms
    shipping.ship_until_done(ctx, info.id, shipper)
    assert shipping.shipped_lines(ctx, 201) == ["run", "run", "run"]  # one log, going on
    time.sleep(1)
    ticks()
    assert ctx.containers.get(info.id).record.restart_count == 2  # no third restart
    statuses = [(e.get("status"), e.get("restart_count")) for e in _events(ctx, 201)]
    assert ("running", 1) in statuses and ("running", 2) in statuses
    # The last exit is reported after the last restart (a restart's report may trail its exit's).
    assert len(statuses) - 1 - statuses[::-1].index(("exited", None)) > statuses.index(("running", 2))


def test_agent_start_brings_back_always_but_not_unless_stopped_once_stopped_by_hand(agent):
    ctx, made = agent
    always = _run(ctx, made, 202, ("sleep", "600"), "always")
    unless = _run(ctx, made, 203, ("sleep", "600"), "unless-stopped")
    exited_alone = _run(ctx, made, 204, ("sh", "-c", "exit 0"), "unless-stopped")
    never = _run(ctx, made, 205, ("sh", "-c", "exit 1"), "no")
    for info in (always, unless):
        ctx.containers.stop(info.id, timeout=1)
    _until("the others exited", lambda: all(ctx.containers.get(i.id).status.state == "exited"
                                            for i in (exited_alone, never)))

    Restarts(ctx).restore()  # what a starting agent does
    _until("always and unless-stopped (not stopped by hand) run again",
           lambda: ctx.containers.get(always.id).status.state == "running"
           and ctx.containers.get(exited_alone.id).record.restart_count == 1)
    time.sleep(0.5)
    assert ctx.containers.get(unless.id).status.state == "exited"
    assert ctx.containers.get(never.id).status.state == "exited"
    assert ctx.containers.get(always.id).id == always.id
