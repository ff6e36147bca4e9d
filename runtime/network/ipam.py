"""IP address management: one file per allocated address, so it survives restarts."""
from __future__ import annotations

import ipaddress
import os

from ..errors import InvalidState
from ..linux.files import locked
from .networks import Network


def allocate(net: Network, owner: str) -> ipaddress.IPv4Address:
    """Give ``owner`` the lowest free address; the same one again if it already has one."""
    net.ipam_dir.mkdir(parents=True, exist_ok=True)
    with locked(net.ipam_dir / ".lock"):
        taken = {}
        for name in os.listdir(net.ipam_dir):
            if not name.startswith("."):
                taken[name] = (net.ipam_dir / name).read_text()
        for addr, holder in taken.items():
            if holder == owner:
                return ipaddress.IPv4Address(addr)
        for addr in net.subnet.hosts():
            if addr != net.gateway and str(addr) not in taken:
                (net.ipam_dir / str(addr)).write_text(owner)
                return addr
    raise InvalidState(f"no free address left in {net.subnet} on bridge {net.bridge}")


def release(net: Network, owner: str) -> None:
    _release_where(net, lambda holder: holder == owner)


def release_prefix(net: Network, owner_prefix: str) -> None:
    """Release every address whose owner starts with ``owner_prefix`` (leftovers of a crash)."""
    _release_where(net, lambda holder: holder.startswith(owner_prefix))


def _release_where(net: Network, matches) -> None:
    if not net.ipam_dir.exists():
        return
    with locked(net.ipam_dir / ".lock"):
        for name in os.listdir(net.ipam_dir):
            path = net.ipam_dir / name
            if not name.startswith(".") and matches(path.read_text()):
                path.unlink()
