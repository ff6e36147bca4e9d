"""A websocket viewer driven through the whole ASGI app, as a browser would be."""
from __future__ import annotations

import asyncio
import json

from asgiref.testing import ApplicationCommunicator
from django.test import Client

from webui.asgi import application


def session_key(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


class Viewer:
    """Connects to a live page's websocket with the positions it already has (``?log=<id>``).
    ``session`` is the user's session key (see ``session_key``, which must run outside the loop)."""

    def __init__(self, session: str, path: str, **positions: str):
        query = "&".join(f"{name}={value}" for name, value in positions.items())
        headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"),
                   (b"cookie", f"sessionid={session}".encode())]
        self.scope = {"type": "websocket", "path": path, "query_string": query.encode(),
                      "headers": headers, "subprotocols": []}
        self.accepted = False

    async def __aenter__(self):
        self.communicator = ApplicationCommunicator(application, self.scope)
        await self.communicator.send_input({"type": "websocket.connect"})
        answer = await self.communicator.receive_output(timeout=10)
        self.accepted = answer["type"] == "websocket.accept"
        return self

    async def __aexit__(self, *exc):
        if self.accepted:
            await self.communicator.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.communicator.wait(timeout=10)

    async def message(self, timeout: float = 10) -> dict:
        output = await self.communicator.receive_output(timeout=timeout)
        assert output["type"] == "websocket.send", output
        return json.loads(output["text"])

    async def more(self, stream: str, quiet: float = 1.5) -> list:
        """Entries of ``stream`` that arrive until the socket has been quiet for ``quiet`` seconds."""
        got: list = []
        while not await self.communicator.receive_nothing(timeout=quiet):
            msg = await self.message()
            if msg["type"] == stream:
                got.extend(msg["entries"])
        return got

    async def entries(self, stream: str, until, timeout: float = 30) -> list:
        """Entries of ``stream`` as they arrive, until ``until(entries)`` holds."""
        got: list = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not until(got):
            remaining = deadline - loop.time()
            assert remaining > 0, f"only {len(got)} {stream} entries arrived"
            msg = await self.message(timeout=remaining)
            if msg["type"] == stream:
                got.extend(msg["entries"])
        return got
