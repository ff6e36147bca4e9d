"""The network provider: what a container's network is, set up and torn down as one."""
from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from ..config import RuntimeConfig
from ..errors import InvalidSpec, PortInUse
from ..linux.files import locked
from . import links, netns, networks, nft, tc
from .networks import Network
from .ports import PortMapping, check_allowed, check_free, check_unique

# bridge: its team's network; none: only loopback; host: the host's own network namespace
# (for admins: nothing keeps such a container off the host's services or other teams).
MODES = ("bridge", "none", "host")


@dataclass(frozen=True)
class NetworkInfo:
    mode: str
    netns_path: str | None = None
    ip: str | None = None
    gateway: str | None = None
    ports: tuple[tuple, ...] = ()
    bridge: str | None = None
    team: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def check_request(config: RuntimeConfig, mode: str, ports: list[PortMapping], team: str = "",
                  rates: tc.Rates = tc.Rates()) -> None:
    """What can be checked before any system call."""
    if mode not in MODES:
        raise InvalidSpec(f"network mode {mode!r} is not one of {', '.join(MODES)}")
    if mode == "none" and ports:
        raise InvalidSpec("ports cannot be published with network mode none")
    if mode == "host" and ports:
        raise InvalidSpec("ports cannot be published with network mode host: the container listens "
                          "on the host's own ports (a port published there would mean nothing)")
    if mode != "bridge" and rates.limited:
        raise InvalidSpec(f"network rate limits need network mode bridge (not {mode}): they are set on "
                          "the container's own link")
    check_unique(ports)
    check_allowed(ports, config.port_range)
    networks.check_team(team)
    tc.check(rates)


def ensure_host(config: RuntimeConfig) -> None:
    default = networks.default(config)
    links.ensure_bridge(default)
    nft.ensure_ruleset(config, default.bridge)


def _ensure_network(config: RuntimeConfig, net: Network) -> None:
    # The bridge and its nftables elements are made together under the network lock (and
    # removed together with the team's last container), so a bridge that is up has them: a
    # run of nft (35 ms) only for a new one.
    if not links.ensure_bridge(net):
        nft.add_bridge(config, net.bridge)


@dataclass(frozen=True)
class Reservation:
    """A container's network before its link: the namespace, the address and the published
    ports, all runc needs to create the container. ``connect`` makes the rest (the veth
    pair, its address and route, bandwidth limits) and may run while runc works."""
    info: NetworkInfo
    endpoint: links.Endpoint | None = None
    rates: tc.Rates = tc.Rates()

    def connect(self) -> None:
        """Idempotent on failure: the container's ``teardown`` removes a half-made link."""
        if self.endpoint is not None:
            links.connect_endpoint(self.endpoint, self.info.bridge)
            tc.limit(self.endpoint, self.rates)


def setup(config: RuntimeConfig, cid: str, mode: str, ports: list[PortMapping], team: str = "",
          rates: tc.Rates = tc.Rates(), netns_made: bool = False) -> NetworkInfo:
    """The container's network, whole (see ``reserve``)."""
    reservation = reserve(config, cid, mode, ports, team, rates, netns_made)
    try:
        reservation.connect()
    except BaseException:
        teardown(config, cid, reservation.info)
        raise
    return reservation.info


def namespace_path(config: RuntimeConfig, cid: str, mode: str) -> Path | None:
    """Where a container of network mode ``mode`` gets its network namespace, for its user
    namespace to make it along (userns.create; then ``reserve`` with ``netns_made``): only a
    namespace its own user namespace owns lets a container mount sysfs. None: it gets none of
    Berth's."""
    return netns.new_path(links.netns_name(config, cid)) if mode == "bridge" else None


def remove_namespace(config: RuntimeConfig, cid: str) -> None:
    """The container's network namespace, made before its network was reserved (gone is fine)."""
    netns.remove(links.netns_name(config, cid))


def reserve(config: RuntimeConfig, cid: str, mode: str, ports: list[PortMapping], team: str = "",
            rates: tc.Rates = tc.Rates(), netns_made: bool = False) -> Reservation:
    """The container's network but its link (``Reservation.connect``); its namespace at
    ``namespace_path``, made already with its user namespace if ``netns_made``."""
    check_request(config, mode, ports, team, rates)
    if mode in ("none", "host"):
        return Reservation(NetworkInfo(mode))  # none: the runtime's new namespace; host: no namespace of its own
    ensure_host(config)
    # Check and publish under one lock, so two containers cannot both take a port, and
    # a team's network is not removed while a container joins it (its address is held).
    with locked(_lock_path(config)):
        _check_ports_free(config, ports)
        net = networks.for_team(config, team)
        if team:  # the default network is ensure_host's
            _ensure_network(config, net)
        endpoint = links.reserve_endpoint(config, net, cid, netns_made)
        tuples = [m.as_tuple() for m in ports]
        try:
            nft.add_ports(config, endpoint.ip, tuples)
        except Exception:
            nft.remove_ports(config, tuples)
            links.remove_endpoint(config, net, cid)
            _remove_if_unused(config, net)
            raise
    info = NetworkInfo("bridge", endpoint.netns_path, endpoint.ip, endpoint.gateway, tuple(tuples), net.bridge, team)
    return Reservation(info, endpoint, rates)


def _lock_path(config: RuntimeConfig):
    return config.state_dir / "network.lock"


def _check_ports_free(config: RuntimeConfig, ports: list[PortMapping]) -> None:
    if not ports:
        return  # without listing the table, a run of nft
    published = nft.published_ports(config)
    for mapping in ports:
        if any(mapping.clashes_with(*p) for p in published):
            raise PortInUse(f"host port {mapping.host}/{mapping.protocol} is already published by another container")
        check_free(mapping)


def teardown(config: RuntimeConfig, cid: str, info: NetworkInfo) -> None:
    """Idempotent: after a crash it may run on a half-made network."""
    if info.mode != "bridge":
        return
    net = networks.by_bridge(config, info.bridge)
    nft.remove_ports(config, list(info.ports))
    links.remove_endpoint(config, net, cid)
    with locked(_lock_path(config)):
        _remove_if_unused(config, net)


def _remove_if_unused(config: RuntimeConfig, net: Network) -> None:
    """A team's network goes with its last container (the default network stays)."""
    if net.bridge == config.bridge or networks.in_use(net):
        return
    _remove_team_network(config, net)


def _remove_team_network(config: RuntimeConfig, net: Network) -> None:
    nft.remove_bridge(config, net.bridge)
    links.remove_bridge(net.bridge)
    networks.release(config, net)
    shutil.rmtree(net.ipam_dir, ignore_errors=True)


def remove_unused_networks(config: RuntimeConfig) -> list[str]:
    """Remove, and name, the team networks no address is held in (a crash between a container's
    teardown and its network's removal) and the bridges and nftables elements of no network."""
    removed = []
    with locked(_lock_path(config)):
        for net in networks.team_networks(config):
            if not networks.in_use(net):
                _remove_team_network(config, net)
                removed.append(f"team network {net.bridge} (team {net.team})")
        known = {config.bridge} | {net.bridge for net in networks.team_networks(config)}
        for bridge in set(links.bridges_named(f"{config.bridge}-")) - known:
            links.remove_bridge(bridge)
            removed.append(f"bridge {bridge}")
        for bridge in nft.bridges(config) - known:
            nft.remove_bridge(config, bridge)
            removed.append(f"nftables bridge element {bridge}")
    return removed


def remove_host(config: RuntimeConfig) -> None:
    """Remove the bridges and the nftables table (when no container is left)."""
    for net in networks.team_networks(config):
        _remove_team_network(config, net)
    nft.remove_table(config)
    for bridge in links.bridges_named(f"{config.bridge}-"):  # left by a crash before it was recorded
        links.remove_bridge(bridge)
    links.remove_bridge(config.bridge)
