"""A build's cancellation, as the web asks for it: a Redis key the building agent watches."""
from __future__ import annotations

import threading
from contextlib import contextmanager

import redis

from .. import streams

POLL_SECONDS = 0.5


@contextmanager
def watch_cancel(ctx, build_id: int):
    """An Event set once the web cancels the build (at once if it already has); the watch
    ends with the block."""
    cancel, done = threading.Event(), threading.Event()
    key = streams.build_cancel(build_id)

    def poll():
        while not done.wait(POLL_SECONDS):
            try:
                if ctx.redis.exists(key):
                    cancel.set()
                    return
            except redis.RedisError:
                continue  # Redis away for a moment: the build goes on, the next poll tells
    if ctx.redis.exists(key):
        cancel.set()
    watcher = threading.Thread(target=poll, name=f"cancel-watch-{build_id}", daemon=True)
    watcher.start()
    try:
        yield cancel
    finally:
        done.set()
        watcher.join()
