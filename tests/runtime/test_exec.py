"""Exec: a command run in a running container, through runc exec, with and without a terminal."""
from __future__ import annotations

import contextlib
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from runtime.errors import InvalidState

from .test_containers import run, wait_exit

pytestmark = pytest.mark.root


def test_exec_runs_in_the_containers_namespaces(containers):
    manager, _ = containers
    info = run(containers, command=("sleep", "600"), init=True)
    proc = manager.exec(info.id, ["sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '"],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    hostname, init = out.decode().splitlines()
    assert hostname == info.id[:12] and init.startswith("/run/berth-init")


@contextlib.contextmanager
def on_a_terminal(start):
    """A pty; ``start(slave)`` starts the process on its slave side; yields (master, process)
    and kills the process and closes the master afterwards."""
    master, slave = pty.openpty()
    proc = start(slave)
    os.close(slave)
    try:
        yield master, proc
    finally:
        os.close(master)
        proc.kill()


def type_and_see(terminal: int, typed: bytes, expected: bytes, timeout: float = 20) -> None:
    """Type on a terminal's master side and read it until ``expected`` shows."""
    os.write(terminal, typed)
    seen = b""
    deadline = time.monotonic() + timeout
    while expected not in seen:
        assert time.monotonic() < deadline, seen
        if select.select([terminal], [], [], 0.5)[0]:
            seen += os.read(terminal, 4096)


def test_exec_with_a_terminal_echoes_what_is_typed(containers):
    manager, _ = containers
    info = run(containers, command=("sleep", "600"), init=True)
    with on_a_terminal(lambda tty: manager.exec(info.id, ["sh"], tty=True, stdin=tty, stdout=tty, stderr=tty)) \
            as (master, proc):
        type_and_see(master, b"echo hi-$((40+2))\n", b"hi-42")
        os.write(master, b"exit\n")
        assert proc.wait(10) == 0


def test_exec_in_a_stopped_container_is_refused(containers):
    manager, _ = containers
    info = run(containers, command=("true",))
    wait_exit(manager, info.id)
    with pytest.raises(InvalidState, match="cannot exec container .*: it is exited; commands run only in a running"):
        manager.exec(info.id, ["ls"])


def test_cli_exec_returns_the_commands_exit_code(containers, runtime_config):
    manager, _ = containers
    info = run(containers, command=("sleep", "600"), init=True)
    cli = [sys.executable, "-m", "runtime", "--state-dir", str(runtime_config.state_dir),
           "--run-dir", str(runtime_config.run_dir)]
    done = subprocess.run(cli + ["exec", info.id, "sh", "-c", "echo inside; exit 7"], capture_output=True, text=True)
    assert done.returncode == 7 and done.stdout == "inside\n"
