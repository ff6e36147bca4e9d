"""Which bridge a container joins: the default network, or its team's.

The runtime's subnet is cut into equal networks. The first is the default
network (containers started without a team, build steps); each team that runs
a container gets the lowest free one, with a bridge of its own, and gives it
back when its last container is gone. Teams' bridges are separate L2 domains,
so traffic between teams has to be routed by the host, where nftables drops it.
"""
from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..config import RuntimeConfig
from ..errors import InvalidSpec, InvalidState
from ..linux.files import locked

_TEAM = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Network:
    bridge: str
    subnet: ipaddress.IPv4Network
    ipam_dir: Path
    team: str = ""

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        return next(self.subnet.hosts())


def _block_count(config: RuntimeConfig) -> int:
    return 1 << (config.network_prefixlen - config.network.prefixlen)


def _block(config: RuntimeConfig, index: int) -> ipaddress.IPv4Network:
    """The subnet's ``index``-th network, reckoned (listing all 256 of a /16 cost each start 4 ms)."""
    size = 1 << (32 - config.network_prefixlen)
    return ipaddress.IPv4Network((int(config.network.network_address) + index * size, config.network_prefixlen))


def _network(config: RuntimeConfig, index: int, team: str = "") -> Network:
    bridge = config.bridge if index == 0 else f"{config.bridge}-{index}"
    return Network(bridge, _block(config, index), config.state_dir / "ipam" / bridge, team)


def default(config: RuntimeConfig) -> Network:
    return _network(config, 0)


def _teams_dir(config: RuntimeConfig) -> Path:
    return config.state_dir / "ipam" / "teams"


def check_team(team: str) -> None:
    if team and not _TEAM.match(team):
        raise InvalidSpec(f"team {team!r} is not 1 to 64 letters, digits, or . _ -")


def _assigned(config: RuntimeConfig) -> dict[int, str]:
    """{network index: team}, from one file per team network (named by its index)."""
    folder = _teams_dir(config)
    if not folder.exists():
        return {}
    return {int(name): (folder / name).read_text() for name in os.listdir(folder) if name.isdigit()}


def for_team(config: RuntimeConfig, team: str) -> Network:
    """The team's network, given one now if it has none. The default network without a team."""
    check_team(team)
    if not team:
        return default(config)
    _teams_dir(config).mkdir(parents=True, exist_ok=True)
    with locked(_teams_dir(config) / ".lock"):
        assigned = _assigned(config)
        for index, holder in assigned.items():
            if holder == team:
                return _network(config, index, team)
        for index in range(1, _block_count(config)):
            if index not in assigned:
                (_teams_dir(config) / str(index)).write_text(team)
                return _network(config, index, team)
    raise InvalidState(f"no free network left in {config.subnet} for team {team} "
                       f"({_block_count(config) - 1} team networks of /{config.network_prefixlen})")


def by_bridge(config: RuntimeConfig, bridge: str | None) -> Network:
    """The network a container record names; records from before team networks have none."""
    if not bridge or bridge == config.bridge:
        return default(config)
    index = int(bridge.rsplit("-", 1)[1])
    return _network(config, index, _assigned(config).get(index, ""))


def team_networks(config: RuntimeConfig) -> list[Network]:
    return [_network(config, index, team) for index, team in sorted(_assigned(config).items())]


def in_use(net: Network) -> bool:
    return net.ipam_dir.exists() and any(not name.startswith(".") for name in os.listdir(net.ipam_dir))


def release(config: RuntimeConfig, net: Network) -> None:
    """Give a team's network index back (its bridge is already gone)."""
    index = int(net.bridge.rsplit("-", 1)[1])
    with locked(_teams_dir(config) / ".lock"):
        (_teams_dir(config) / str(index)).unlink(missing_ok=True)
