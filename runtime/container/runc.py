"""Every call to runc, in one place, with timeouts and errors that say what failed."""
from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

from ..config import RuntimeConfig
from ..errors import NotFound, OCIRuntimeError

_TIMEOUT = 30
_WATCH_SECONDS = 0.2  # how soon a build step's time limit or cancellation is noticed
_MSG = re.compile(r'msg="((?:[^"\\]|\\.)*)"')


class Runc:
    def __init__(self, config: RuntimeConfig):
        self.config = config
        self.root = config.runc_root

    def base_args(self) -> list[str]:
        return [self.config.runc, "--root", str(self.root)]

    def _call(self, what: str, args: list[str], timeout: float = _TIMEOUT) -> str:
        return self.begin(what, args).result(timeout)

    def begin(self, what: str, args: list[str]) -> "RuncCall":
        """Start ``runc ARGS`` and return at once; its ``result()`` waits for it, as _call does."""
        try:
            proc = subprocess.Popen(self.base_args() + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        except FileNotFoundError:
            raise OCIRuntimeError(f"unable to {what}: {self.config.runc} is not installed (not on PATH)") from None
        return RuncCall(what, proc)

    def start(self, cid: str) -> None:
        self._call(f"start container {cid}", ["start", cid])

    def kill(self, cid: str, signal: str = "TERM") -> None:
        self._call(f"send SIG{signal} to container {cid}", ["kill", cid, signal])

    def exec(self, cid: str, command: list[str], tty: bool, pid_file: Path | None = None,
             **stdio) -> subprocess.Popen:
        """Start ``command`` in the running container ``cid`` and return the runc process.

        With ``tty``, runc makes a pty in the container and copies between it and its own
        stdio, which the caller gives (a pty of the caller's for an interactive terminal).
        The process gets the container's user, environment, capabilities and seccomp filter.
        runc passes signals on to it, but not SIGKILL: ``pid_file`` gets its host PID for that.
        """
        options = (["--tty"] if tty else []) + (["--pid-file", str(pid_file)] if pid_file else [])
        return subprocess.Popen(self.base_args() + ["exec", *options, "--", cid, *command], **stdio)

    def delete(self, cid: str, force: bool = False) -> None:
        self.begin_delete(cid, force).result()

    def begin_delete(self, cid: str, force: bool = False) -> "RuncCall":
        return self.begin(f"delete container {cid}", ["delete"] + (["--force"] if force else []) + [cid])

    def run_foreground(self, cid: str, bundle: Path, on_line, timeout: float,
                       cancel: threading.Event | None = None) -> int | None:
        """Run a container to completion, passing each output line (stdout and stderr merged).

        Used for build steps: the step's output streams while it runs and runc
        removes the container when it ends. Past ``timeout`` seconds, or once
        ``cancel`` is set, the container is killed and None is returned.
        """
        proc = subprocess.Popen(self.base_args() + ["run", "--bundle", str(bundle), cid],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        # A step may hang without printing: a watchdog thread, not the read loop, enforces the limit.
        ended, killed = threading.Event(), threading.Event()
        watchdog = threading.Thread(target=self._watch, args=(cid, timeout, cancel, ended, killed), daemon=True)
        watchdog.start()
        try:
            for raw in proc.stdout:
                on_line(raw.decode("utf-8", "replace").rstrip("\n"))
            code = proc.wait()
            return None if killed.is_set() else code
        finally:
            ended.set()
            watchdog.join()
            if proc.poll() is None:
                self.kill_quietly(cid)
                proc.kill()
                proc.wait()

    def _watch(self, cid: str, timeout: float, cancel, ended: threading.Event, killed: threading.Event) -> None:
        deadline = time.monotonic() + timeout
        while not ended.wait(_WATCH_SECONDS):
            if time.monotonic() >= deadline or (cancel is not None and cancel.is_set()):
                killed.set()
                self.kill_quietly(cid)
                return

    def kill_quietly(self, cid: str) -> None:
        subprocess.run(self.base_args() + ["kill", cid, "KILL"], capture_output=True, timeout=_TIMEOUT)


class RuncCall:
    """A runc command under way."""

    def __init__(self, what: str, proc: subprocess.Popen):
        self.what = what
        self.proc = proc

    def result(self, timeout: float = _TIMEOUT) -> str:
        """Its output once it ended; NotFound or OCIRuntimeError, naming what failed, if it failed."""
        try:
            stdout, stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise OCIRuntimeError(f"unable to {self.what}: runc did not answer in {timeout}s") from None
        if self.proc.returncode != 0:
            message = _last_error(stderr)
            if "does not exist" in message or "not exist" in message:
                raise NotFound(f"unable to {self.what}: {message}")
            raise OCIRuntimeError(f"unable to {self.what}: {message}", detail=stderr)
        return stdout


def _last_error(stderr: str) -> str:
    """runc prints logrus lines (``time=... level=error msg="..."``); the last ``msg`` is the reason."""
    for line in reversed(stderr.strip().splitlines()):
        found = _MSG.search(line)
        if found:
            return found.group(1).replace('\\"', '"')
        if line.strip():
            return line.strip()
    return "runc failed without a message"
