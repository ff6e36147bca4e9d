"""The rtnetlink requests of a container's start: a refusal names what was asked."""
from __future__ import annotations

import fcntl
import secrets
import socket
import struct

import pytest

from runtime.errors import OCIRuntimeError
from runtime.network import netns
from runtime.network.rtnl import Rtnl


@pytest.fixture
def namespace(runtime_config):
    name = f"{runtime_config.netns_prefix}-rtnl{secrets.token_hex(3)}"
    netns.create(name)
    yield name
    netns.remove(name)


def _in(name: str, steps):
    def run():
        rtnl = Rtnl()
        try:
            return steps(rtnl)
        finally:
            rtnl.close()
    return netns.run_in(name, run)


def test_a_refused_request_names_what_was_asked(namespace):
    with pytest.raises(OCIRuntimeError, match="unable to add the default route via 10.9.8.1: Network is unreachable"):
        _in(namespace, lambda rtnl: rtnl.add_default_route("10.9.8.1"))  # no address, no link up: no way there


def test_a_link_comes_up_and_takes_an_address_once(namespace):
    def up_and_addressed(rtnl):
        rtnl.set_up("lo")
        rtnl.add_address("lo", "10.9.8.7", 24)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # of this thread's namespace
            flags = fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0))  # SIOCGIFFLAGS
        return struct.unpack_from("H", flags, 16)[0] & 1  # IFF_UP
    assert _in(namespace, up_and_addressed) == 1
    with pytest.raises(OCIRuntimeError, match=r"unable to add address 10.9.8.7/24 to lo: File exists"):
        _in(namespace, lambda rtnl: rtnl.add_address("lo", "10.9.8.7", 24))
