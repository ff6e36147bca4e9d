"""The host agent's jobs. Thin: each takes IDs and a payload, calls the runtime, reports."""
from __future__ import annotations

import logging
import shutil
import threading
import time
from datetime import datetime, timezone

from runtime.build.builder import BuildOptions, build as build_image
from runtime.build.context import extract
from runtime.container import volumes
from runtime.container.manager import DEFAULT_PIDS_LIMIT, RunRequest
from runtime.container.state import RUNNING
from runtime.errors import BerthError, ContextError, InvalidState, NotFound
from runtime.network import ports as portmaps

from .. import contracts, streams
from ..config import BUILD_SLOT_COUNT
from ..celery_app import app
from .context import CONTAINER_LABEL, context
from . import sharing, terminal
from .recovery import abandoned, in_progress, run_in_progress
from .cancelling import watch_cancel
from .capacity import MemoryLedger
from .image_tasks import image_info
from .settings import registries

BUILD_SLOTS = threading.BoundedSemaphore(BUILD_SLOT_COUNT)
# How long a build waits for a slot the web thought free: the one before it may still be
# releasing its slot after reporting its end. Longer, and web and agent disagree on the count.
SLOT_WAIT_SECONDS = 60
MEMORY = MemoryLedger()

log = logging.getLogger(__name__)


def _now() -> str:
    """The time of a build line, as conmon stamps container log lines (RFC 3339, UTC)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _error_of(exc: BaseException) -> dict:
    if isinstance(exc, BerthError):
        return exc.to_dict()
    log.exception("unexpected error in an agent job")
    return contracts.error("internal", f"internal error on the host: {exc.__class__.__name__}: {exc}")


class BuildLog:
    """Streams build output to viewers and keeps the whole text for the build record."""

    def __init__(self, ctx, build_id: int):
        self.ctx = ctx
        self.key = streams.build_log(build_id)
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        self.ctx.redis.xadd(self.key, {"t": _now(), "line": line}, maxlen=streams.BUILD_LOG_MAXLEN, approximate=True)

    def end(self, status: str) -> None:
        self.ctx.redis.xadd(self.key, {"end": status})

    @property
    def text(self) -> str:
        return "\n".join(self.lines)[-1_000_000:]


@app.task(name=contracts.AGENT_BUILD)
def build(job: dict) -> None:
    # Builds may take long: they get a few of the worker's threads, never all of them, so
    # runs, stops and removes stay prompt. The web's fair queue sends a host a build only
    # when it has a free slot; the semaphore stays as a safety.
    if not BUILD_SLOTS.acquire(timeout=SLOT_WAIT_SECONDS):
        _fail_without_slot(context(), job["build_id"])
        return
    try:
        with in_progress(context(), job["build_id"]):
            _build(context(), job)
    finally:
        BUILD_SLOTS.release()


def _fail_without_slot(ctx, build_id: int) -> None:
    error = contracts.error("no_slot", f"Host {ctx.host} had no free build slot for {SLOT_WAIT_SECONDS} s: the web "
                            "and this agent disagree on BERTH_BUILD_SLOTS. Build again.")
    output = BuildLog(ctx, build_id)
    output(f"ERROR: {error['message']}")
    output.end(contracts.BUILD_FAILED)
    ctx.report(contracts.CONTROL_BUILD_EVENT, build_id, {"status": contracts.BUILD_FAILED, "error": error,
                                                         "log": output.text})


def _build(ctx, job: dict) -> None:
    build_id = job["build_id"]
    ctx.report(contracts.CONTROL_BUILD_EVENT, build_id, {"status": contracts.BUILD_RUNNING, "host": ctx.host})
    output = BuildLog(ctx, build_id)
    workdir = ctx.store.new_work_dir(f"context-{build_id}")
    started = time.monotonic()
    try:
        with watch_cancel(ctx, build_id) as cancel:
            _fetch_context(ctx, job, workdir)
            options = BuildOptions(tag=job["tag"], memory_bytes=job["memory_bytes"], cpus=job.get("cpus"),
                                   timeout_seconds=job.get("timeout_seconds", 3600),
                                   build_args=job.get("build_args") or {}, no_cache=job.get("no_cache", False),
                                   target=job.get("target") or None, registries=registries(), cancel=cancel)
            image = build_image(ctx.containers.config, ctx.store, job["dockerfile"], workdir, options, output)
        event = {"status": contracts.BUILD_SUCCEEDED, "image": image.name, "image_id": image.id,
                 "image_info": image_info(ctx.store, image),
                 **sharing.share(ctx, image, job["tag"], build_id, output)}
    except Exception as exc:  # any failure must reach the user as a failed build
        error = _error_of(exc)
        output(f"ERROR: {error['message']}")
        event = {"status": contracts.BUILD_FAILED, "error": error}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    event.update(log=output.text, seconds=round(time.monotonic() - started, 3))
    output.end(event["status"])
    ctx.report(contracts.CONTROL_BUILD_EVENT, build_id, event)


def _fetch_context(ctx, job: dict, workdir) -> None:
    if not job.get("has_context"):
        return
    data = ctx.redis.getdel(streams.build_context(job["build_id"]))  # one build, one copy
    if data is None:
        raise ContextError("the build context is no longer available (it expires after an hour): build again")
    extract(data, workdir)


@app.task(name=contracts.AGENT_RUN)
def run(job: dict) -> None:
    ctx = context()
    if ctx.containers.exists(job["runtime_id"]) or abandoned(ctx, job["runtime_id"]):
        return  # a second delivery of a job already done, or given up by a restarted agent
    if ctx.redis.exists(streams.run_withdrawn(job["runtime_id"])):
        # Removed, or given up with this host, while the job waited: start nothing.
        ctx.report(contracts.CONTROL_CONTAINER_EVENT, job["container_id"], {"status": contracts.C_REMOVED})
        return
    with run_in_progress(ctx, job):
        _run(ctx, job)


def _run(ctx, job: dict) -> None:
    cid = job["container_id"]
    try:
        sharing.ensure_local(ctx, job["image"])  # built on another host
        req = RunRequest(
            id=job["runtime_id"], image=job["image"], memory_bytes=job["memory_bytes"], cpus=job.get("cpus"),
            ports=tuple(portmaps.parse(p) for p in job["ports"]), env=tuple(job.get("env", [])),
            **_run_options(job),
            name=job.get("name", ""), init=job.get("init", False), labels=((CONTAINER_LABEL, str(cid)),),
            restart=job.get("restart", "no"))
        with MEMORY.reserve(ctx.host, ctx.containers, req.id, req.memory_bytes):
            info = ctx.containers.run(req)
    except Exception as exc:  # reported to the user as a failed container
        ctx.report(contracts.CONTROL_CONTAINER_EVENT, cid, {"status": contracts.C_FAILED, "error": _error_of(exc)})
        return
    ctx.remember(info.id, cid, RUNNING)
    ctx.report(contracts.CONTROL_CONTAINER_EVENT, cid, ctx.running_event(info))


def _run_options(job: dict) -> dict:
    """contracts.run_options' fields as RunRequest's; jobs queued before them have none."""
    return {"team": job.get("team", ""), "pids_limit": job.get("pids_limit") or DEFAULT_PIDS_LIMIT,
            "cpuset_cpus": job.get("cpuset_cpus", ""), "network_receive_bps": job.get("network_receive_bps"),
            "network_send_bps": job.get("network_send_bps"),
            "volumes": tuple(volumes.parse(spec) for spec in job.get("volumes", ())),
            "log_size_max": job.get("log_size_max") or 0, "network": job.get("network") or "bridge"}


@app.task(name=contracts.AGENT_STOP)
def stop(container_id: int, runtime_id: str) -> None:
    ctx = context()
    try:
        status = ctx.containers.stop(runtime_id)
    except NotFound:  # removed behind the agent's back
        ctx.report(contracts.CONTROL_CONTAINER_EVENT, container_id, {"status": contracts.C_REMOVED})
        return
    except BerthError as exc:
        ctx.report(contracts.CONTROL_CONTAINER_EVENT, container_id, {"error": exc.to_dict()})
        return
    ctx.report(contracts.CONTROL_CONTAINER_EVENT, container_id,
               {"status": contracts.C_EXITED, "exit_code": status.exit_code, "oom_killed": status.oom_killed})


@app.task(name=contracts.AGENT_KILL)
def kill(container_id: int, runtime_id: str, signal: str) -> None:
    # The exit, if the signal ends the container, is reported by the sampler.
    try:
        context().containers.kill(runtime_id, signal)
    except BerthError as exc:
        context().report(contracts.CONTROL_CONTAINER_EVENT, container_id, {"error": exc.to_dict()})


@app.task(name=contracts.AGENT_RESTART)
def restart(container_id: int, runtime_id: str) -> None:
    ctx = context()
    try:
        info = ctx.containers.restart(runtime_id)
    except BerthError as exc:
        ctx.report(contracts.CONTROL_CONTAINER_EVENT, container_id, {"error": exc.to_dict()})
        return
    ctx.remember(info.id, container_id, RUNNING)
    ctx.report(contracts.CONTROL_CONTAINER_EVENT, container_id, ctx.running_event(info))


@app.task(name=contracts.AGENT_REMOVE)
def remove(container_id: int, runtime_id: str, force: bool = True) -> None:
    ctx = context()
    try:
        if ctx.containers.exists(runtime_id):
            ctx.containers.remove(runtime_id, force=force)
    except InvalidState as exc:  # running, and not forced: nothing is touched
        ctx.report(contracts.CONTROL_CONTAINER_EVENT, container_id, {"error": exc.to_dict()})
        return
    ctx.report(contracts.CONTROL_CONTAINER_EVENT, container_id, {"status": contracts.C_REMOVED})


@app.task(name=contracts.AGENT_REMOVE_VOLUME)
def remove_volume(volume_id: int, runtime_name: str) -> None:
    _remove_volume(context(), volume_id, runtime_name)


def _remove_volume(ctx, volume_id: int, runtime_name: str) -> None:
    """Refused while a container (running or not) mounts it; the answer goes to the web, with
    the web's IDs of the containers in the way (those the CLI started have none)."""
    try:
        ctx.containers.remove_volume(runtime_name)
    except NotFound:
        pass  # never used on this host, or removed by an earlier delivery: gone either way
    except BerthError as exc:
        users = [ctx.containers.get(cid).record.labels.get(CONTAINER_LABEL, "")
                 for cid in ctx.containers.volume_users(runtime_name)]
        ctx.report(contracts.CONTROL_VOLUME_EVENT, volume_id, {"error": exc.to_dict(), "users": users})
        return
    ctx.report(contracts.CONTROL_VOLUME_EVENT, volume_id, {"removed": True})


@app.task(name=contracts.AGENT_EXEC)
def exec_session(job: dict) -> None:
    # The session gets a thread of its own (terminal.py), so an open terminal holds no task thread.
    terminal.start(context(), job)
