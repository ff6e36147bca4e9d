"""Redis streams that carry build output, container logs and stats to viewers.

The agent appends; websocket consumers read from the viewer's last position
(a stream ID), so a viewer that reconnects resumes without gap or duplicate.
"""
from __future__ import annotations

BUILD_LOG_MAXLEN = 100_000
CONTAINER_LOG_MAXLEN = 250_000  # lines a late viewer can replay; all of them stay on the host
STATS_MAXLEN = 900  # 15 minutes at one sample a second
CONTEXT_TTL = 3600


def build_log(build_id: int) -> str:
    return f"berth:build:{build_id}:log"


def container_log(container_id: int) -> str:
    return f"berth:container:{container_id}:log"


def container_stats(container_id: int) -> str:
    """One entry a second, its one field "j" a JSON object of figures (see workers/agent/figures.py)."""
    return f"berth:container:{container_id}:stats"


def build_cancel(build_id: int) -> str:
    """Set by the web when a user cancels the build; the building agent watches it."""
    return f"berth:build:{build_id}:cancel"


def build_context(build_id: int) -> str:
    return f"berth:build:{build_id}:context"


# Set by each agent at every heartbeat, expiring after HOST_ALIVE_SECONDS: while it exists the
# host is alive. Redis, not the heartbeat task, because heartbeats wait in the control queue
# behind other work, and a busy queue must not make a host look dead.
HOST_ALIVE_SECONDS = 10


def host_alive(host: str) -> str:
    return f"berth:host:{host}:alive"


# Set when a container whose run job may still wait in its host's queue is given up (removed
# while pending, or lost with its host): the agent then does not start it. A day outlives any queue.
RUN_WITHDRAWN_TTL = 86400


def run_withdrawn(runtime_id: str) -> str:
    return f"berth:run:{runtime_id}:withdrawn"


# Why the control refused a host's heartbeat (no valid join token): the agent logs it.
JOIN_REFUSAL_TTL = 60


def join_refusal(host: str) -> str:
    return f"berth:host:{host}:refused"


TAIL_MAX = 100_000


def valid_position(value: str | None) -> str:
    """A stream ID from a client, "last:N" (start with the N newest entries, as
    ``docker logs --tail N`` does), or "0" (from the start) when absent or malformed."""
    if not value:
        return "0"
    if value.startswith("last:"):
        count = value[5:]
        return f"last:{min(int(count), TAIL_MAX)}" if count.isdigit() and int(count) > 0 else "0"
    ms, _, seq = value.partition("-")
    if ms.isdigit() and (not seq or seq.isdigit()):
        return value
    return "0"


# An exec session's two streams. Into the container: {"d": bytes typed}, {"resize": "COLS ROWS"},
# {"ping": ""} and {"end": why}; out of it: {"started": ""}, {"d": bytes}, then {"end": exit code}
# or {"error": message}. Streams, not pub/sub: what is typed before the agent attaches waits.
EXEC_TTL = 60  # refreshed while the session lives; both keys go when it ends


def exec_input(session: str) -> str:
    return f"berth:exec:{session}:in"


def exec_output(session: str) -> str:
    return f"berth:exec:{session}:out"
