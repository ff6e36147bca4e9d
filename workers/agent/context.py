"""What every agent task and loop shares: the runtime, Redis and a way to report."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import redis

from runtime.container.manager import Containers
from runtime.image.store import ImageStore

from .. import config as queue_config, contracts
from ..celery_app import app
from ..config import CONTROL_QUEUE
from .settings import runtime_config

# The label that ties a runtime container to the web's container record.
CONTAINER_LABEL = "berth.container"


@dataclass
class AgentContext:
    host: str
    containers: Containers
    store: ImageStore
    redis: redis.Redis
    # The last state reported of each container, as in its file under known_dir.
    _reported: dict[str, str] = field(default_factory=dict)

    def report(self, task: str, *args) -> None:
        app.send_task(task, args=list(args), queue=CONTROL_QUEUE)

    @property
    def known_dir(self) -> Path:
        """One file per container the agent has reported: ``<container id> <last state>``."""
        path = self.containers.config.state_dir / "agent" / "known"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def remember(self, runtime_id: str, container_id: int, state: str) -> None:
        (self.known_dir / runtime_id).write_text(f"{container_id} {state}")
        self._reported[runtime_id] = state

    def reported_state(self, runtime_id: str) -> str:
        """What was last reported of a container in known_dir; read from its file once."""
        state = self._reported.get(runtime_id)
        if state is None:
            state = self._reported[runtime_id] = (self.known_dir / runtime_id).read_text().split()[-1]
        return state

    def forget(self, runtime_id: str) -> None:
        (self.known_dir / runtime_id).unlink(missing_ok=True)
        self._reported.pop(runtime_id, None)

    def running_event(self, info) -> dict:
        return {"status": contracts.C_RUNNING, "ip": info.record.network.get("ip"), "host": self.host,
                "restart_count": info.record.restart_count}


@functools.cache
def context() -> AgentContext:
    cfg = runtime_config()
    store = ImageStore(cfg)
    return AgentContext(queue_config.host_name(), Containers(cfg, store), store,
                        redis.Redis.from_url(queue_config.REDIS_URL))
