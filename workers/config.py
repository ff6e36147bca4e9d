"""Queue and broker settings, from the environment."""
from __future__ import annotations

import socket

from .env import env_int, env_str

REDIS_URL = env_str("BERTH_REDIS_URL", "redis://127.0.0.1:6379/0")
CONTROL_QUEUE = "control"
# A build can run for a long time; a job is redelivered only if it is not acknowledged
# within this many seconds (Redis transport's visibility timeout).
VISIBILITY_TIMEOUT = env_int("BERTH_VISIBILITY_TIMEOUT", 2 * 3600)
# Builds running at once on one host; the agent keeps other threads for runs and stops.
BUILD_SLOT_COUNT = env_int("BERTH_BUILD_SLOTS", 2)
OPERATION_THREADS = 4


def host_name() -> str:
    return env_str("BERTH_HOST_NAME", socket.gethostname())


def host_queue(name: str) -> str:
    return f"host.{name}"
