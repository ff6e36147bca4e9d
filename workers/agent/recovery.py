"""What an agent that died leaves to its successor: builds it was running.

A marker file exists for each build while it runs; one still there when the
agent starts belongs to a build that died with the previous agent.
"""
from __future__ import annotations

import contextlib

from .. import contracts, streams
from .context import AgentContext


def _markers(ctx: AgentContext):
    path = ctx.containers.config.state_dir / "agent" / "builds"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def in_progress(ctx: AgentContext, build_id: int):
    marker = _markers(ctx) / str(build_id)
    marker.touch()
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


def report_interrupted_builds(ctx: AgentContext) -> None:
    for marker in _markers(ctx).iterdir():
        build_id = int(marker.name)
        reason = "the host agent stopped during this build: build again"
        ctx.redis.xadd(streams.build_log(build_id), {"line": f"ERROR: {reason}"})
        ctx.redis.xadd(streams.build_log(build_id), {"end": contracts.BUILD_FAILED})
        ctx.report(contracts.CONTROL_BUILD_EVENT, build_id,
                   {"status": contracts.BUILD_FAILED, "error": contracts.error("interrupted", reason)})
        marker.unlink()
