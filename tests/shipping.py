"""Helpers for tests that run a real container and ship its log with the agent's Shipper."""
from __future__ import annotations

import threading
import time

from runtime.container.manager import RunRequest
from workers import streams
from workers.agent.context import CONTAINER_LABEL, AgentContext
from workers.agent.loops import Shipper


def start(ctx: AgentContext, script: str, container_id: int, memory_mb: int = 64, **limits):
    """Runs ``sh -c script`` in busybox, labelled as Berth's container ``container_id``."""
    req = RunRequest(image="busybox", memory_bytes=memory_mb << 20, command=("sh", "-c", script),
                     labels=((CONTAINER_LABEL, str(container_id)),), **limits)
    return ctx.containers.run(req)


def shipped_everything(shipper: Shipper, cid: str) -> bool:
    """The log shipped to its end, and nothing written since (a restarted container writes on)."""
    position = shipper.positions / cid
    if not (position.exists() and position.read_text() == "done"):
        return False
    return shipper.done.get(cid, -1) == shipper.log_size(cid)


def ship_until_done(ctx: AgentContext, cid: str, shipper: Shipper | None = None, timeout: float = 60) -> Shipper:
    shipper = shipper or Shipper(ctx, threading.Event())
    deadline = time.monotonic() + timeout
    while not shipped_everything(shipper, cid):
        assert time.monotonic() < deadline, "the shipper never finished the log"
        shipper.tick()
        time.sleep(0.005)
    return shipper


def shipped_lines(ctx: AgentContext, container_id: int) -> list[str]:
    entries = ctx.redis.xrange(streams.container_log(container_id))
    return [fields[b"line"].decode() for _, fields in entries]
