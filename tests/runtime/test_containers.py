"""Real runc containers: limits in the cgroup, isolation, ports, cleanup, bad requests."""
from __future__ import annotations

import re
import socket
import time
import urllib.request

import pytest

from runtime.container.manager import RunRequest
from runtime.errors import InvalidSpec, InvalidState, NotFound, PortInUse
from runtime.network.ports import parse as port
from tests.processes import port_for

MB = 1024 * 1024


def run(containers, **kwargs):
    manager, made = containers
    req = RunRequest(**{"image": "busybox", "memory_bytes": 64 * MB, **kwargs})
    made.append(req.id)
    return manager.run(req)


def wait_exit(manager, cid, timeout=10):
    deadline = time.monotonic() + timeout
    while manager.get(cid).status.state != "exited":
        assert time.monotonic() < deadline, "the container did not exit"
        time.sleep(0.02)
    return manager.get(cid).status


def output(manager, cid) -> str:
    wait_exit(manager, cid)
    return "\n".join(line.text for line in manager.logs(cid))


CGROUP_READ = (
    "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; "
    "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null "
    "|| cat /sys/fs/cgroup/cpu.max; "
    "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"
)


def test_limits_are_in_the_containers_own_cgroup(containers):
    info = run(containers, cpus=0.5, pids_limit=100, command=("sh", "-c", CGROUP_READ))
    values = output(containers[0], info.id).split()
    assert values[0] == str(64 * MB)
    assert int(values[1]) / int(values[2]) == 0.5  # quota / period: half a CPU
    assert values[3] == "100"


def test_container_has_own_hostname_processes_and_interfaces(containers):
    info = run(containers, command=("sh", "-c", "hostname; echo ---; ps -o pid,comm; echo ---; ip addr"))
    hostname, ps, addr = output(containers[0], info.id).split("---")
    assert hostname.strip() == info.id[:12] != socket.gethostname()
    pids = [line.split()[0] for line in ps.strip().splitlines()[1:]]
    assert pids[0] == "1" and len(pids) <= 3  # sh as PID 1, ps, and nothing of the host's
    names = sorted(re.findall(r"^\d+: ([^:@]+)", addr, re.MULTILINE))
    assert names == ["eth0", "lo"]
    assert f"inet {info.record.network['ip']}/" in addr


def test_published_port_answers_on_loopback_and_logs_the_request(containers):
    info = run(containers, ports=(port(f"{port_for(18181)}:80"),),
               command=("httpd", "-f", "-v", "-p", "80", "-h", "/etc"))
    body = _fetch(f"http://127.0.0.1:{port_for(18181)}/passwd")
    assert "root:x:0:0" in body
    manager = containers[0]
    deadline = time.monotonic() + 5
    while not any("response:200" in line.text for line in manager.logs(info.id)):
        assert time.monotonic() < deadline, "httpd's request log line never reached the log file"
        time.sleep(0.05)
    manager.stop(info.id, timeout=1)
    with pytest.raises(OSError):
        _fetch(f"http://127.0.0.1:{port_for(18181)}/passwd", timeout=1)


def _fetch(url: str, timeout: float = 5) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urllib.request.urlopen(url, timeout=timeout).read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_exit_code_and_a_last_line_without_newline_are_kept(containers):
    info = run(containers, command=("sh", "-c", "echo out; echo err >&2; printf tail; exit 3"))
    status = wait_exit(containers[0], info.id)
    lines = containers[0].logs(info.id)
    assert status.exit_code == 3
    assert [(line.stream, line.text) for line in lines] == [("stdout", "out"), ("stderr", "err"), ("stdout", "tail")]


def test_stop_then_remove_releases_everything(containers):
    manager = containers[0]
    info = run(containers, ports=(port(f"{port_for(18182)}:80"),), command=("sleep", "600"))
    assert manager.get(info.id).status.state == "running"
    with pytest.raises(InvalidState, match="stop it first"):
        manager.remove(info.id)
    status = manager.stop(info.id, timeout=1)
    assert status.state == "exited" and status.exit_code == 137  # sleep as PID 1 ignores SIGTERM
    manager.remove(info.id)
    with pytest.raises(NotFound):
        manager.get(info.id)


def test_port_already_in_use_is_refused_and_nothing_is_left(containers):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port_for(18183)))
        holder.listen()
        with pytest.raises(PortInUse, match=f"{port_for(18183)}/tcp is already in use"):
            run(containers, ports=(port(f"{port_for(18183)}:80"),), command=("true",))


def test_port_published_twice_is_refused(containers):
    run(containers, ports=(port(f"{port_for(18184)}:80"),), command=("sleep", "600"))
    with pytest.raises(PortInUse, match="already published"):
        run(containers, ports=(port(f"{port_for(18184)}:80"),), command=("true",))


@pytest.mark.parametrize("kwargs, message", [
    ({"memory_bytes": 1024}, "below the minimum"),
    ({"cpus": 0.0001}, "CPU limit"),
    ({"pids_limit": 0}, "pids limit"),
    ({"env": ("NOEQUALS",)}, "NAME=value"),
])
def test_bad_limits_are_refused_before_anything_starts(containers, kwargs, message):
    with pytest.raises(InvalidSpec, match=message):
        run(containers, command=("true",), **kwargs)


def test_unknown_image_is_named(containers):
    with pytest.raises(NotFound, match="nosuchimage"):
        run(containers, image="nosuchimage:1")


def test_init_forwards_the_stop_signal_so_stop_is_prompt(containers):
    manager = containers[0]
    info = run(containers, init=True, command=("sh", "-c", "ps -o pid,comm; sleep 600"))
    started = time.monotonic()
    status = manager.stop(info.id, timeout=10)
    assert time.monotonic() - started < 3  # no 10 s grace period spent waiting
    assert status.exit_code == 143  # the command died of SIGTERM, passed on by the init
    processes = "\n".join(line.text for line in manager.logs(info.id))
    assert re.search(r"^\s*1 berth-init", processes, re.MULTILINE), processes


def test_stop_and_remove_work_after_the_image_is_replaced(containers, store):
    manager = containers[0]
    image = store.resolve("busybox")
    config = {**image.config, "config": {**image.config["config"], "Labels": {"doomed": "yes"}}}
    assert store.write_image(config, list(image.layers), "doomed").id != image.id
    info = run(containers, image="doomed", command=("sleep", "600"))
    store.remove("doomed")  # as a rebuild under the same tag drops the old image
    assert manager.stop(info.id, timeout=1).state == "exited"
    manager.remove(info.id)
