"""The host checks again before a container starts: a run job whose memory limit the host's
memory no longer holds, next to the limits of what runs there, fails with the figures, and
two jobs at once cannot both take the last of it."""
from __future__ import annotations

import base64
import json
import threading
import uuid

import psutil
import pytest

from runtime.container.manager import RunRequest
from runtime.container.state import CREATED, RUNNING
from workers import contracts
from workers.agent import tasks

MB = 1 << 20
SLEEPER = "host-memory-sleeper:1"


@pytest.fixture
def sleeper(agent):
    """An image whose own command keeps it running, as an app's does."""
    ctx, _ = agent
    tasks._build(ctx, contracts.build_job(901, 'FROM busybox\nCMD ["sleep", "600"]\n', SLEEPER, 64 * MB, None,
                                          False, 300))
    return SLEEPER


def container_events(ctx) -> dict[int, dict]:
    events = {}
    for raw in reversed(ctx.redis.lrange("control", 0, -1)):
        message = json.loads(raw)
        if message["headers"]["task"] == contracts.CONTROL_CONTAINER_EVENT:
            container_id, event = json.loads(base64.b64decode(message["body"]))[0]
            events[container_id] = event
    return events


def fill_host_leaving(ctx, made, free_bytes: int) -> int:
    """Start a sleeping container whose limit leaves ``free_bytes`` of the host's memory unpromised."""
    promised = sum(info.record.memory_bytes for info in ctx.containers.list()
                   if info.status.state in (CREATED, RUNNING))
    limit = psutil.virtual_memory().total - promised - free_bytes
    info = ctx.containers.run(RunRequest(image="busybox", memory_bytes=limit, command=("sleep", "600")))
    made.append(info.id)
    return limit


def run_job(container_id: int, memory_bytes: int, image: str) -> dict:
    return contracts.run_job(container_id, uuid.uuid4().hex, image, [], memory_bytes, None, [], f"mem{container_id}",
                             init=False)


def test_a_run_the_hosts_memory_cannot_hold_fails_with_the_figures(agent, sleeper):
    ctx, made = agent
    fill_host_leaving(ctx, made, 200 * MB)
    too_big = run_job(911, 300 * MB, sleeper)
    tasks._run(ctx, too_big)
    assert not ctx.containers.exists(too_big["runtime_id"])
    event = container_events(ctx)[911]
    total = psutil.virtual_memory().total // MB
    assert event["status"] == contracts.C_FAILED and event["error"]["code"] == "host_full"
    assert event["error"]["message"].startswith("Host test-host has 200 MB of memory left for containers (")
    assert event["error"]["message"].endswith(f" of its {total} MB are promised to the limits of those it holds); "
                                              "this one asks for 300 MB.")

    fits = run_job(912, 150 * MB, sleeper)
    made.append(fits["runtime_id"])
    tasks._run(ctx, fits)
    assert container_events(ctx)[912]["status"] == contracts.C_RUNNING


def test_two_runs_at_once_cannot_both_take_the_last_of_the_memory(agent, sleeper):
    ctx, made = agent
    fill_host_leaving(ctx, made, 300 * MB)
    jobs = [run_job(921 + n, 200 * MB, sleeper) for n in range(2)]
    barrier = threading.Barrier(2)

    def start(job):
        barrier.wait()
        tasks._run(ctx, job)
    threads = [threading.Thread(target=start, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = container_events(ctx)
    assert sorted(events[job["container_id"]]["status"] for job in jobs) == [contracts.C_FAILED, contracts.C_RUNNING]
    started = [job["runtime_id"] for job in jobs if ctx.containers.exists(job["runtime_id"])]
    made.extend(started)
    assert len(started) == 1
