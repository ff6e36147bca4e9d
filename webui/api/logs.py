"""Log entries from a Redis stream for the API: after a position, or the newest N."""
from __future__ import annotations

import redis
from django.conf import settings
from rest_framework.exceptions import ValidationError

from workers.streams import TAIL_MAX, valid_position

from .params import is_whole_number

PAGE = 5000


def log_entries(key: str, after: str | None, tail: str | None = None) -> dict:
    """``{"entries": [[id, fields], ...], "next": id}``: pass ``next`` as ``after`` to go on."""
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    try:
        if tail is not None:
            if not is_whole_number(tail) or not 0 < int(tail) <= TAIL_MAX:
                raise ValidationError({"tail": f"tail must be a whole number from 1 to {TAIL_MAX}"})
            entries = list(reversed(client.xrevrange(key, count=int(tail))))
        else:
            position = valid_position(after)
            position = "0" if position.startswith("last:") else position  # use tail= for that
            found = client.xread({key: position}, count=PAGE)
            entries = found[0][1] if found else []
    finally:
        client.close()
    nxt = entries[-1][0] if entries else (after or "0")
    return {"entries": [[entry_id, fields] for entry_id, fields in entries], "next": nxt}
