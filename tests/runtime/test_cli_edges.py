"""The runtime CLI at its edges, through the fork server and without it (the same CLI): a
strict umask, Ctrl-C and a closed pipe on `run --rm`, missing tools, bad arguments."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.processes import ROOT

from .test_forkserver import CLIENT, Server, cli

pytestmark = pytest.mark.root


@pytest.fixture(params=["served", "alone"])
def call(request, no_leaks, runtime_config, store, tmp_path):
    """The CLI's command line for this runtime: the client with a fork server, or python -m runtime."""
    if request.param == "alone":
        yield [sys.executable, "-m", "runtime"] + cli(runtime_config)[1:]
        return
    if not CLIENT.exists():
        pytest.fail(f"{CLIENT} is built by make: run `make test`")
    server = Server(runtime_config, tmp_path / "forkserver.log")
    yield cli(runtime_config)
    server.stop()


def _named(manager, name: str) -> list:
    return [info for info in manager.list() if info.record.name == name]


def test_a_strict_umask_does_not_stop_a_run(call, containers):
    done = subprocess.run(call + ["run", "--rm", "busybox", "echo", "hi"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, preexec_fn=lambda: os.umask(0o077))
    assert (done.returncode, done.stdout) == (0, "hi\n"), done.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_ctrl_c_kill_or_hang_up_on_run_rm_removes_the_container(call, containers, signum):
    manager, _ = containers
    client = subprocess.Popen(call + ["run", "--rm", "--name", "edge-int", "busybox", "sleep", "60"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not [i for i in _named(manager, "edge-int") if i.status.state == "running"]:
            assert time.monotonic() < deadline and client.poll() is None
            time.sleep(0.05)
        client.send_signal(signum)
        _, err = client.communicate(timeout=30)
    finally:
        client.kill()
    assert client.returncode == 128 + signum and "Traceback" not in err, err
    assert "interrupted: stopping and removing container edge-int" in err
    assert _named(manager, "edge-int") == []


def test_run_rm_whose_output_cannot_be_written_is_removed(call, containers):
    manager, _ = containers
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads: writing the container's output fails
    try:
        done = subprocess.run(call + ["run", "--rm", "--name", "edge-pipe", "busybox", "seq", "1", "100000"],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=60)
    finally:
        os.close(write_end)
    assert done.returncode == 141 and "Traceback" not in done.stderr, done.stderr
    assert _named(manager, "edge-pipe") == []


def test_missing_tools_are_named_and_nothing_is_left(call, containers):
    manager, _ = containers
    done = subprocess.run(call + ["run", "--rm", "--name", "edge-path", "busybox", "true"], capture_output=True,
                          text=True, cwd=ROOT, timeout=60, env={**os.environ, "PATH": "/nonexistent"})
    assert done.returncode == 125 and "Traceback" not in done.stderr, done.stderr
    assert "unshare (util-linux) is not on PATH" in done.stderr or "runc is not installed" in done.stderr
    assert _named(manager, "edge-path") == []


@pytest.mark.parametrize("args, code, message", [
    (["build", "-t", "x", "/nonexistent"], 125, "build context /nonexistent is not a directory"),
    (["build", "-t", "x", "/etc"], 125, "no Dockerfile at /etc/Dockerfile (name another with -f)"),
    (["stop", "-t", "-5", "x"], 2, "'-5' is not a number of seconds (0 or more)"),
    (["--userns", "bogus", "ps"], 2, "argument --userns: invalid choice: 'bogus'"),
])
def test_bad_arguments_get_one_clear_error(call, args, code, message):
    done = subprocess.run(call + args, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == code and message in done.stderr, done.stderr
    assert done.stderr.count("error:") <= 1 and "Traceback" not in done.stderr  # said once


def test_a_closed_stdout_is_met_as_without_a_server(call, runtime_config):
    def closed_stdout():
        os.close(1)

    done = subprocess.run(call + ["images"], stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=ROOT,
                          timeout=60, preexec_fn=closed_stdout)
    alone = subprocess.run([sys.executable, "-m", "runtime"] + cli(runtime_config)[1:] + ["images"],
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=ROOT, timeout=60,
                           preexec_fn=closed_stdout)
    assert done.returncode == alone.returncode


def test_a_signal_the_caller_ignores_is_not_passed_on(call, containers):
    def ignore_hangups():
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup does

    client = subprocess.Popen(call + ["run", "--rm", "busybox", "sh", "-c", "sleep 2; echo done"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=ignore_hangups)
    time.sleep(1)
    client.send_signal(signal.SIGHUP)
    out, err = client.communicate(timeout=60)
    assert (client.returncode, out) == (0, "done\n"), err


def test_a_closed_stdout_or_stdin_gets_no_traceback(call, containers):
    done = subprocess.run(call + ["run", "--rm", "--name", "edge-closed", "busybox", "echo", "lost"], cwd=ROOT,
                          stderr=subprocess.PIPE, text=True, timeout=60, preexec_fn=lambda: os.close(1))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr  # the output goes nowhere
    assert _named(containers[0], "edge-closed") == []
