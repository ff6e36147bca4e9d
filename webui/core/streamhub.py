"""One reader per Redis stream per web process, shared by every viewer of it.

Three hundred people watching one container would otherwise mean three
hundred blocking reads, each entry parsed and encoded three hundred times.
A ``Feed`` reads the stream once and hands each batch to its subscribers;
a subscriber first catches up on its own from its last position, then takes
the feed's batches, skipping what it already sent (see ``StreamConsumer``).
A subscriber that falls too far behind is marked ``overflowed`` instead of
buffering without end, and catches up from Redis again: nothing is lost.
"""
from __future__ import annotations

import asyncio
import json
import logging
import weakref

import redis.asyncio as aioredis
from django.conf import settings

log = logging.getLogger(__name__)

BATCH = 1000  # entries per read
_BLOCK_MS = 5000
_QUEUE_BATCHES = 256  # batches a slow subscriber may have waiting before it reads Redis itself
_RETRY_SECONDS = 1.0


def stream_id(value: str) -> tuple[int, int]:
    """A stream ID ("1700000000000-3", or "0") as a tuple that sorts as Redis does."""
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


class Batch:
    """Entries read together, with their text encoded once per message name."""

    def __init__(self, entries: list):
        self.entries = entries
        self.first, self.last = stream_id(entries[0][0]), stream_id(entries[-1][0])
        self._texts: dict[str, str] = {}

    def text(self, name: str) -> str:
        if name not in self._texts:
            self._texts[name] = encode(name, self.entries)
        return self._texts[name]


def encode(name: str, entries: list) -> str:
    return json.dumps({"type": name, "entries": entries})


class Subscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Batch] = asyncio.Queue(maxsize=_QUEUE_BATCHES)
        self.overflowed = False

    def offer(self, batch: Batch) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(batch)
        except asyncio.QueueFull:
            self.overflowed = True  # its reader still has the queued batches to wake it

    def restart(self) -> None:
        """Forget the queued batches; the subscriber catches up from Redis next."""
        self.overflowed = False
        while not self.queue.empty():
            self.queue.get_nowait()


class Feed:
    def __init__(self, hub: "StreamHub", key: str, start: str):
        self.key = key
        self.subscriptions: set[Subscription] = set()
        self.task = asyncio.create_task(self._read(hub.redis, start))

    async def _read(self, redis, position: str) -> None:
        while True:
            try:
                result = await redis.xread({self.key: position}, count=BATCH, block=_BLOCK_MS)
            except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
                log.warning("reading %s: %s; again in %.0f s", self.key, exc, _RETRY_SECONDS)
                await asyncio.sleep(_RETRY_SECONDS)
                continue
            for _, entries in result:
                position = entries[-1][0]
                batch = Batch(entries)
                for subscription in self.subscriptions:
                    subscription.offer(batch)


class StreamHub:
    """The feeds of one event loop (Redis connections belong to the loop that made them)."""

    def __init__(self) -> None:
        self.redis = aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
        self.feeds: dict[str, Feed] = {}

    async def subscribe(self, key: str) -> Subscription:
        """Every entry added after this returns reaches the subscription's queue."""
        feed = self.feeds.get(key)
        if feed is None:
            newest = await self.redis.xrevrange(key, count=1)
            feed = self.feeds.get(key)  # another viewer may have made it meanwhile
            if feed is None:
                feed = self.feeds[key] = Feed(self, key, newest[0][0] if newest else "0-0")
        subscription = Subscription()
        feed.subscriptions.add(subscription)
        return subscription

    async def unsubscribe(self, key: str, subscription: Subscription) -> None:
        feed = self.feeds.get(key)
        if feed is None:
            return
        feed.subscriptions.discard(subscription)
        if not feed.subscriptions:
            del self.feeds[key]
            feed.task.cancel()
            await asyncio.gather(feed.task, return_exceptions=True)


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, StreamHub]" = weakref.WeakKeyDictionary()


def hub() -> StreamHub:
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        _hubs[loop] = StreamHub()
    return _hubs[loop]
