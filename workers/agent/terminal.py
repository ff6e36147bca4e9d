"""Interactive exec sessions: `runc exec --tty` on a pty of the agent's, its bytes pumped to and
from the session's two Redis streams (workers/streams.py), which the web's socket reads and writes.

A session runs in a thread of its own, not in one of the worker's few task threads, so open
terminals never hold up runs and stops. It ends when the process exits, when the web says the
socket closed (or goes quiet: no keystroke nor ping for EXEC_IDLE_SECONDS), or after the job's
time limit; then the process is hung up on, killed if it stays, and both streams are deleted.
"""
from __future__ import annotations

import errno
import fcntl
import logging
import os
import pty
import signal
import struct
import subprocess
import termios
import threading
import time

from runtime.errors import BerthError

from .. import contracts, streams

log = logging.getLogger(__name__)

MAX_SESSIONS = 32  # open terminals per host; each holds a thread, a pty and a runc process
_SLOTS = threading.BoundedSemaphore(MAX_SESSIONS)
_READ_BLOCK_MS = 1000
_CHUNK = 65536


def start(ctx, job: dict) -> threading.Thread:
    thread = threading.Thread(target=serve, args=(ctx, job), name=f"exec-{job['session'][:8]}", daemon=True)
    thread.start()
    return thread


def serve(ctx, job: dict) -> None:
    """Run the session to its end. A session whose socket is gone already (a late or second
    delivery of the job) does nothing."""
    session = Session(ctx, job)
    if not ctx.redis.exists(session.inbox):
        return
    if not _SLOTS.acquire(blocking=False):
        session.fail(f"This host has {MAX_SESSIONS} terminals open already: close one and try again.")
        return
    try:
        session.run()
    finally:
        _SLOTS.release()


class Session:
    def __init__(self, ctx, job: dict):
        self.ctx, self.job = ctx, job
        self.inbox, self.outbox = streams.exec_input(job["session"]), streams.exec_output(job["session"])
        self.pid_file = ctx.containers.config.run_dir / "exec" / f"{job['session']}.pid"
        self.position = "0"

    def run(self) -> None:
        master, slave = pty.openpty()
        try:
            self._apply_size(master, None)
            proc = self._spawn(slave)
        except BerthError as exc:  # not running, or gone
            os.close(master)
            self.fail(exc.message)
            return
        finally:
            os.close(slave)  # runc holds its own copy; the master sees EOF once runc exits
        self._send("started", "")
        reader = threading.Thread(target=self._copy_out, args=(master,), daemon=True)
        reader.start()
        try:
            web_gone = self._copy_in(proc, master, reader)
        finally:
            _hang_up(proc, self.pid_file)
            reader.join(10)
            os.close(master)
            self.pid_file.unlink(missing_ok=True)
        self._finish(proc, web_gone)

    def _spawn(self, slave: int) -> subprocess.Popen:
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        # A session of its own, so a signal meant for the agent's group never reaches runc.
        return self.ctx.containers.exec(self.job["runtime_id"], self.job["command"], tty=True,
                                        pid_file=self.pid_file, stdin=slave, stdout=slave, stderr=slave,
                                        start_new_session=True)

    def _copy_out(self, master: int) -> None:
        while True:
            try:
                data = os.read(master, _CHUNK)
            except OSError as exc:  # EIO: runc, the last holder of the slave, has exited
                if exc.errno != errno.EIO:
                    log.warning("exec session %s: reading its pty: %s", self.job["session"], exc)
                return
            if not data:
                return
            self._send("d", data)

    def _copy_in(self, proc: subprocess.Popen, master: int, reader: threading.Thread) -> bool:
        """Pass the web's entries to the pty until the process's output ends, the web ends the
        session or falls silent, or time runs out. True when the web is gone."""
        deadline = time.monotonic() + self.job.get("timeout_seconds", contracts.EXEC_MAX_SECONDS)
        heard = time.monotonic()
        while reader.is_alive():
            self.ctx.redis.expire(self.outbox, streams.EXEC_TTL)
            if time.monotonic() > deadline:
                self._send("d", b"\r\n[berth: the session's time limit was reached]\r\n")
                return False
            entries = self._read_input()
            if entries:
                heard = time.monotonic()
            elif time.monotonic() - heard > contracts.EXEC_IDLE_SECONDS:
                return True
            for fields in entries:
                if b"end" in fields:
                    return True
                self._apply(fields, master, proc)
        return False

    def _read_input(self) -> list[dict]:
        result = self.ctx.redis.xread({self.inbox: self.position}, block=_READ_BLOCK_MS)
        if not result:
            return []
        entries = result[0][1]
        self.position = entries[-1][0]
        return [fields for _, fields in entries]

    def _apply(self, fields: dict, master: int, proc: subprocess.Popen) -> None:
        if b"d" in fields:
            os.write(master, fields[b"d"])
        elif b"resize" in fields:
            self._apply_size(master, fields[b"resize"])
            # runc copies its own terminal's size to the container's on SIGWINCH.
            proc.send_signal(signal.SIGWINCH)

    def _apply_size(self, master: int, text: bytes | None) -> None:
        if text is None:
            text = next((f[b"resize"] for _, f in self.ctx.redis.xrange(self.inbox, count=1) if b"resize" in f),
                        b"80 24")
        cols, rows = _size(text)
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def _send(self, kind: str, value) -> None:
        self.ctx.redis.xadd(self.outbox, {kind: value}, maxlen=10_000, approximate=True)

    def fail(self, message: str) -> None:
        self._send("error", message)
        self.ctx.redis.expire(self.outbox, streams.EXEC_TTL)
        self.ctx.redis.delete(self.inbox)

    def _finish(self, proc: subprocess.Popen, web_gone: bool) -> None:
        self.ctx.redis.delete(self.inbox)
        if web_gone:
            self.ctx.redis.delete(self.outbox)  # nobody is left to read it
            return
        self._send("end", str(proc.returncode))
        self.ctx.redis.expire(self.outbox, streams.EXEC_TTL)  # the web deletes it once read


def _size(text: bytes) -> tuple[int, int]:
    """``b"COLS ROWS"`` from the web, kept to sizes a terminal can have."""
    try:
        cols, rows = (int(part) for part in text.split())
    except ValueError:
        return 80, 24
    return min(max(cols, 2), 1000), min(max(rows, 1), 1000)


def _hang_up(proc: subprocess.Popen, pid_file) -> None:
    """SIGHUP, as a closed terminal sends (runc passes it on); SIGKILL if the process stays."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGHUP)
    try:
        proc.wait(2)
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        os.kill(int(pid_file.read_text()), signal.SIGKILL)  # runc cannot pass SIGKILL on
    except (FileNotFoundError, ValueError, ProcessLookupError):
        pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
