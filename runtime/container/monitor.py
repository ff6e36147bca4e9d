"""The per-container monitor: Debian's conmon, as Podman uses it.

conmon double-forks away from its caller, becomes the subreaper and parent of
the container's init, holds its stdio, writes the log file, records the exit
code (and an OOM kill) and runs an exit command, which tears down the
container's network. The host agent can die meanwhile: nothing is lost.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..config import RuntimeConfig
from ..errors import OCIRuntimeError

# The repository root, so the exit command can run `python -m runtime` from anywhere.
_CODE_ROOT = Path(__file__).resolve().parents[2]
# The CLI's client of the fork server, where make builds it (beside this interpreter): as the
# exit command it costs a container's end 2 ms of CPU, not a Python's start (20 ms).
_CLIENT = Path(sys.executable).parent / "berth-runtime"


def exit_command(config: RuntimeConfig, bundle: Path, run: int) -> list[str]:
    """What conmon runs when the container ends (runtime/container/exited.py); the run
    directory names the fork server to run it in."""
    start = [str(_CLIENT)] if _CLIENT.exists() else [sys.executable, "-m", "runtime"]
    return start + ["--run-dir", str(config.run_dir), "exited", str(bundle), str(run)]


def launch(config: RuntimeConfig, cid: str, bundle: Path, log_size_max: int, run: int = 1) -> int:
    """Create the container under a new conmon and return the container's init PID.

    ``run`` counts the container's starts: its exit command names it, so a late one
    of an earlier run cannot clean up after the current one."""
    read_fd, write_fd = os.pipe()
    env = {**os.environ, "_OCI_SYNCPIPE": str(write_fd), "PYTHONPATH": str(_CODE_ROOT)}
    args = [
        config.conmon, "--api-version", "1", "-c", cid, "-u", cid, "-n", cid,
        "-r", shutil.which(config.runc) or config.runc, "-b", str(bundle),
        "-p", str(bundle / "init.pid"), "-P", str(bundle / "conmon.pid"),
        "-l", f"k8s-file:{bundle / 'ctr.log'}", "--log-size-max", str(log_size_max),
        "--exit-dir", str(bundle), "-0", str(bundle), "--socket-dir-path", str(bundle / "sock"),
        "--full-attach", "--log-level", "error",
        # No fsync of the log when the container ends (2-4 ms before the exit code is written):
        # a container's log is as durable as Docker's json-file, shipped on by the host agent.
        "--no-sync-log",
        # No session keyring per container: with user namespaces every container's root is one
        # unprivileged host uid, whose key quota (kernel.keys.maxkeys, 200) would stop the
        # 200th container. The container cannot reach the inherited keyring: seccomp refuses
        # add_key, request_key and keyctl.
        "--no-new-keyring",
        "--runtime-arg", "--root", "--runtime-arg", str(config.runc_root),
        "--runtime-arg", "--log-format=json", "--runtime-arg", f"--log={bundle / 'runc.log'}",
    ]
    command, *command_args = exit_command(config, bundle, run)
    args += ["--exit-command", command] + [arg for a in command_args for arg in ("--exit-command-arg", a)]
    # conmon's daemon keeps its stderr: give it a file, never a pipe we would wait on.
    with open(bundle / "conmon.err", "ab") as err:
        try:
            proc = subprocess.Popen(args, pass_fds=(write_fd,), env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err, cwd="/")
        except FileNotFoundError:
            os.close(read_fd)
            raise OCIRuntimeError(f"unable to create container {cid}: {config.conmon} is not installed "
                                  "(not on PATH)") from None
        finally:
            os.close(write_fd)
    with os.fdopen(read_fd, "rb") as sync:
        message = sync.readline()  # {"data": <pid>} once created, or a negative one and a message
    proc.wait(timeout=60)
    return _init_pid(cid, bundle, message, (bundle / "conmon.err").read_bytes())


def _init_pid(cid: str, bundle: Path, message: bytes, stderr: bytes) -> int:
    for line in message.decode(errors="replace").splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        pid = data.get("data", -1)
        if isinstance(pid, int) and pid > 0:
            return pid
        reason = data.get("message") or _runc_log_error(bundle) or stderr.decode(errors="replace").strip()
        raise OCIRuntimeError(f"unable to create container {cid}: {reason}")
    reason = _runc_log_error(bundle) or stderr.decode(errors="replace").strip() or "conmon gave no answer"
    raise OCIRuntimeError(f"unable to create container {cid}: {reason}")


def _runc_log_error(bundle: Path) -> str:
    try:
        lines = (bundle / "runc.log").read_text().splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") == "error":
            return entry.get("msg", "")
    return ""
