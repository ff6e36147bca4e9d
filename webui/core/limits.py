"""An ASGI guard on request size, applied before any of the body is read.

Django limits form fields but spools file uploads whole; without this, one
huge POST (even an anonymous one) costs the server its memory or disk.
"""
from __future__ import annotations

_TOO_LARGE = b"<h1>Request too large</h1><p>Uploads are limited to %d MB.</p>"


class RequestSizeLimit:
    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send)
        received = 0

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:  # a body without Content-Length that grew too big
                    return {"type": "http.disconnect"}
            return message

        return await self.app(scope, counted_receive, send)

    async def _refuse(self, send):
        body = _TOO_LARGE % (self.max_bytes // (1024 * 1024))
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
