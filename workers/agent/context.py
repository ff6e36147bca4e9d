"""What every agent task and loop shares: the runtime, Redis and a way to report."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import redis

from runtime.container.manager import Containers
from runtime.image.store import ImageStore

from .. import config as queue_config
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

    def report(self, task: str, *args) -> None:
        app.send_task(task, args=list(args), queue=CONTROL_QUEUE)


@functools.cache
def context() -> AgentContext:
    cfg = runtime_config()
    store = ImageStore(cfg)
    return AgentContext(queue_config.host_name(), Containers(cfg, store), store,
                        redis.Redis.from_url(queue_config.REDIS_URL))
