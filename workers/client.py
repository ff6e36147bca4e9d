"""The web's only door to the queue: jobs for host agents, passed by ID after commit."""
from __future__ import annotations

import redis

from . import config, contracts, streams
from .celery_app import app


def _redis() -> redis.Redis:
    return redis.Redis.from_url(config.REDIS_URL)


def put_context(build_id: int, data: bytes) -> None:
    """Hand the build context to whichever host builds it, through the shared Redis."""
    _redis().set(streams.build_context(build_id), data, ex=streams.CONTEXT_TTL)


def cancel_build(build_id: int) -> None:
    """Tell the agent building it (or about to) to stop; a day is longer than any build waits."""
    _redis().set(streams.build_cancel(build_id), 1, ex=86400)


def queue_build(host: str, job: dict) -> None:
    app.send_task(contracts.AGENT_BUILD, args=[job], queue=config.host_queue(host))


def queue_remove_image(host: str, build_id: int, image_id: str, name: str) -> None:
    app.send_task(contracts.AGENT_REMOVE_IMAGE, args=[build_id, image_id, name], queue=config.host_queue(host))


def withdraw_run(runtime_id: str) -> None:
    """Its run job, if still queued, starts nothing (see streams.run_withdrawn)."""
    _redis().set(streams.run_withdrawn(runtime_id), 1, ex=streams.RUN_WITHDRAWN_TTL)


def queue_run(host: str, job: dict) -> None:
    app.send_task(contracts.AGENT_RUN, args=[job], queue=config.host_queue(host))


def queue_stop(host: str, container_id: int, runtime_id: str) -> None:
    app.send_task(contracts.AGENT_STOP, args=[container_id, runtime_id], queue=config.host_queue(host))


def queue_kill(host: str, container_id: int, runtime_id: str, signal: str) -> None:
    app.send_task(contracts.AGENT_KILL, args=[container_id, runtime_id, signal], queue=config.host_queue(host))


def queue_restart(host: str, container_id: int, runtime_id: str) -> None:
    app.send_task(contracts.AGENT_RESTART, args=[container_id, runtime_id], queue=config.host_queue(host))


def queue_remove(host: str, container_id: int, runtime_id: str, force: bool = False) -> None:
    app.send_task(contracts.AGENT_REMOVE, args=[container_id, runtime_id, force], queue=config.host_queue(host))


def open_exec(host: str, job: dict, cols: int, rows: int) -> None:
    """The session's input stream first (it tells the agent the terminal is still wanted), then the job."""
    client = _redis()
    client.xadd(streams.exec_input(job["session"]), {"resize": f"{cols} {rows}"})
    client.expire(streams.exec_input(job["session"]), streams.EXEC_TTL)
    app.send_task(contracts.AGENT_EXEC, args=[job], queue=config.host_queue(host))


def queue_remove_volume(host: str, volume_id: int, runtime_name: str) -> None:
    app.send_task(contracts.AGENT_REMOVE_VOLUME, args=[volume_id, runtime_name], queue=config.host_queue(host))
