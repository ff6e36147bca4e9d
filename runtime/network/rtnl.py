"""The few rtnetlink requests a container's start makes, on a plain netlink socket.

A veth pair with its peer in the container's namespace, and that peer's address and
route, are five requests; iproute2's ``ip -batch`` made them in two runs of a program
(5 ms of a start), and pyroute2 would cost more to import than the rest of the start.
Each request asks for an acknowledgement, so a refusal is raised with what was asked.
"""
from __future__ import annotations

import os
import socket
import struct

from ..errors import OCIRuntimeError

RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 20, 24
_NLMSG_ERROR = 2
_F_REQUEST, _F_ACK, _F_EXCL, _F_CREATE = 0x1, 0x4, 0x200, 0x400
_IFF_UP = 0x1
_IFLA_IFNAME, _IFLA_MASTER, _IFLA_LINKINFO, _IFLA_NET_NS_FD = 3, 10, 18, 28
_IFLA_INFO_KIND, _IFLA_INFO_DATA, _VETH_INFO_PEER = 1, 2, 1
_IFA_ADDRESS, _IFA_LOCAL = 1, 2
_RTA_GATEWAY = 5
_RT_TABLE_MAIN, _RTPROT_BOOT, _RT_SCOPE_UNIVERSE, _RTN_UNICAST = 254, 3, 0, 1


def _attr(kind: int, payload: bytes) -> bytes:
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def _name(text: str) -> bytes:
    return text.encode() + b"\0"


def _ifinfo(index: int = 0, up: bool = False) -> bytes:
    flags = _IFF_UP if up else 0
    return struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, flags, flags)


class Rtnl:
    """A route netlink socket of the calling thread's network namespace (it stays that
    namespace's wherever it is used from)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.settimeout(10)
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def _request(self, what: str, kind: int, flags: int, body: bytes) -> None:
        self.seq += 1
        header = struct.pack("=IHHII", 16 + len(body), kind, _F_REQUEST | _F_ACK | flags, self.seq, 0)
        self.sock.send(header + body)
        while True:
            reply = self.sock.recv(65536)
            offset = 0
            while offset + 16 <= len(reply):
                length, answer, _, seq, _ = struct.unpack_from("=IHHII", reply, offset)
                if answer == _NLMSG_ERROR and seq == self.seq:
                    code = -struct.unpack_from("=i", reply, offset + 16)[0]
                    if code:
                        raise OCIRuntimeError(f"unable to {what}: {os.strerror(code)}")
                    return
                offset += max(16, (length + 3) & ~3)

    def add_veth(self, name: str, bridge: str, peer: str, peer_netns_fd: int) -> None:
        """A veth pair: ``name`` here, up and on ``bridge``; ``peer`` in the namespace of
        ``peer_netns_fd`` (so the pair exists whole or not at all)."""
        peer_info = _ifinfo() + _attr(_IFLA_IFNAME, _name(peer)) + _attr(_IFLA_NET_NS_FD, struct.pack("=I", peer_netns_fd))
        link_info = _attr(_IFLA_INFO_KIND, _name("veth")) + _attr(_IFLA_INFO_DATA, _attr(_VETH_INFO_PEER, peer_info))
        body = (_ifinfo(up=True) + _attr(_IFLA_IFNAME, _name(name))
                + _attr(_IFLA_MASTER, struct.pack("=I", socket.if_nametoindex(bridge)))
                + _attr(_IFLA_LINKINFO, link_info))
        self._request(f"add veth {name} on {bridge}", RTM_NEWLINK, _F_CREATE | _F_EXCL, body)

    def set_up(self, name: str) -> None:
        self._request(f"set {name} up", RTM_NEWLINK, 0, _ifinfo(up=True) + _attr(_IFLA_IFNAME, _name(name)))

    def add_address(self, name: str, address: str, prefixlen: int) -> None:
        packed = socket.inet_aton(address)
        body = struct.pack("=BBBBI", socket.AF_INET, prefixlen, 0, 0, socket.if_nametoindex(name))
        body += _attr(_IFA_LOCAL, packed) + _attr(_IFA_ADDRESS, packed)
        self._request(f"add address {address}/{prefixlen} to {name}", RTM_NEWADDR, _F_CREATE | _F_EXCL, body)

    def add_default_route(self, gateway: str) -> None:
        body = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, _RT_TABLE_MAIN, _RTPROT_BOOT, _RT_SCOPE_UNIVERSE,
                           _RTN_UNICAST, 0) + _attr(_RTA_GATEWAY, socket.inet_aton(gateway))
        self._request(f"add the default route via {gateway}", RTM_NEWROUTE, _F_CREATE | _F_EXCL, body)
