"""The agent's log shipper against a real container, a real log file and the real Redis."""
from __future__ import annotations

import dataclasses
import threading
import time

import pytest
import redis

from runtime.container.manager import Containers, RunRequest
from workers import streams
from workers.agent.context import CONTAINER_LABEL, AgentContext
from workers.agent.loops import Shipper

from ..conftest import REDIS_PORT


@pytest.fixture
def agent(request, no_leaks, runtime_config, store, redis_server):
    """An agent context; a test marked ``log_cap`` gets containers with that log size cap."""
    cap = request.node.get_closest_marker("log_cap")
    config = dataclasses.replace(runtime_config, log_size_max=cap.args[0]) if cap else runtime_config
    client = redis.Redis(port=REDIS_PORT, db=3)
    client.flushdb()
    ctx = AgentContext("test-host", Containers(config, store), store, client)
    made = []
    yield ctx, made
    for cid in made:
        ctx.containers.remove(cid, force=True)


def ship_while_running(ctx: AgentContext, script: str, container_id: int) -> list[str]:
    req = RunRequest(image="busybox", memory_bytes=64 << 20, command=("sh", "-c", script),
                     labels=((CONTAINER_LABEL, str(container_id)),))
    shipper = Shipper(ctx, threading.Event())
    info = ctx.containers.run(req)
    deadline = time.monotonic() + 30
    while not (shipper.positions / info.id).exists() or (shipper.positions / info.id).read_text() != "done":
        assert time.monotonic() < deadline, "the shipper never finished the log"
        shipper.tick()
        time.sleep(0.005)
    entries = ctx.redis.xrange(streams.container_log(container_id))
    return info.id, [fields[b"line"].decode() for _, fields in entries]


@pytest.mark.log_cap(64 * 1024)
def test_lines_keep_coming_after_the_log_file_is_truncated_at_its_cap(agent):
    ctx, made = agent
    script = ("i=0; while [ $i -lt 4000 ]; do echo line-$i-padding-padding-padding-padding; i=$((i+1)); done; "
              "sleep 0.5; echo after-truncation")
    cid, lines = ship_while_running(ctx, script, 101)
    made.append(cid)
    assert lines[-1] == "after-truncation"
    numbers = [int(line.split("-")[1]) for line in lines if line.startswith("line-")]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)  # in order, none twice


def test_a_long_line_a_last_line_without_newline_and_bad_utf8_arrive(agent):
    ctx, made = agent
    script = r"head -c 65536 /dev/zero | tr '\0' x; echo; printf '\377\376bad\n'; printf 'no newline'"
    cid, lines = ship_while_running(ctx, script, 102)
    made.append(cid)
    assert [len(line) for line in lines[:1]] == [65536] and set(lines[0]) == {"x"}  # conmon splits it into partial records; they are joined back
    assert lines[1] == "\ufffd\ufffdbad"
    assert lines[2] == "no newline"
