"""A whole log as a text file, streamed from its Redis stream a chunk at a time."""
from __future__ import annotations

import redis
from django.conf import settings
from django.http import StreamingHttpResponse

_CHUNK = 5000


def _entries(key: str):
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    try:
        start = "-"
        while True:
            entries = client.xrange(key, min=start, count=_CHUNK)
            yield from entries
            if len(entries) < _CHUNK:
                return
            start = "(" + entries[-1][0]  # exclusive: after the last one sent
    finally:
        client.close()


def _lines(key: str):
    for _, fields in _entries(key):
        if "line" not in fields:
            continue  # the end marker of a build
        prefix = " ".join(fields[k] for k in ("t", "s") if fields.get(k))
        yield f"{prefix} {fields['line']}\n" if prefix else f"{fields['line']}\n"


def log_file(filename: str, key: str | None = None, text: str | None = None) -> StreamingHttpResponse:
    """The log under ``key`` (or the finished ``text``) as a download named ``filename``."""
    body = iter([text]) if text is not None else _lines(key)
    response = StreamingHttpResponse(body, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
