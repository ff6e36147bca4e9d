"""Port mapping requests: parsing, validation and the host-side "is it free" check."""
from __future__ import annotations

import errno
import re
import socket
from dataclasses import dataclass

from ..errors import InvalidSpec, PortInUse

_MAPPING = re.compile(r"^(\d{1,5}):(\d{1,5})(?:/(tcp|udp))?$")


@dataclass(frozen=True)
class PortMapping:
    host: int
    container: int
    protocol: str = "tcp"

    def __str__(self) -> str:
        return f"{self.host}:{self.container}/{self.protocol}"

    def as_tuple(self) -> tuple[int, int, str]:
        return (self.host, self.container, self.protocol)


def parse(text: str) -> PortMapping:
    """``HOST:CONTAINER[/tcp|udp]``, as Docker's ``-p`` takes it without an address."""
    m = _MAPPING.match(text.strip())
    if not m:
        raise InvalidSpec(f"port mapping {text!r} is not HOST:CONTAINER[/tcp|udp]")
    mapping = PortMapping(int(m.group(1)), int(m.group(2)), m.group(3) or "tcp")
    for port in (mapping.host, mapping.container):
        if not 1 <= port <= 65535:
            raise InvalidSpec(f"port {port} in {text!r} is outside 1-65535")
    return mapping


def check_unique(mappings: list[PortMapping]) -> None:
    seen = set()
    for m in mappings:
        if (m.host, m.protocol) in seen:
            raise InvalidSpec(f"host port {m.host}/{m.protocol} is mapped twice")
        seen.add((m.host, m.protocol))


def check_free(mapping: PortMapping) -> None:
    """Refuse a host port some process already listens on: DNAT would silently steal it."""
    kind = socket.SOCK_STREAM if mapping.protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("0.0.0.0", mapping.host))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(f"host port {mapping.host}/{mapping.protocol} is already in use on this host") from None
            raise
