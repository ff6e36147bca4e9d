"""One websocket consumer per live resource: Redis streams in, JSON batches out.

A viewer passes the last stream ID it has for each stream (``?log=<id>``);
reading resumes after it, so a reconnect brings every later entry exactly once.
"""
from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs

import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from workers.streams import valid_position

from . import live

_BATCH = 1000
_BLOCK_MS = 5000


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
        await self.accept()
        # Sent after joining the group, so a change made while the page was loading is not missed.
        await self.state_changed({"state": await database_sync_to_async(self.load_state)()})
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.redis = aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
        self.readers = [asyncio.create_task(self._follow(name, key, valid_position(query.get(name, [""])[0])))
                        for name, key in self.streams().items()]

    async def disconnect(self, code):
        readers = getattr(self, "readers", [])
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if hasattr(self, "redis"):
            await self.redis.aclose()

    async def _follow(self, name: str, key: str, position: str) -> None:
        while True:
            result = await self.redis.xread({key: position}, count=_BATCH, block=_BLOCK_MS)
            for _, entries in result:
                position = entries[-1][0]
                await self.send(text_data=json.dumps({"type": name, "entries": entries}))

    async def state_changed(self, event):
        await self.send(text_data=json.dumps({"type": "state", "state": event["state"]}))
