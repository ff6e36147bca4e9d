"""The control worker's jobs: record what agents report, through the web's actions."""
from __future__ import annotations

from webui.containers.actions import record_container_event
from webui.history.actions import record_stats_minute
from webui.hosts.actions import record_heartbeat
from webui.images import build_queue
from webui.images.actions import record_build_event
from webui.volumes.actions import record_volume_event

from .. import contracts
from ..celery_app import app


@app.task(name=contracts.CONTROL_HEARTBEAT)
def heartbeat(info: dict) -> None:
    record_heartbeat(info)
    build_queue.dispatch()  # a host new or back may have free build slots


@app.task(name=contracts.CONTROL_BUILD_EVENT)
def build_event(build_id: int, event: dict) -> None:
    record_build_event(build_id, event)


@app.task(name=contracts.CONTROL_CONTAINER_EVENT)
def container_event(container_id: int, event: dict) -> None:
    record_container_event(container_id, event)


@app.task(name=contracts.CONTROL_VOLUME_EVENT)
def volume_event(volume_id: int, event: dict) -> None:
    record_volume_event(volume_id, event)


@app.task(name=contracts.CONTROL_STATS_MINUTE)
def stats_minute(host_name: str, minute: int, containers: dict) -> None:
    record_stats_minute(host_name, minute, containers)
