"""IP address management: one file per allocated address, so it survives restarts."""
from __future__ import annotations

import ipaddress
import os

from ..config import RuntimeConfig
from ..errors import InvalidState
from ..linux.files import locked


def gateway(config: RuntimeConfig) -> ipaddress.IPv4Address:
    return next(config.network.hosts())


def allocate(config: RuntimeConfig, owner: str) -> ipaddress.IPv4Address:
    """Give ``owner`` the lowest free address; the same one again if it already has one."""
    config.ipam_dir.mkdir(parents=True, exist_ok=True)
    with locked(config.ipam_dir / ".lock"):
        taken = {}
        for name in os.listdir(config.ipam_dir):
            if not name.startswith("."):
                taken[name] = (config.ipam_dir / name).read_text()
        for addr, holder in taken.items():
            if holder == owner:
                return ipaddress.IPv4Address(addr)
        gw = gateway(config)
        for addr in config.network.hosts():
            if addr != gw and str(addr) not in taken:
                (config.ipam_dir / str(addr)).write_text(owner)
                return addr
    raise InvalidState(f"no free address left in {config.subnet} on bridge {config.bridge}")


def release(config: RuntimeConfig, owner: str) -> None:
    if not config.ipam_dir.exists():
        return
    with locked(config.ipam_dir / ".lock"):
        for name in os.listdir(config.ipam_dir):
            path = config.ipam_dir / name
            if not name.startswith(".") and path.read_text() == owner:
                path.unlink()


def release_prefix(config: RuntimeConfig, owner_prefix: str) -> None:
    """Release every address whose owner starts with ``owner_prefix`` (leftovers of a crash)."""
    if not config.ipam_dir.exists():
        return
    with locked(config.ipam_dir / ".lock"):
        for name in os.listdir(config.ipam_dir):
            path = config.ipam_dir / name
            if not name.startswith(".") and path.read_text().startswith(owner_prefix):
                path.unlink()
