"""The websocket behind a container page's terminal: the browser's keystrokes to the session's
input stream, the container's output from its output stream (the host agent pumps both ends of
a `runc exec --tty`, see workers/agent/terminal.py).

From the browser: binary frames are keystrokes; a text frame ``{"resize": [cols, rows]}`` resizes.
To the browser: binary frames only, the terminal's bytes; Berth's own notes are in them too.
"""
from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs

import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from webui.core import live
from webui.core.access import can_write, still_active, visible
from webui.core.errors import UserError
from workers import contracts, streams

from . import actions
from .models import Container

AGENT_WAIT_SECONDS = 15  # for the host agent to pick the session up
MAX_INPUT_BYTES = 65536  # a paste larger than this is dropped, not queued


def _note(text: str) -> bytes:
    """A line of Berth's own in the terminal, set apart in bold."""
    return f"\r\n\x1b[1m{text}\x1b[0m\r\n".encode()


def _size(query: dict) -> tuple[int, int]:
    def number(name: str, default: int, most: int) -> int:
        value = query.get(name, [""])[0]
        return min(max(int(value), 1), most) if value.isdigit() else default

    return number("cols", 80, 1000), number("rows", 24, 1000)


class TerminalConsumer(AsyncWebsocketConsumer):
    session = ""
    ended = False

    def writable_container(self) -> Container | None:
        """Runs in a thread: the container, if the user is an owner or member of its team."""
        user = self.scope.get("user")
        if not user or not user.is_authenticated or not still_active(user):
            return None
        container = visible(Container.objects.select_related("app__team", "host"), user, "app__team") \
            .filter(id=self.scope["url_route"]["kwargs"]["container_id"]).first()
        return container if container is not None and can_write(user, container.team) else None

    async def connect(self):
        container = await database_sync_to_async(self.writable_container)()
        if container is None:
            await self.close()  # before accept: viewers and other teams get no terminal
            return
        self.access_group = live.group_name("access", self.scope["user"].id)
        await self.channel_layer.group_add(self.access_group, self.channel_name)
        await self.accept()
        cols, rows = _size(parse_qs(self.scope.get("query_string", b"").decode()))
        try:
            self.session = await database_sync_to_async(actions.open_terminal)(
                self.scope["user"], container, cols, rows)
        except UserError as exc:
            await self._end(str(exc))
            return
        self.redis = aioredis.Redis.from_url(settings.REDIS_URL)
        self.inbox, self.outbox = streams.exec_input(self.session), streams.exec_output(self.session)
        self.tasks = [asyncio.create_task(self._forward_output()), asyncio.create_task(self._ping())]

    async def receive(self, text_data=None, bytes_data=None):
        if not self.session or self.ended:
            return
        if bytes_data is not None and len(bytes_data) <= MAX_INPUT_BYTES:
            await self.redis.xadd(self.inbox, {"d": bytes_data})
        elif text_data is not None:
            size = _resize(text_data)
            if size:
                await self.redis.xadd(self.inbox, {"resize": size})

    async def disconnect(self, code):
        if hasattr(self, "access_group"):
            await self.channel_layer.group_discard(self.access_group, self.channel_name)
        for task in getattr(self, "tasks", []):
            task.cancel()
        await asyncio.gather(*getattr(self, "tasks", []), return_exceptions=True)
        if not self.session:
            return
        if self.ended:  # a late agent then finds no input stream, and does nothing
            await self.redis.delete(self.inbox, self.outbox)
        else:  # the agent ends the session on this, and deletes the input stream
            await self.redis.xadd(self.inbox, {"end": "socket closed"})
            await self.redis.expire(self.inbox, streams.EXEC_TTL)
            await self.redis.delete(self.outbox)
        await self.redis.aclose()

    async def _forward_output(self) -> None:
        position, started = "0", False
        waited_until = asyncio.get_running_loop().time() + AGENT_WAIT_SECONDS
        while True:
            result = await self.redis.xread({self.outbox: position}, block=1000)
            if not result and not started and asyncio.get_running_loop().time() > waited_until:
                return await self._end("The host agent did not answer: is it running? Try again later.")
            for entry_id, fields in result[0][1] if result else []:
                position = entry_id
                started = started or b"started" in fields
                if b"d" in fields:
                    await self.send(bytes_data=fields[b"d"])
                elif b"error" in fields:
                    return await self._end(fields[b"error"].decode(errors="replace"))
                elif b"end" in fields:
                    return await self._end(f"[the shell ended with exit code {fields[b'end'].decode()}]")

    async def access_changed(self, event):
        """The user's roles changed: a viewer now, or out of the team, keeps no shell."""
        if not self.ended and await database_sync_to_async(self.writable_container)() is None:
            await self._end("Your role in the team no longer allows a terminal: the shell is closed.")

    async def _ping(self) -> None:
        """Tells the agent the socket is open while the user types nothing."""
        while True:
            await asyncio.sleep(contracts.EXEC_PING_SECONDS)
            await self.redis.xadd(self.inbox, {"ping": ""})
            await self.redis.expire(self.inbox, streams.EXEC_TTL)

    async def _end(self, message: str) -> None:
        self.ended = True
        await self.send(bytes_data=_note(message))
        await self.close()


def _resize(text: str) -> str:
    """``{"resize": [cols, rows]}`` as the agent's ``"COLS ROWS"``; "" for anything else."""
    try:
        cols, rows = json.loads(text)["resize"]
    except (ValueError, KeyError, TypeError):
        return ""
    if not (isinstance(cols, int) and isinstance(rows, int) and 0 < cols <= 1000 and 0 < rows <= 1000):
        return ""
    return f"{cols} {rows}"
