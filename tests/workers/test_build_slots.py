"""The agent's build slots behind the web's fair queue: a build that arrives while the slot
it was sent for is still being released waits for it; one that finds no slot for long
fails, saying that the web and the agent disagree on the number."""
from __future__ import annotations

import base64
import json
import threading
import time

import pytest

from workers import contracts, streams
from workers.agent import tasks


@pytest.fixture
def slots_taken(agent, monkeypatch):
    """Every build slot held, as by builds still running; the build task on the test's agent."""
    ctx, _ = agent
    monkeypatch.setattr(tasks, "context", lambda: ctx)
    monkeypatch.setattr(tasks, "SLOT_WAIT_SECONDS", 1)
    for _ in range(tasks.BUILD_SLOT_COUNT):
        assert tasks.BUILD_SLOTS.acquire(blocking=False)
    held = [tasks.BUILD_SLOT_COUNT]

    def release_one():
        held[0] -= 1
        tasks.BUILD_SLOTS.release()
    yield ctx, release_one
    for _ in range(held[0]):
        tasks.BUILD_SLOTS.release()


def last_build_event(ctx, build_id: int) -> dict:
    for raw in ctx.redis.lrange("control", 0, -1):  # newest first
        message = json.loads(raw)
        args = json.loads(base64.b64decode(message["body"]))[0]
        if message["headers"]["task"] == contracts.CONTROL_BUILD_EVENT and args[0] == build_id:
            return args[1]
    raise AssertionError(f"no event of build {build_id}")


def job(build_id: int) -> dict:
    return contracts.build_job(build_id, "FROM busybox\nRUN echo slot\n", f"slots-test:{build_id}", 64 << 20, None,
                               False, 300, no_cache=True)


def test_a_build_waits_for_a_slot_still_being_released(slots_taken):
    ctx, release_one = slots_taken
    threading.Timer(0.3, release_one).start()
    started = time.monotonic()
    tasks.build.run(job(601))
    assert time.monotonic() - started >= 0.3
    assert last_build_event(ctx, 601)["status"] == contracts.BUILD_SUCCEEDED


def test_a_build_that_finds_no_slot_fails_saying_why(slots_taken):
    ctx, _ = slots_taken
    tasks.build.run(job(602))
    event = last_build_event(ctx, 602)
    message = ("Host test-host had no free build slot for 1 s: the web and this agent disagree on BERTH_BUILD_SLOTS. "
               "Build again.")
    assert event["status"] == contracts.BUILD_FAILED and event["error"]["message"] == message
    log = [fields for _, fields in ctx.redis.xrange(streams.build_log(602))]
    assert log == [{b"t": log[0][b"t"], b"line": f"ERROR: {message}".encode()}, {b"end": b"failed"}]
