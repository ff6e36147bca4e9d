"""Many viewers of one stream share one Redis reader per web process, and none loses a line."""
from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from asgiref.sync import async_to_sync
from django.conf import settings

from webui.core import streamhub
from webui.core.consumers import StreamConsumer
from workers import streams

from .viewer import Viewer, session_key

pytestmark = pytest.mark.django_db(transaction=True)


def numbers(entries) -> list[int]:
    return [int(fields["line"]) for _, fields in entries]


async def add_lines(key: str, start: int, count: int, pause: float = 0.0) -> None:
    client = aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    try:
        for n in range(start, start + count):
            await client.xadd(key, {"line": str(n), "s": "stdout"})
            if pause:
                await asyncio.sleep(pause)
    finally:
        await client.aclose()


def test_twenty_viewers_share_one_feed_and_each_gets_every_line_once(owner, container):
    key, path = streams.container_log(container.id), f"/ws/containers/{container.id}/"
    owner_key = session_key(owner)

    async def watch():
        await add_lines(key, 0, 50)  # already there when they connect
        viewers = [Viewer(owner_key, path) for _ in range(20)]
        for viewer in viewers:
            await viewer.__aenter__()
        try:
            await asyncio.sleep(0.3)
            feeds = streamhub.hub().feeds
            shared = len(feeds[key].subscriptions)
            writer = asyncio.create_task(add_lines(key, 50, 450, pause=0.001))  # while they watch
            got = await asyncio.gather(*(v.entries("log", lambda e: len(e) >= 500) for v in viewers))
            await writer
        finally:
            for viewer in viewers:
                await viewer.__aexit__(None, None, None)
        return shared, got, key in feeds
    shared, got, feed_left = async_to_sync(watch)()
    assert shared == 20  # one reader for all of them
    for entries in got:
        assert numbers(entries) == list(range(500))
    assert not feed_left  # the last viewer to leave stopped the feed


def test_a_viewer_too_slow_for_the_feed_catches_up_from_redis_without_gap(owner, container, monkeypatch):
    key, path = streams.container_log(container.id), f"/ws/containers/{container.id}/"
    owner_key = session_key(owner)
    monkeypatch.setattr(streamhub, "_QUEUE_BATCHES", 2)
    restarts = []
    restart = streamhub.Subscription.restart
    monkeypatch.setattr(streamhub.Subscription, "restart", lambda self: (restarts.append(1), restart(self)))
    send = StreamConsumer.send

    async def slow_send(self, *args, **kwargs):  # a viewer on a slow network
        await asyncio.sleep(0.05)
        await send(self, *args, **kwargs)
    monkeypatch.setattr(StreamConsumer, "send", slow_send)

    async def watch():
        async with Viewer(owner_key, path) as viewer:
            await asyncio.sleep(0.3)
            writer = asyncio.create_task(add_lines(key, 0, 200, pause=0.002))
            entries = await viewer.entries("log", lambda e: len(e) >= 200, timeout=60)
            await writer
            return entries + await viewer.more("log", quiet=1)
    entries = async_to_sync(watch)()
    assert restarts, "the viewer never fell behind: the test did not test the overflow"
    assert numbers(entries) == list(range(200))


def test_a_viewer_asking_for_the_last_lines_gets_those_then_every_new_one(owner, container):
    key, path = streams.container_log(container.id), f"/ws/containers/{container.id}/"
    owner_key = session_key(owner)

    async def watch():
        await add_lines(key, 0, 100)
        async with Viewer(owner_key, path, log="last:3") as viewer:
            first = await viewer.entries("log", lambda e: len(e) >= 3)
            await add_lines(key, 100, 2)
            return first + await viewer.more("log", quiet=1)
    assert numbers(async_to_sync(watch)()) == [97, 98, 99, 100, 101]


@pytest.mark.parametrize("given, meant", [
    ("", "0"), ("0", "0"), ("1700000000000-3", "1700000000000-3"), ("1700000000000", "1700000000000"),
    ("last:50", "last:50"), ("last:999999999", f"last:{streams.TAIL_MAX}"),
    ("last:0", "0"), ("last:-5", "0"), ("last:many", "0"), ("1-x", "0"), ("$", "0"), ("-", "0"),
])
def test_a_malformed_position_means_from_the_start(given, meant):
    assert streams.valid_position(given) == meant
