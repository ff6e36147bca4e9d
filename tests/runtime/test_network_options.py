"""Real containers: UDP and address-bound port mappings, the allowed port range,
and network bandwidth limits measured by timing a download between two containers."""
from __future__ import annotations

import dataclasses
import os
import socket
import time
import urllib.request
from datetime import datetime

import pytest

from runtime.container.manager import Containers, RunRequest
from runtime.errors import InvalidSpec
from runtime.network import netns
from runtime.network.ports import parse as port
from tests.processes import port_for

MB = 1024 * 1024
DOWNLOAD = 3 * MB
HTTP_GET = "printf 'GET /{path} HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {ip} 80"


@pytest.fixture
def containers(no_leaks, runtime_config, store):
    manager = Containers(runtime_config, store)
    made = []

    def run(script: str, **kwargs):
        req = RunRequest(**{"image": "busybox", "memory_bytes": 64 * MB, "command": ("sh", "-c", script), **kwargs})
        made.append(req.id)
        return manager.run(req)

    yield manager, run
    for cid in made:
        if manager.exists(cid):
            manager.remove(cid, force=True)


def wait_for_line(manager: Containers, cid: str, text: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in manager.logs(cid) if text in line.text]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no line with {text!r}: {[l.text for l in manager.logs(cid)]}"
        time.sleep(0.05)


def test_udp_mapping_delivers_datagrams_and_replies(containers):
    # This busybox has no UDP server (its nc lacks -u): a socket opened in the container's
    # network namespace stands in for one; the datagrams take the container's whole path.
    _, run = containers
    info = run("sleep 30", ports=(port(f"{port_for(18153)}:53/udp"),))
    ns = os.path.basename(info.record.network["netns_path"])
    server = netns.run_in(ns, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    with server, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        server.bind(("0.0.0.0", 53))
        client.settimeout(5)
        client.sendto(b"question", ("127.0.0.1", port_for(18153)))
        data, sender = server.recvfrom(100)
        server.sendto(b"answer to " + data, sender)
        assert client.recvfrom(100)[0] == b"answer to question"


def test_mapping_bound_to_one_address_answers_only_there(containers):
    _, run = containers
    run("exec httpd -f -p 80 -h /etc", ports=(port(f"127.0.0.1:{port_for(18182)}:80"),))
    assert "root:x:0:0" in _fetch(f"http://127.0.0.1:{port_for(18182)}/passwd")
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.2:{port_for(18182)}/passwd", timeout=1)  # another local address


@pytest.mark.parametrize("mapping, message", [
    ("80:80", "host port 80 in 80:80/tcp is outside the allowed range 1024-65535"),
    ("127.0.0.1:70:80/udp", "host port 70 in 127.0.0.1:70:80/udp is outside the allowed range 1024-65535"),
])
def test_port_outside_the_allowed_range_is_refused_before_anything_starts(containers, runtime_config,
                                                                         mapping, message):
    manager, run = containers
    before = set(runtime_config.containers_dir.iterdir())
    with pytest.raises(InvalidSpec, match=message):
        run("true", ports=(port(mapping),))
    assert set(runtime_config.containers_dir.iterdir()) == before  # no bundle made


def test_narrower_range_from_the_config_is_named(runtime_config, store, no_leaks):
    manager = Containers(dataclasses.replace(runtime_config, port_range=(20000, 20010)), store)
    with pytest.raises(InvalidSpec, match="host port 18080 in 18080:80/tcp is outside the allowed range 20000-20010"):
        manager.run(RunRequest(image="busybox", memory_bytes=64 * MB, ports=(port("18080:80"),)))  # refused unbound


def _fetch(url: str, timeout: float = 5) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urllib.request.urlopen(url, timeout=1).read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# Bandwidth: a file of DOWNLOAD bytes fetched from one container by another, timed by
# the log's own timestamps around the transfer.
SERVE_FILE = f"mkdir /www && head -c {DOWNLOAD} /dev/zero > /www/f && echo ready > /www/ready && "\
             "exec httpd -f -p 80 -h /www"


def _timed_download(manager: Containers, run, **limits) -> tuple[float, int]:
    server = run(SERVE_FILE, network_send_bps=limits.get("server_send"))
    ip = server.record.network["ip"]
    fetch = (f"until {HTTP_GET.format(path='ready', ip=ip)} | grep -q ready; do sleep 0.1; done; echo start; "
             f"{HTTP_GET.format(path='f', ip=ip)} | wc -c; echo done")
    client = run(fetch, network_receive_bps=limits.get("client_receive"))
    start = wait_for_line(manager, client.id, "start")
    end = wait_for_line(manager, client.id, "done")
    size = int(next(line.text for line in manager.logs(client.id) if line.text.strip().isdigit()))
    return _seconds(end.time) - _seconds(start.time), size


def _seconds(rfc3339: str) -> float:
    # conmon writes nanoseconds; Python parses microseconds.
    head, _, frac = rfc3339.partition(".")
    digits = "".join(c for c in frac if c.isdigit())[:6]
    zone = frac[len("".join(c for c in frac if c.isdigit())):]
    return datetime.fromisoformat(f"{head}.{digits}{zone.replace('Z', '+00:00')}").timestamp()


@pytest.mark.parametrize("limits", [{"client_receive": MB}, {"server_send": MB}], ids=["receive", "send"])
def test_download_through_a_1_mb_per_s_limit_takes_about_as_long_as_it_should(containers, limits):
    manager, run = containers
    seconds, size = _timed_download(manager, run, **limits)
    assert size > DOWNLOAD  # the whole file, and the response's headers
    ideal = DOWNLOAD / MB
    print(f"{DOWNLOAD / MB:.0f} MiB through 1 MiB/s ({next(iter(limits))}): {seconds:.2f} s, ideal {ideal:.2f} s")
    assert 0.6 * ideal <= seconds <= 1.6 * ideal
