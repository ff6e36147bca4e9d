"""Port mapping requests: parsing, validation and the host-side "is it free" check."""
from __future__ import annotations

import errno
import ipaddress
import re
import socket
from dataclasses import dataclass

from ..errors import InvalidSpec, PortInUse

_MAPPING = re.compile(r"^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d{1,5}):(\d{1,5})(?:/(tcp|udp))?$")


@dataclass(frozen=True)
class PortMapping:
    host: int
    container: int
    protocol: str = "tcp"
    host_ip: str = ""  # "" publishes on every host address

    def __str__(self) -> str:
        where = f"{self.host_ip}:" if self.host_ip else ""
        return f"{where}{self.host}:{self.container}/{self.protocol}"

    def as_tuple(self) -> tuple[int, int, str, str]:
        return (self.host, self.container, self.protocol, self.host_ip)

    def clashes_with(self, host_ip: str, host: int, protocol: str) -> bool:
        """Two mappings of one port clash unless they are bound to two different addresses."""
        return (self.host, self.protocol) == (host, protocol) and (
            not self.host_ip or not host_ip or self.host_ip == host_ip)


def parse(text: str) -> PortMapping:
    """``[HOST_IP:]HOST:CONTAINER[/tcp|udp]``, as Docker's ``-p`` takes it."""
    m = _MAPPING.match(text.strip())
    if not m:
        raise InvalidSpec(f"port mapping {text!r} is not [HOST_IP:]HOST:CONTAINER[/tcp|udp]")
    host_ip = m.group(1) or ""
    if host_ip:
        try:
            ipaddress.IPv4Address(host_ip)
        except ValueError:
            raise InvalidSpec(f"host address {host_ip!r} in {text!r} is not an IPv4 address") from None
    mapping = PortMapping(int(m.group(2)), int(m.group(3)), m.group(4) or "tcp",
                          "" if host_ip == "0.0.0.0" else host_ip)
    for port in (mapping.host, mapping.container):
        if not 1 <= port <= 65535:
            raise InvalidSpec(f"port {port} in {text!r} is outside 1-65535")
    return mapping


def check_unique(mappings: list[PortMapping]) -> None:
    for i, m in enumerate(mappings):
        if any(m.clashes_with(o.host_ip, o.host, o.protocol) for o in mappings[:i]):
            raise InvalidSpec(f"host port {m.host}/{m.protocol} is mapped twice")


def check_allowed(mappings: list[PortMapping], port_range: tuple[int, int]) -> None:
    """The admin's range of host ports (BERTH_PORT_RANGE)."""
    low, high = port_range
    for m in mappings:
        if not low <= m.host <= high:
            raise InvalidSpec(f"host port {m.host} in {m} is outside the allowed range {low}-{high}")


def check_free(mapping: PortMapping) -> None:
    """Refuse a host port some process already listens on: DNAT would silently steal it."""
    kind = socket.SOCK_STREAM if mapping.protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((mapping.host_ip or "0.0.0.0", mapping.host))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(f"host port {mapping.host}/{mapping.protocol} is already in use on this host") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise InvalidSpec(f"host address {mapping.host_ip} in {mapping} is not an address of this host") \
                    from None
            raise
