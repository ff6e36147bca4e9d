"""The network provider: what a container's network is, set up and torn down as one."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..config import RuntimeConfig
from ..errors import InvalidSpec, PortInUse
from ..linux.files import locked
from . import links, nft
from .ports import PortMapping, check_free, check_unique

MODES = ("bridge", "none")


@dataclass(frozen=True)
class NetworkInfo:
    mode: str
    netns_path: str | None = None
    ip: str | None = None
    gateway: str | None = None
    ports: tuple[tuple[int, int, str], ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


def ensure_host(config: RuntimeConfig) -> None:
    links.ensure_bridge(config)
    nft.ensure_ruleset(config)


def setup(config: RuntimeConfig, cid: str, mode: str, ports: list[PortMapping]) -> NetworkInfo:
    if mode not in MODES:
        raise InvalidSpec(f"network mode {mode!r} is not one of {', '.join(MODES)}")
    if mode == "none":
        if ports:
            raise InvalidSpec("ports cannot be published with network mode none")
        return NetworkInfo("none")
    check_unique(ports)
    ensure_host(config)
    # Check and publish under one lock, so two containers cannot both take a port.
    with locked(config.state_dir / "network.lock"):
        published = nft.published_ports(config)
        for mapping in ports:
            if (mapping.host, mapping.protocol) in published:
                raise PortInUse(f"host port {mapping.host}/{mapping.protocol} is already published by another container")
            check_free(mapping)
        endpoint = links.create_endpoint(config, cid)
        tuples = [m.as_tuple() for m in ports]
        try:
            nft.add_ports(config, endpoint.ip, tuples)
        except Exception:
            links.remove_endpoint(config, cid)
            raise
    return NetworkInfo("bridge", endpoint.netns_path, endpoint.ip, endpoint.gateway, tuple(tuples))


def teardown(config: RuntimeConfig, cid: str, info: NetworkInfo) -> None:
    """Idempotent: after a crash it may run on a half-made network."""
    if info.mode != "bridge":
        return
    nft.remove_ports(config, list(info.ports))
    links.remove_endpoint(config, cid)


def remove_host(config: RuntimeConfig) -> None:
    """Remove the bridge and the nftables table (when no container is left)."""
    nft.remove_table(config)
    links.remove_bridge(config)
