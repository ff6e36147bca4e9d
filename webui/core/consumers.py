"""One websocket consumer per live resource: Redis streams in, JSON batches out.

A viewer passes the last stream ID it has for each stream (``?log=<id>``);
reading resumes after it, so a reconnect brings every later entry exactly once.
Live entries come from the process's shared feed of each stream (streamhub).
"""
from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from workers.streams import valid_position

from . import live, streamhub
from .access import still_active


class StreamConsumer(AsyncWebsocketConsumer):
    kind = ""  # names the live group, e.g. "container"

    def object_id(self) -> int:
        raise NotImplementedError

    def load_allowed(self, user) -> bool:
        """Runs in a thread: is ``user`` a member of the object's team?"""
        raise NotImplementedError

    def streams(self) -> dict[str, str]:
        """Names the page uses for each Redis stream key."""
        raise NotImplementedError

    def load_state(self) -> dict:
        """Runs in a thread: the object's state as the page shows it."""
        raise NotImplementedError

    async def connect(self):
        user = self.scope.get("user")
        if not user or not user.is_authenticated or not await database_sync_to_async(self.load_allowed)(user):
            await self.close()  # before accept: the handshake is refused
            return
        self.group = live.group_name(self.kind, self.object_id())
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.access_group = live.group_name("access", user.id)
        await self.channel_layer.group_add(self.access_group, self.channel_name)
        await self.accept()
        # Sent after joining the group, so a change made while the page was loading is not missed.
        await self.state_changed({"state": await database_sync_to_async(self.load_state)()})
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.hub = streamhub.hub()
        self.readers = [asyncio.create_task(self._follow(name, key, valid_position(query.get(name, [""])[0])))
                        for name, key in self.streams().items()]

    async def disconnect(self, code):
        readers = getattr(self, "readers", [])
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_discard(self.access_group, self.channel_name)

    async def _follow(self, name: str, key: str, position: str) -> None:
        subscription = await self.hub.subscribe(key)
        try:
            if position.startswith("last:"):
                sent = await self._send_newest(name, key, int(position[5:]))
            else:
                sent = streamhub.stream_id(position)
            while True:
                sent = await self._catch_up(name, key, sent)
                while not subscription.overflowed:
                    sent = await self._send_new(name, await subscription.queue.get(), sent)
                subscription.restart()
        finally:
            await self.hub.unsubscribe(key, subscription)

    async def _send_newest(self, name: str, key: str, count: int) -> tuple[int, int]:
        """Send the ``count`` newest entries; the newest ID sent, or (0, 0) for an empty stream."""
        newest = await self.hub.redis.xrevrange(key, count=count)
        if not newest:
            return (0, 0)
        newest.reverse()
        for start in range(0, len(newest), streamhub.BATCH):
            await self.send(text_data=streamhub.encode(name, newest[start:start + streamhub.BATCH]))
        return streamhub.stream_id(newest[-1][0])

    async def _catch_up(self, name: str, key: str, sent: tuple[int, int]) -> tuple[int, int]:
        """Send what the stream holds after ``sent``, from Redis; the newest ID sent."""
        while True:
            result = await self.hub.redis.xread({key: "%d-%d" % sent}, count=streamhub.BATCH)
            if not result:
                return sent
            entries = result[0][1]
            await self.send(text_data=streamhub.encode(name, entries))
            sent = streamhub.stream_id(entries[-1][0])

    async def _send_new(self, name: str, batch: streamhub.Batch, sent: tuple[int, int]) -> tuple[int, int]:
        """Send the part of a live batch that is newer than ``sent`` (catching up may have sent the rest)."""
        if batch.last <= sent:
            return sent
        if batch.first > sent:
            await self.send(text_data=batch.text(name))
        else:
            await self.send(text_data=streamhub.encode(
                name, [entry for entry in batch.entries if streamhub.stream_id(entry[0]) > sent]))
        return batch.last

    async def access_changed(self, event):
        """The user's roles changed: a page they may no longer see stops getting its feed."""
        if not await database_sync_to_async(self.still_allowed)():
            await self.close()

    def still_allowed(self) -> bool:
        """Runs in a thread: the account is still active and its teams still let it see this."""
        user = self.scope["user"]
        return still_active(user) and self.load_allowed(user)

    async def state_changed(self, event):
        state = event["state"]
        if state is None:  # live.changed(): made here, for this viewer
            state = await database_sync_to_async(self.load_state)()
        await self.send(text_data=json.dumps({"type": "state", "state": state}))
