"""conmon's exit command, ``berth-runtime --run-dir DIR exited BUNDLE RUN`` (or ``python -m
runtime ...``): run when a container exits.

It releases what the container holds (network, mounts, cgroup), unless whoever stopped it
(``run --rm``, the agent, a removal) has done that already, as is usual. That is found out
under the container's lock with a few modules of the standard library, before the runtime
is imported (80 ms of CPU): so a container's exit costs the host little, and the next
container's start, often right after it, does not wait for a CPU.
"""
from __future__ import annotations

import fcntl
import json
import os


def lock_path(run_dir: str, cid: str) -> str:
    """A container's lock: outside its bundle, so a cleanup waiting on it is not left holding
    a removed file. Held by whoever sets the container up, starts, cleans or removes it."""
    return os.path.join(run_dir, "locks", cid)


def _cleanup_pending(bundle: str, run: int | None, lock: str) -> bool:
    """Whether the container's run ``run`` still holds anything (asked under its lock)."""
    try:
        with open(os.path.join(bundle, "state.json")) as f:
            runs = json.load(f).get("runs", 1)
    except FileNotFoundError:
        # Removed meanwhile: this command's open may have made the lock file again after the
        # removal took it away.
        try:
            os.unlink(lock)
        except FileNotFoundError:
            pass
        return False
    if os.path.exists(os.path.join(bundle, "cleaned")):
        return False
    return run is None or run == runs  # an earlier run's late exit command leaves the current one be


def arguments(argv: list[str]) -> list[str] | None:
    """BUNDLE and RUN when the command line is an exit command (``[--run-dir DIR] exited BUNDLE
    RUN``, the run directory naming the fork server to run it in); None for any other."""
    rest = argv[2:] if argv[:1] == ["--run-dir"] else argv
    return rest[1:] if rest[:1] == ["exited"] else None


def main(argv: list[str]) -> int:
    bundle = argv[0]
    run = int(argv[1]) if len(argv) > 1 else None
    try:
        with open(os.path.join(bundle, "state.json")) as f:
            runtime_config = json.load(f)["runtime_config"]
    except FileNotFoundError:
        return 0  # removed already: whoever removed it cleaned up
    lock = lock_path(json.loads(runtime_config)["run_dir"], os.path.basename(bundle.rstrip("/")))
    os.makedirs(os.path.dirname(lock), exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        pending = _cleanup_pending(bundle, run, lock)
    finally:
        os.close(fd)
    if pending:
        from pathlib import Path

        from ..config import RuntimeConfig
        from .manager import Containers
        Containers(RuntimeConfig.from_json(runtime_config)).cleanup(Path(bundle), run)
    return 0
