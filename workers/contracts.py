"""The messages between the web, the control worker and the host agents.

Task names and payloads live here so both sides agree without importing
each other: the web never imports the agent, the agent never imports Django.
"""
from __future__ import annotations

# Sent to a host queue, run by that host's agent.
AGENT_BUILD = "agent.build"
AGENT_RUN = "agent.run"
AGENT_STOP = "agent.stop"
AGENT_KILL = "agent.kill"
AGENT_RESTART = "agent.restart"
AGENT_REMOVE = "agent.remove"
AGENT_REMOVE_VOLUME = "agent.remove_volume"
AGENT_EXEC = "agent.exec"
AGENT_REMOVE_IMAGE = "agent.remove_image"

# Sent to the control queue, run by the control worker.
CONTROL_HEARTBEAT = "control.heartbeat"
CONTROL_BUILD_EVENT = "control.build_event"
CONTROL_CONTAINER_EVENT = "control.container_event"
# (volume id, {"removed": True} or {"error": ...}): the answer to agent.remove_volume.
CONTROL_VOLUME_EVENT = "control.volume_event"
# (host name, minute's start in Unix seconds, {container id: summary}): see workers/agent/history.py.
CONTROL_STATS_MINUTE = "control.stats_minute"

# Build states, shared by the agent's events and the database.
BUILD_QUEUED, BUILD_RUNNING, BUILD_SUCCEEDED, BUILD_FAILED = "queued", "running", "succeeded", "failed"
BUILD_STATES = (BUILD_QUEUED, BUILD_RUNNING, BUILD_SUCCEEDED, BUILD_FAILED)
BUILD_IN_FLIGHT = (BUILD_QUEUED, BUILD_RUNNING)  # what holds a build slot or the build quota
BUILD_TRANSITIONS = {
    BUILD_QUEUED: {BUILD_RUNNING, BUILD_FAILED},
    BUILD_RUNNING: {BUILD_SUCCEEDED, BUILD_FAILED},
    BUILD_SUCCEEDED: set(),
    BUILD_FAILED: set(),
}

# Container states, likewise. An exited or failed (lost) container runs again when it is
# restarted, by hand or by its restart policy: the same container, as `docker restart`.
# A lost container's host stopped sending heartbeats: nobody knows whether it still runs. It is
# found again (running, exited or removed) when its host's agent reports back.
C_PENDING, C_RUNNING, C_EXITED, C_FAILED, C_REMOVED = "pending", "running", "exited", "failed", "removed"
C_LOST = "lost"
CONTAINER_STATES = (C_PENDING, C_RUNNING, C_EXITED, C_FAILED, C_LOST, C_REMOVED)
CONTAINER_TRANSITIONS = {
    C_PENDING: {C_RUNNING, C_FAILED, C_LOST, C_REMOVED},
    C_RUNNING: {C_EXITED, C_FAILED, C_LOST, C_REMOVED},
    C_EXITED: {C_RUNNING, C_LOST, C_REMOVED},
    C_FAILED: {C_RUNNING, C_REMOVED},
    C_LOST: {C_RUNNING, C_EXITED, C_FAILED, C_REMOVED},
    C_REMOVED: set(),
}
# A container that holds its host's resources and its team's quota: starting or running.
C_HOLDING = (C_PENDING, C_RUNNING)
# What the web lets a user ask of a container in each state; the agent checks again.
CONTAINER_ACTIONS = {
    "stop": {C_RUNNING},
    "kill": {C_RUNNING},
    "restart": {C_RUNNING, C_EXITED, C_FAILED},
    "remove": {C_PENDING, C_RUNNING, C_EXITED, C_FAILED, C_LOST},
    "exec": {C_RUNNING},
}
# Restart policies as Docker spells them; the runtime parses them again (runtime/container/restart.py).
RESTART_POLICY_PATTERN = r"^(no|always|unless-stopped|on-failure(:\d{1,6})?)$"


def can_move(transitions: dict, current: str, new: str) -> bool:
    return new == current or new in transitions.get(current, set())


def build_job(build_id: int, dockerfile: str, tag: str, memory_bytes: int, cpus: float | None,
              has_context: bool, timeout_seconds: int, build_args: dict | None = None, target: str = "",
              no_cache: bool = False) -> dict:
    return {"build_id": build_id, "dockerfile": dockerfile, "tag": tag, "memory_bytes": memory_bytes,
            "cpus": cpus, "has_context": has_context, "timeout_seconds": timeout_seconds,
            "build_args": build_args or {}, "target": target, "no_cache": no_cache}


def run_job(container_id: int, runtime_id: str, image: str, ports: list[str], memory_bytes: int,
            cpus: float | None, env: list[str], name: str, init: bool = True, restart: str = "no",
            options: dict | None = None) -> dict:
    return {"container_id": container_id, "runtime_id": runtime_id, "image": image, "ports": ports,
            "memory_bytes": memory_bytes, "cpus": cpus, "env": env, "name": name, "init": init,
            "restart": restart, **(options or {})}


def run_options(team: str, pids_limit: int, cpuset_cpus: str, network_receive_bps: int | None,
                network_send_bps: int | None, volumes: list[str] | None = None, log_size_max: int = 0,
                network: str = "bridge") -> dict:
    """A run job's team (its containers share a network no other team reaches) and its limits
    past memory and CPU; rates in bytes per second, None for no limit. ``volumes``: mounts as
    the runtime takes them (``team7-data:/data:ro``, ``/host/path:/path``). ``network``: the
    runtime's network mode."""
    return {"team": team, "pids_limit": pids_limit, "cpuset_cpus": cpuset_cpus,
            "network_receive_bps": network_receive_bps, "network_send_bps": network_send_bps,
            "volumes": list(volumes or []), "log_size_max": log_size_max, "network": network}


# An exec session ends after this long whatever happens, or once the web has said nothing (not
# even its pings, every EXEC_PING_SECONDS) for EXEC_IDLE_SECONDS: its socket is gone.
EXEC_MAX_SECONDS = 3600
EXEC_PING_SECONDS = 10
EXEC_IDLE_SECONDS = 30


def exec_job(session: str, container_id: int, runtime_id: str, command: list[str],
             timeout_seconds: int = EXEC_MAX_SECONDS) -> dict:
    """An interactive terminal: bytes come and go on the session's streams (workers/streams.py)."""
    return {"session": session, "container_id": container_id, "runtime_id": runtime_id, "command": command,
            "timeout_seconds": timeout_seconds}


def error(code: str, message: str, detail: str = "") -> dict:
    return {"code": code, "message": message, "detail": detail}
