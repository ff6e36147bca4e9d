"""Escape attempts from inside a container, as root in it. Each must fail.

The container runs busybox with Berth's defaults: Docker's capability set, the
default seccomp filter, no new privileges, masked and read-only kernel paths,
its own namespaces and cgroup limits.
"""
from __future__ import annotations

import re
import socket
import time

import pytest

from runtime.container.manager import Containers, RunRequest

MB = 1024 * 1024


@pytest.fixture
def attempt(no_leaks, runtime_config, store):
    """Run a shell script in a fresh container; return (exit code, output, status)."""
    manager = Containers(runtime_config, store)
    made = []

    def run(script: str, **limits):
        req = RunRequest(image="busybox", memory_bytes=limits.pop("memory_bytes", 64 * MB),
                         command=("sh", "-c", script), **limits)
        made.append(req.id)
        info = manager.run(req)
        deadline = time.monotonic() + 30
        while (status := manager.get(info.id).status).state != "exited":
            assert time.monotonic() < deadline, "the attempt did not finish"
            time.sleep(0.02)
        return status.exit_code, "\n".join(line.text for line in manager.logs(info.id)), status, info

    yield run
    for cid in made:
        manager.remove(cid, force=True)


@pytest.mark.parametrize("name, script, refusal", [
    ("mount a filesystem", "mount -t tmpfs none /mnt", "permission denied"),
    ("unshare a user namespace", "unshare -U true", "Operation not permitted"),
    ("unshare a mount namespace", "unshare -m true", "Operation not permitted"),
    # Where the kernel has no /proc/sysrq-trigger the shell cannot create it either.
    ("write /proc/sysrq-trigger", "echo h > /proc/sysrq-trigger", "Read-only file system|nonexistent directory"),
    ("write under /sys", "echo 1 > /sys/kernel/mm/ksm/run", "Read-only file system"),
    ("write the cgroup's own limit", "f=/sys/fs/cgroup/memory/memory.limit_in_bytes; [ -e $f ] "
                                     "|| f=/sys/fs/cgroup/memory.max; echo -1 > $f", "Read-only file system"),
    ("load a kernel module", "echo x > /tmp/m.ko; insmod /tmp/m.ko", "Operation not permitted"),
    ("change the host name", "hostname escaped", "Operation not permitted"),
    ("use a device node it made", "mknod /tmp/disk b 8 0 && head -c 1 /tmp/disk", "Operation not permitted"),
])
def test_escape_attempt_fails(attempt, name, script, refusal):
    code, out, _, _ = attempt(script + "; echo exit=$?")
    assert re.search(refusal, out), f"{name}: {out}"
    assert not out.rstrip().endswith("exit=0"), f"{name} succeeded: {out}"


def test_setting_the_clock_is_refused(attempt):
    # busybox date exits 0 even when it cannot set the date: check the clock itself.
    _, out, _, _ = attempt("date -s 2001-01-01 >/dev/null; date +%Y")
    assert "can't set date: Operation not permitted" in out
    assert out.splitlines()[-1] != "2001" and time.gmtime().tm_year != 2001


def test_proc_kcore_reads_nothing(attempt):
    _, out, _, _ = attempt("head -c 64 /proc/kcore 2>/dev/null | wc -c")
    assert out.strip() == "0"


def test_host_processes_are_invisible_and_unsignalable(attempt):
    _, out, _, _ = attempt("kill -0 1 && echo own-init; kill -9 99999 2>&1; ls /proc | grep -c '^[0-9]'")
    lines = out.splitlines()
    assert lines[0] == "own-init" and "No such process" in lines[1]
    assert int(lines[-1]) <= 4  # sh, and the commands it is running


def test_host_services_are_unreachable_through_the_bridge(attempt):
    with socket.socket() as service:
        service.bind(("0.0.0.0", 0))  # a host service listening on every address
        service.listen()
        port = service.getsockname()[1]
        _, out, _, info = attempt(f"nc -w 2 $(ip route | awk '/default/ {{print $3}}') {port} </dev/null; echo exit=$?")
        assert "exit=0" not in out, out


def test_fork_bomb_stops_at_the_pids_limit(attempt):
    script = "i=0; while [ $i -lt 40 ]; do sleep 2 & i=$((i+1)); done; wait"
    started = time.monotonic()
    code, out, _, _ = attempt(script, pids_limit=20)
    assert "can't fork: Resource temporarily unavailable" in out  # the 21st process was refused
    assert code != 0  # busybox sh gives up when it cannot fork
    assert time.monotonic() - started < 20  # and the host stayed responsive


def test_memory_hog_is_oom_killed_and_reported(attempt):
    code, _, status, _ = attempt("head -c 200m /dev/zero | tail", memory_bytes=16 * MB)
    assert code == 137
    assert status.oom_killed
