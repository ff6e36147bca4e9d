"""Network isolation from inside containers: teams apart, the outbound switch.

Every address here is on this machine: containers' bridges, and a "remote"
server in a network namespace the test makes (198.18.0.0/15, the benchmarking
range, which is never routed on the internet).
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
import threading
import time
import urllib.request

import pytest

from runtime.container.manager import Containers, RunRequest
from runtime.network import netns, provider
from runtime.network.ports import parse as port

from ..conftest import RUN_ID
from tests.processes import port_for

MB = 1024 * 1024
SERVE = "mkdir -p /www && echo served-by-$TEAM > /www/index.html && exec httpd -f -p 80 -h /www"
# Retries for a few seconds, so a refusal is not a server still starting. (nc, not wget:
# the static busybox's wget looks up the "http" service through NSS and crashes.)
FETCH = ("for i in 1 2 3 4 5 6; do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 1 {ip} 80 | grep served && exit 0; "
         "sleep 0.5; done; echo exit=1")


@pytest.fixture
def containers(no_leaks, runtime_config, store):
    made: list[tuple[Containers, str]] = []

    def run(script: str, config=runtime_config, **kwargs):
        manager = Containers(config, store)
        req = RunRequest(image="busybox", memory_bytes=32 * MB, command=("sh", "-c", script), **kwargs)
        made.append((manager, req.id))
        return manager, manager.run(req)

    yield run
    for manager, cid in made:
        if manager.exists(cid):  # some tests remove their own
            manager.remove(cid, force=True)


def output_of(manager: Containers, cid: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while manager.get(cid).status.state != "exited":
        assert time.monotonic() < deadline, "the container did not finish"
        time.sleep(0.05)
    return "\n".join(line.text for line in manager.logs(cid))


def test_other_teams_container_is_unreachable_and_a_teammate_reaches_it(containers):
    _, server = containers(SERVE, team="alpha", env=("TEAM=alpha",))
    ip = server.record.network["ip"]
    manager, mate = containers(FETCH.format(ip=ip), team="alpha")
    assert "served-by-alpha" in output_of(manager, mate.id)  # the server is up and reachable
    manager, stranger = containers(FETCH.format(ip=ip) + "; nc -w 1 " + ip + " 80 </dev/null; echo nc=$?",
                                   team="beta")
    out = output_of(manager, stranger.id)
    assert "served-by-alpha" not in out and "exit=1" in out and "nc=0" not in out, out
    manager, teamless = containers(FETCH.format(ip=ip))  # the default network is no team's
    assert "served-by-alpha" not in output_of(manager, teamless.id)


def test_teams_get_separate_bridges_and_subnets_removed_with_their_last_container(containers, runtime_config):
    manager, a = containers("sleep 30", team="alpha")
    _, b = containers("sleep 30", team="beta")
    net_a, net_b = a.record.network, b.record.network
    assert net_a["bridge"] != net_b["bridge"] != runtime_config.bridge
    assert net_a["gateway"] != net_b["gateway"]
    manager.remove(a.id, force=True)
    assert not os.path.exists(f"/sys/class/net/{net_a['bridge']}")
    assert os.path.exists(f"/sys/class/net/{net_b['bridge']}")


@pytest.fixture
def remote_server(runtime_config):
    """A TCP server in a network namespace of the test's own, routed from the host by a veth:
    what a container reaching out to the world would meet, without leaving the machine."""
    from pyroute2 import IPRoute

    name, host_if = f"{runtime_config.netns_prefix}-peer", f"bo{RUN_ID}"
    # A /30 of its own per run, so two runs side by side never share a route.
    block = ipaddress.IPv4Network(f"198.18.{int(RUN_ID[:2], 16)}.{4 * (int(RUN_ID[2:4], 16) % 64)}/30")
    host_ip, server_ip = str(block[1]), str(block[2])
    netns.create(name)
    fd = os.open(netns.NETNS_DIR / name, os.O_RDONLY)
    try:
        with IPRoute() as ipr:
            ipr.link("add", ifname=host_if, kind="veth", peer={"ifname": "eth0", "net_ns_fd": fd})
            index = ipr.link_lookup(ifname=host_if)[0]
            ipr.addr("add", index=index, address=host_ip, prefixlen=30)
            ipr.link("set", index=index, state="up")
    finally:
        os.close(fd)

    def listen():
        with IPRoute() as ns:
            index = ns.link_lookup(ifname="eth0")[0]
            ns.addr("add", index=index, address=server_ip, prefixlen=30)
            ns.link("set", index=index, state="up")
        return socket.create_server((server_ip, 7777))  # the socket stays in the namespace

    server = netns.run_in(name, listen)
    threading.Thread(target=_answer, args=(server,), daemon=True).start()
    yield server_ip
    server.close()
    netns.remove(name)  # the veth pair goes with it


def _answer(server: socket.socket) -> None:
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.sendall(b"hello-from-outside\n")


def test_outbound_switch_off_drops_traffic_out_but_keeps_peers_and_published_ports(
        containers, runtime_config, remote_server):
    reach_out = f"nc -w 2 {remote_server} 7777 </dev/null"
    manager, on = containers(reach_out)
    assert "hello-from-outside" in output_of(manager, on.id)  # the route works when outbound is on

    closed = dataclasses.replace(runtime_config, allow_outbound=False)
    try:
        manager, off = containers(reach_out + "; echo exit=$?", config=closed)
        out = output_of(manager, off.id)
        assert "hello-from-outside" not in out and "exit=0" not in out, out
        _, server = containers(SERVE, config=closed, env=("TEAM=none",), ports=(port(f"{port_for(18191)}:80"),))
        manager, peer = containers(FETCH.format(ip=server.record.network["ip"]), config=closed)
        assert "served-by-none" in output_of(manager, peer.id)  # bridge peers still talk
        assert "served-by-none" in _fetch(f"http://127.0.0.1:{port_for(18191)}/")  # and published ports answer
    finally:
        provider.ensure_host(runtime_config)  # the host's switch back on for the other tests


def _fetch(url: str, timeout: float = 5) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urllib.request.urlopen(url, timeout=1).read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
