"""What an agent that died leaves to its successor: builds it was running, and
containers it was starting.

A marker file exists for each build and each run job while it runs; one still
there when the agent starts belongs to a job that died with the previous agent.
"""
from __future__ import annotations

import contextlib
import json

from runtime.container.state import LOST, RUNNING
from runtime.errors import NotFound
from runtime.reconcile import Report

from .. import contracts, streams
from .context import CONTAINER_LABEL, AgentContext


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


def _run_markers(ctx: AgentContext, kind: str = "runs"):
    path = ctx.containers.config.state_dir / "agent" / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def run_in_progress(ctx: AgentContext, job: dict):
    marker = _run_markers(ctx) / job["runtime_id"]
    marker.write_text(json.dumps(job))
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


def abandoned(ctx: AgentContext, runtime_id: str) -> bool:
    """A run job this host gave up after an agent died in it: a late second delivery
    (after the queue's visibility timeout) must not start the container then."""
    return (_run_markers(ctx, "runs-abandoned") / runtime_id).exists()


def finish_interrupted_runs(ctx: AgentContext) -> None:
    """Each run job the dead agent was in ends now: a container that got started is
    reported running; one half made is removed and reported failed, with the reason."""
    for marker in _run_markers(ctx).iterdir():
        job = json.loads(marker.read_text())
        cid, runtime_id = job["container_id"], job["runtime_id"]
        try:
            info = ctx.containers.get(runtime_id)
        except NotFound:
            info = None
        if info is not None and info.status.state == RUNNING:
            ctx.remember(runtime_id, cid, RUNNING)
            ctx.report(contracts.CONTROL_CONTAINER_EVENT, cid, ctx.running_event(info))
        else:
            if info is not None:
                ctx.containers.remove(runtime_id, force=True)
            (_run_markers(ctx, "runs-abandoned") / runtime_id).touch()
            reason = "the host agent stopped while starting this container: run the app again"
            ctx.report(contracts.CONTROL_CONTAINER_EVENT, cid,
                       {"status": contracts.C_FAILED, "error": contracts.error("interrupted", reason)})
        marker.unlink()


def report_interrupted_builds(ctx: AgentContext) -> None:
    for marker in _markers(ctx).iterdir():
        build_id = int(marker.name)
        reason = "the host agent stopped during this build: build again"
        ctx.redis.xadd(streams.build_log(build_id), {"line": f"ERROR: {reason}"})
        ctx.redis.xadd(streams.build_log(build_id), {"end": contracts.BUILD_FAILED})
        ctx.report(contracts.CONTROL_BUILD_EVENT, build_id,
                   {"status": contracts.BUILD_FAILED, "error": contracts.error("interrupted", reason)})
        marker.unlink()


def report_lost(ctx: AgentContext, report: Report) -> None:
    """The web's containers the reconciler found lost fail, with its reason (once: the
    sampler then sees them as already reported)."""
    for runtime_id, reason in report.lost.items():
        try:
            label = ctx.containers.get(runtime_id).record.labels.get(CONTAINER_LABEL)
        except NotFound:
            continue
        if not label:
            continue  # a CLI container: nobody to tell
        ctx.report(contracts.CONTROL_CONTAINER_EVENT, int(label),
                   {"status": contracts.C_FAILED, "error": contracts.error("lost", reason)})
        ctx.remember(runtime_id, int(label), LOST)
