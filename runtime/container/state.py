"""What the runtime remembers about a container, on disk in its bundle directory.

The bundle outlives every process but conmon: the agent, the CLI and the exit
command all rebuild a container's state from these files.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import InvalidState
from ..linux.files import write_atomic

# The states a container's files can show: being created, running (its conmon alive),
# exited (conmon wrote the exit code) or lost (conmon died without writing one).
CREATED, RUNNING, EXITED, LOST = "created", "running", "exited", "lost"
STATES = (CREATED, RUNNING, EXITED, LOST)
# The file the reconciler writes (with its reason) in the bundle of a container it found lost.
LOST_FILE = "lost"
# How a container moves between them. A start (a restart, by hand or by policy) takes an
# exited or lost container back to created, in the same bundle: same ID, same log file.
TRANSITIONS = {
    CREATED: {RUNNING, EXITED, LOST},
    RUNNING: {EXITED, LOST},
    EXITED: {CREATED},
    LOST: {CREATED},
}
# The states each lifecycle operation may act on; anything else is refused by ``check``.
# Stop is allowed on a stopped container (it does nothing), as `docker stop` is.
OPERATIONS = {
    "kill": {RUNNING},
    "exec": {RUNNING},
    "stop": set(STATES),
    "start": {state for state, targets in TRANSITIONS.items() if CREATED in targets},
    "restart": {RUNNING, EXITED, LOST},
    "remove": {EXITED, LOST},
}
_HINTS = {
    "kill": "only a running container takes a signal",
    "exec": "commands run only in a running container: start it first",
    "start": "stop it or restart it instead",
    "restart": "wait until it has started",
    "remove": "stop it first, or force the removal (-f)",
}


def check(operation: str, name: str, state: str) -> None:
    """Refuse ``operation`` on container ``name`` in ``state`` with a message that says why."""
    if state not in OPERATIONS[operation]:
        raise InvalidState(f"cannot {operation} container {name}: it is {state}; {_HINTS[operation]}")


@dataclass
class ContainerRecord:
    id: str
    name: str
    image: str
    image_id: str
    command: list[str]
    hostname: str
    memory_bytes: int
    cpus: float | None
    pids_limit: int
    cgroup_path: str
    created: float
    network: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    # Kept from the image at creation: the image may be rebuilt or removed meanwhile.
    stop_signal: str = "TERM"
    runtime_config: str = ""  # RuntimeConfig.to_json(), for the exit command
    restart_policy: str = "no"  # see restart.py; applied by the host agent
    restart_count: int = 0      # restarts made by the policy since the last start by hand
    runs: int = 1               # starts so far: tells a late exit command of an earlier run apart
    started_at: float = 0.0
    volumes: list[str] = field(default_factory=list)  # names of the named volumes it mounts
    log_size_max: int = 0  # its own log cap in bytes; 0: the host's

    def save(self, bundle: Path, durable: bool = True) -> None:
        """``durable``: on the disk when saved (not for a container that never outlives the host)."""
        write_atomic(bundle / "state.json", json.dumps(asdict(self)), durable=durable)  # no indent: the C encoder

    @classmethod
    def load(cls, bundle: Path) -> "ContainerRecord":
        return cls(**json.loads((bundle / "state.json").read_text()))


@dataclass(frozen=True)
class Status:
    state: str
    exit_code: int | None = None
    oom_killed: bool = False
    pid: int | None = None


def _pid_alive(pid_file: str) -> int | None:
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def read_status(bundle: Path) -> Status:
    # Plain string paths: the agent reads every container's status several times a second.
    base = str(bundle)
    if os.path.exists(base + "/" + LOST_FILE):
        # Marked by the reconciler: its conmon.pid may name another process by now, and a
        # monitor it found orphaned may still write an exit code as it is killed.
        return Status(LOST)
    try:
        with open(base + "/exit") as f:
            text = f.read().strip()
    except FileNotFoundError:
        pass
    else:
        try:
            code = int(text or "-1")
        except ValueError:
            code = -1
        return Status(EXITED, code, os.path.exists(base + "/oom"))
    if not os.path.exists(base + "/conmon.pid"):
        return Status(CREATED)  # still being set up
    if _pid_alive(base + "/conmon.pid") is None:
        return Status(LOST)
    pid = _pid_alive(base + "/init.pid")
    started = os.path.exists(base + "/started")
    return Status(RUNNING if started else CREATED, pid=pid)


class StatusCache:
    """``read_status`` for callers that ask again and again (the agent, several times a
    second for every container): once a container runs, its monitor's and init's PIDs
    are known, so a later check is one stat of the exit file and a signal 0 to the
    monitor, instead of opening three files."""

    def __init__(self) -> None:
        self._running: dict[str, tuple[int, int | None]] = {}  # bundle -> (conmon pid, init pid)

    def read(self, bundle: Path) -> Status:
        base = str(bundle)
        known = self._running.pop(base, None)
        if known is not None and not os.path.exists(base + "/exit"):
            try:
                os.kill(known[0], 0)
            except OSError:
                pass  # the monitor is gone: read it all again
            else:
                self._running[base] = known
                return Status(RUNNING, pid=known[1])
        status = read_status(bundle)
        conmon = _pid_alive(base + "/conmon.pid") if status.state == RUNNING else None
        if conmon is not None:
            self._running[base] = (conmon, status.pid)
        return status

    def keep_only(self, bundles: set[str]) -> None:
        """Forget the containers that are gone."""
        for gone in self._running.keys() - bundles:
            self._running.pop(gone, None)
