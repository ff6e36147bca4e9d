"""Container logs from a real container to a websocket viewer: nothing lost, nothing twice.

The chain is the real one: runc and conmon write the log file, the agent's
Shipper copies it to Redis, the web's consumer reads Redis and sends JSON.
"""
from __future__ import annotations

import threading

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from runtime.container.logs import read_all
from workers.agent.loops import Shipper

from .. import shipping
from .viewer import Viewer, session_key

pytestmark = pytest.mark.django_db(transaction=True)


def texts(entries) -> list[str]:
    return [fields["line"] for _, fields in entries]


def test_lines_written_while_nobody_watched_arrive_on_connect(agent, owner, container):
    owner_key = session_key(owner)
    ctx, made = agent
    info = shipping.start(ctx, "echo one; echo two >&2; echo three", container.id)
    made.append(info.id)
    shipping.ship_until_done(ctx, info.id)

    async def watch():
        async with Viewer(owner_key, f"/ws/containers/{container.id}/") as viewer:
            return await viewer.entries("log", lambda got: len(got) >= 3)
    entries = async_to_sync(watch)()
    # stdout and stderr are separate pipes, so only the order within each is defined (as in Docker).
    by_stream = {s: [f["line"] for _, f in entries if f["s"] == s] for s in ("stdout", "stderr")}
    assert by_stream == {"stdout": ["one", "three"], "stderr": ["two"]}


def test_a_viewer_that_reconnects_with_its_position_gets_every_later_line_once(agent, owner, container):
    owner_key = session_key(owner)
    ctx, made = agent
    info = shipping.start(ctx, "for i in 1 2 3 4 5; do echo before-$i; done; sleep 2; "
                               "for i in 1 2 3 4 5; do echo after-$i; done", container.id)
    made.append(info.id)
    path = f"/ws/containers/{container.id}/"
    stop = threading.Event()
    shipper = Shipper(ctx, stop)
    shipper.start()

    async def first_visit():
        async with Viewer(owner_key, path) as viewer:
            return await viewer.entries("log", lambda got: len(got) >= 5)
    try:
        seen = async_to_sync(first_visit)()
    finally:
        stop.set()
        shipper.join(10)
    assert texts(seen) == [f"before-{i}" for i in range(1, 6)]

    shipping.ship_until_done(ctx, info.id)  # a restarted agent ships the rest while nobody watches

    async def second_visit():
        async with Viewer(owner_key, path, log=seen[-1][0]) as viewer:
            got = await viewer.entries("log", lambda got: len(got) >= 5)
            return got + await viewer.more("log")  # nothing more: no duplicate follows
    again = async_to_sync(second_visit)()
    assert texts(again) == [f"after-{i}" for i in range(1, 6)]


def test_long_lines_unfinished_lines_and_bad_utf8_reach_the_viewer(agent, owner, container):
    owner_key = session_key(owner)
    ctx, made = agent
    script = r"head -c 65536 /dev/zero | tr '\0' x; echo; printf '\377\376bad\n'; printf 'no newline'"
    info = shipping.start(ctx, script, container.id)
    made.append(info.id)
    shipping.ship_until_done(ctx, info.id)

    async def watch():
        async with Viewer(owner_key, f"/ws/containers/{container.id}/") as viewer:
            return await viewer.entries("log", lambda got: len(got) >= 3)
    lines = texts(async_to_sync(watch)())
    assert len(lines) == 3
    assert lines[0] == "x" * 65536  # whole, though conmon wrote it as several partial records
    assert lines[1] == "\ufffd\ufffdbad"  # invalid UTF-8 shown as replacement characters
    assert lines[2] == "no newline"


def test_another_team_cannot_watch_the_log(agent, owner, outsider, container):
    owner_key = session_key(owner)
    outsider_key = session_key(outsider)

    async def both():
        async with Viewer(outsider_key, f"/ws/containers/{container.id}/") as stranger:
            refused = not stranger.accepted
        async with Viewer(owner_key, f"/ws/containers/{container.id}/") as member:
            return refused, member.accepted
    assert async_to_sync(both)() == (True, True)


def test_two_hundred_thousand_lines_printed_flat_out_arrive_once_and_in_order(agent, owner, container):
    owner_key = session_key(owner)
    ctx, made = agent
    total = 200_000
    stop = threading.Event()

    async def watch():
        async with Viewer(owner_key, f"/ws/containers/{container.id}/") as viewer:
            # pyroute2 runs an event loop of its own: start the container from a thread, as the agent does.
            info = await sync_to_async(shipping.start)(ctx, f"seq 1 {total}", container.id)
            made.append(info.id)
            shipper = Shipper(ctx, stop)
            shipper.interval = 0.05
            shipper.start()  # the agent's own loop, in its own thread
            try:
                entries = await viewer.entries("log", lambda got: len(got) >= total, timeout=120)
            finally:
                stop.set()
                shipper.join(10)
            return info.id, entries
    cid, entries = async_to_sync(watch)()
    expected = [str(n) for n in range(1, total + 1)]
    assert [line.text for line in read_all(ctx.containers.log_path(cid))] == expected  # on disk
    assert texts(entries) == expected  # through the websocket
