"""The fork server and its client (.venv/bin/berth-runtime): a call runs in a child of the
server as it would run in the caller, and runs in the caller whenever the server cannot
take it. Real parts throughout: the C client make builds, the server, runc and conmon."""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from runtime import forkserver
from tests.processes import ROOT

from .test_containers import run
from .test_exec import on_a_terminal, type_and_see

pytestmark = pytest.mark.root

CLIENT = ROOT / ".venv" / "bin" / "berth-runtime"
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"  # each line of the server's log starts with the time


def cli(config) -> list[str]:
    return [str(CLIENT), "--state-dir", str(config.state_dir), "--run-dir", str(config.run_dir),
            "--bridge", config.bridge, "--subnet", config.subnet, "--nft-table", config.nft_table,
            "--cgroup-parent", config.cgroup_parent, "--netns-prefix", config.netns_prefix]


class Server:
    def __init__(self, config, log: Path):
        self.config, self.log_path = config, log
        self.socket = Path(config.run_dir) / forkserver.SOCKET_NAME
        self.proc = subprocess.Popen([sys.executable, "-m", "runtime.forkserver", "--run-dir", str(config.run_dir)],
                                     cwd=ROOT, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.wait_listening(1)

    def log(self) -> str:
        return self.log_path.read_text()

    def listening_lines(self) -> list[str]:
        return re.findall(r"berth fork server \(pid (\d+)\)", self.log())

    def wait_listening(self, count: int) -> None:
        deadline = time.monotonic() + 30
        while len(self.listening_lines()) < count:
            assert self.proc.poll() is None, self.log()
            assert time.monotonic() < deadline, f"the fork server did not listen: {self.log()}"
            time.sleep(0.05)

    def workers(self, exit_commands: bool = False) -> list[int]:
        """The workers of CLI calls (and with ``exit_commands``, of conmon's exit commands too)."""
        return [int(pid) for pid, args in re.findall(rf"^{STAMP} pid (\d+) for pid \d+: (.*)$", self.log(), re.M)
                if exit_commands or " exited " not in f" {args} "]

    def refusals(self) -> list[str]:
        return re.findall(rf"^{STAMP} refused pid \d+: (.*)$", self.log(), re.M)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.fixture
def server(no_leaks, runtime_config, store, tmp_path):  # no_leaks first: it sees the server go too
    if not CLIENT.exists():
        pytest.fail(f"{CLIENT} is built by make: run `make test`")
    served = Server(runtime_config, tmp_path / "forkserver.log")
    yield served
    served.stop()
    assert not served.socket.exists(), "the stopped server left its socket"
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in served.workers(True)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in served.workers(True) if _alive(pid)], "a worker outlived its call"


def test_a_call_runs_in_a_worker_with_the_callers_output_and_exit_code(server, containers, runtime_config):
    done = subprocess.run(cli(runtime_config) + ["run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
    assert len(server.workers()) == 1 and "run --rm busybox sh -c" in server.log()
    assert re.search(rf"^{STAMP} pid {server.workers()[0]} exited 3$", server.log(), re.M), server.log()
    refused = subprocess.run(cli(runtime_config) + ["no-such-command"], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "invalid choice: 'no-such-command'" in refused.stderr
    assert len(server.workers()) == 2


def test_the_callers_working_directory_and_umask_hold_in_the_worker(server, runtime_config, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    subprocess.run(cli(runtime_config) + ["save", "-o", "busybox.tar", "busybox"], cwd=work, check=True,
                   capture_output=True, timeout=60, preexec_fn=lambda: os.umask(0o077))
    saved = work / "busybox.tar"
    assert saved.stat().st_size > 100_000 and stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert len(server.workers()) == 1


def test_without_a_server_the_client_runs_the_call_itself(runtime_config, store, containers, tmp_path):
    socket_path = Path(runtime_config.run_dir) / forkserver.SOCKET_NAME
    assert not socket_path.exists()
    args = cli(runtime_config) + ["run", "--rm", "busybox", "sh", "-c", "echo alone; exit 4"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (4, "alone\n"), done.stderr
    # A socket its server left behind (killed with SIGKILL) is no server either.
    left = socket.socket(socket.AF_UNIX)
    left.bind(str(socket_path))
    left.close()
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout) == (4, "alone\n"), done.stderr
    finally:
        socket_path.unlink()


def test_a_caller_in_other_namespaces_runs_its_call_itself(server, runtime_config):
    done = subprocess.run(["unshare", "--net"] + cli(runtime_config) + ["images"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "busybox" in done.stdout, done.stderr
    assert server.workers() == [] and server.refusals() == ["the caller is in another net namespace"]


def _raw_call(path: Path, payload: bytes, fds: list[int]) -> bytes:
    """What the server answers a hand-made call (the C client's part, written here)."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(str(path))
        conn.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, bytes(memoryview(
            __import__("array").array("i", fds)).cast("B")))] if fds else [])
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
        return answer


def _payload(**fields) -> bytes:
    values = {"protocol": forkserver.PROTOCOL, "root": forkserver.CODE_ROOT, "python": sys.executable,
              "cwd": "/", "umask": "22", **fields}
    return "\0".join([values["protocol"], values["root"], values["python"], values["cwd"], values["umask"],
                      "1", "images", "PATH=/usr/bin:/bin"]).encode()


def test_bad_calls_are_refused_and_the_server_goes_on(server, runtime_config):
    null = os.open(os.devnull, os.O_RDWR)
    try:
        with socket.socket(socket.AF_UNIX) as conn:  # connects and goes away
            conn.connect(str(server.socket))
        assert _raw_call(server.socket, b"hello", []) == b"Rexpected stdin, stdout and stderr, got 0 descriptors\n"
        assert _raw_call(server.socket, b"hello\0there", [null] * 3) == b"Rnot a call this server understands\n"
        assert _raw_call(server.socket, _payload(root="/somewhere/else"), [null] * 3) == \
            b"Rthe caller runs another checkout or interpreter\n"
        assert _raw_call(server.socket, _payload(umask="9x"), [null] * 3) == b"Rumask b'9x' is not an octal number\n"
        assert _raw_call(server.socket, _payload(cwd="/no/such/dir"), [null] * 3).startswith(
            b"R[Errno 2] No such file or directory")
        served = _raw_call(server.socket, _payload(), [null] * 3)
        assert re.fullmatch(rb"P\d+\nX0\n", served), served
    finally:
        os.close(null)
    assert len(server.workers()) == 1 and len(server.refusals()) == 6  # the silent one too


def test_only_root_is_served(server, runtime_config):
    # Past the socket's own mode (and the test's 0700 directories, through a hard link in a
    # directory anyone may enter) the server asks the kernel who calls.
    os.chmod(server.socket, 0o666)
    reachable = Path(tempfile.mkdtemp(prefix="berth-forkserver-"))
    reachable.chmod(0o755)
    link = reachable / "sock"
    os.link(server.socket, link)
    try:
        answer = _call_as_nobody(link)
    finally:
        shutil.rmtree(reachable)
    assert answer == b"Rthe fork server serves root only\n"
    assert server.workers() == []


def _call_as_nobody(path: Path) -> bytes:
    answer_r, answer_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (a child that reports through the pipe)
        try:
            os.setgid(65534)
            os.setuid(65534)
            os.write(answer_w, _raw_call(path, b"x", [0, 1, 2]))
        finally:
            os._exit(0)
    os.close(answer_w)
    answer = os.read(answer_r, 200)
    os.close(answer_r)
    os.waitpid(pid, 0)
    return answer


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_the_client_reaches_the_worker(server, containers, runtime_config, signum, code):
    manager, made = containers
    client = subprocess.Popen(cli(runtime_config) + ["run", "--name", "waiting", "busybox", "sleep", "60"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not [i for i in manager.list() if i.record.name == "waiting" and i.status.state == "running"]:
            assert time.monotonic() < deadline and client.poll() is None
            time.sleep(0.05)
        made.extend(i.id for i in manager.list() if i.record.name == "waiting")
        client.send_signal(signum)
        _, err = client.communicate(timeout=30)
    finally:
        client.kill()
    assert client.returncode == code, err
    if signum == signal.SIGINT:
        assert "interrupted: leaving running container waiting" in err  # as without a server
    [worker] = server.workers()
    deadline = time.monotonic() + 5
    while _alive(worker):
        assert time.monotonic() < deadline, "the worker did not end"
        time.sleep(0.05)


def test_a_client_killed_ends_its_worker(server, containers, runtime_config):
    manager, made = containers
    info = run(containers, command=("sleep", "600"), init=True)
    client = subprocess.Popen(cli(runtime_config) + ["exec", info.id, "sleep", "60"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not server.workers():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [worker] = server.workers()
    assert _alive(worker)
    client.kill()  # SIGKILL cannot be forwarded: the worker sees its caller go
    client.wait(10)
    while _alive(worker):
        assert time.monotonic() < deadline, "the worker outlived its killed caller"
        time.sleep(0.05)
    assert manager.get(info.id).status.state == "running"  # the container is conmon's, as without a server


def test_exec_with_a_terminal_through_the_server(server, containers, runtime_config):
    info = run(containers, command=("sleep", "600"), init=True)
    with on_a_terminal(lambda tty: subprocess.Popen(cli(runtime_config) + ["exec", "-it", info.id, "sh"], stdin=tty,
                                                    stdout=tty, stderr=tty, start_new_session=True)) as (master, client):
        type_and_see(master, b"echo hi-$((40+2))\n", b"hi-42")
        os.write(master, b"exit 5\n")
        assert client.wait(20) == 5
    assert len(server.workers()) == 1


def test_changed_code_is_taken_up(server, runtime_config):
    module = Path(forkserver.CODE_ROOT) / "runtime" / "errors.py"
    times = module.stat()
    try:
        os.utime(module, ns=(times.st_atime_ns, times.st_mtime_ns + 1_000_000_000))
        first = subprocess.run(cli(runtime_config) + ["images"], capture_output=True, text=True, timeout=60)
        assert first.returncode == 0 and "busybox" in first.stdout, first.stderr
        assert server.workers() == []  # turned away: the call ran in the client, from the new code
        server.wait_listening(2)
        assert "the runtime's code changed: starting again" in server.log()
        again = subprocess.run(cli(runtime_config) + ["images"], capture_output=True, text=True, timeout=60)
        assert again.stdout == first.stdout and len(server.workers()) == 1
    finally:
        os.utime(module, ns=(times.st_atime_ns, times.st_mtime_ns))


def test_one_server_per_run_directory(server, runtime_config):
    second = subprocess.run([sys.executable, "-m", "runtime.forkserver", "--run-dir", str(runtime_config.run_dir)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert second.returncode == 1 and f"a fork server already listens on {server.socket}" in second.stderr
    assert server.socket.stat().st_mode & 0o077 == 0  # root only: nobody else may connect


def test_a_containers_exit_command_runs_in_a_worker(server, containers, runtime_config):
    manager, made = containers
    cid = subprocess.run(cli(runtime_config) + ["run", "-d", "busybox", "sh", "-c", "exit 6"], capture_output=True,
                         text=True, check=True, timeout=60).stdout.strip()
    made.append(cid)
    bundle = Path(runtime_config.state_dir) / "containers" / cid
    deadline = time.monotonic() + 30
    while not (bundle / "cleaned").exists():  # nobody but conmon's exit command cleans up here
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)
    assert manager.get(cid).status.exit_code == 6
    assert re.search(rf"^{STAMP} pid \d+ for pid \d+: --run-dir {runtime_config.run_dir} exited {bundle} 1$",
                     server.log(), re.M), server.log()
