"""Network mode host: the container shares the host's network namespace, with user
namespaces on and off; no namespace, veth or nftables rule of its own; ports and rate
limits refused, saying why."""
from __future__ import annotations

import dataclasses
import os
import time

import pytest

from runtime.container.manager import Containers, RunRequest
from runtime.errors import InvalidSpec
from runtime.network import links
from runtime.network.netns import NETNS_DIR
from runtime.network.ports import parse as port

from .test_containers import _fetch
from tests.processes import port_for

MB = 1024 * 1024
# What the container sees of the network: its namespace, and each interface with its MTU.
LOOK = "readlink /proc/self/ns/net; cat /proc/net/dev; echo looked; sleep 600"


@pytest.fixture(params=["auto", "off"], ids=["userns", "no-userns"])
def host_mode(request, no_leaks, runtime_config, store):
    config = dataclasses.replace(runtime_config, userns=request.param)
    manager = Containers(config, store)
    made = []

    def run(script: str, **kwargs):
        req = RunRequest(image="busybox", memory_bytes=32 * MB, command=("sh", "-c", script), network="host",
                         **kwargs)
        made.append(req.id)
        return manager.run(req)

    yield manager, run, request.param
    for cid in made:
        if manager.exists(cid):
            manager.remove(cid, force=True)


def _log_until(manager: Containers, cid: str, wanted: str) -> list[str]:
    deadline = time.monotonic() + 10
    while wanted not in (lines := [line.text for line in manager.logs(cid)]):
        assert time.monotonic() < deadline, f"no {wanted!r} in the log: {lines}"
        time.sleep(0.02)
    return lines


def _interfaces(proc_net_dev: list[str]) -> set[str]:
    return {line.split(":")[0].strip() for line in proc_net_dev if ":" in line}


def _host_interfaces() -> set[str]:
    with open("/proc/net/dev") as f:
        return _interfaces(f.read().splitlines())


def test_a_host_mode_container_sees_the_hosts_interfaces_and_leaves_nothing(host_mode, runtime_config):
    manager, run, userns = host_mode
    info = run(LOOK)
    lines = _log_until(manager, info.id, "looked")
    assert lines[0] == os.readlink("/proc/self/ns/net")  # the host's own network namespace
    seen = _interfaces(lines[1:])
    host = _host_interfaces()
    real = {name for name in host if name != "lo" and not name.startswith(("bv", "veth"))}
    # Loopback and the host's own links (other tests' veths come and go meanwhile).
    assert "lo" in seen and real and real <= seen, f"the container saw {seen}, the host has {host}"
    record = manager.get(info.id).record
    assert record.network["mode"] == "host" and record.network["netns_path"] is None
    assert not os.path.exists(f"/sys/class/net/{links.host_veth_name(info.id)}")
    assert not (NETNS_DIR / links.netns_name(runtime_config, info.id)).exists()
    with open(f"/proc/{manager.get(info.id).status.pid}/status") as f:
        uid = int(next(line.split()[1] for line in f if line.startswith("Uid:")))
    assert uid == (runtime_config.userns_range[0] if userns == "auto" else 0)  # host root only with userns off
    manager.remove(info.id, force=True)


def test_a_host_mode_container_listens_on_the_hosts_loopback(host_mode):
    manager, run, _ = host_mode
    # An unprivileged port: with user namespaces its root holds no capability in the host's
    # network namespace, so ports below 1024 are closed to it (as to any host user).
    info = run(f"echo served > /tmp/page && echo listening && exec httpd -f -p 127.0.0.1:{port_for(18311)} -h /tmp")
    _log_until(manager, info.id, "listening")
    assert _fetch(f"http://127.0.0.1:{port_for(18311)}/page").strip() == "served"
    manager.remove(info.id, force=True)


@pytest.mark.parametrize("extra, message", [
    ({"ports": (port(f"{port_for(18312)}:80"),)}, "ports cannot be published with network mode host"),
    ({"network_receive_bps": MB}, r"network rate limits need network mode bridge \(not host\)"),
])
def test_ports_and_rate_limits_are_refused_in_host_mode_before_anything_starts(host_mode, runtime_config,
                                                                              extra, message):
    _, run, _ = host_mode
    before = set(runtime_config.containers_dir.iterdir())
    with pytest.raises(InvalidSpec, match=message):
        run("true", **extra)
    assert set(runtime_config.containers_dir.iterdir()) == before
