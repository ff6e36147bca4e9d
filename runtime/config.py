"""Configuration of one runtime instance on a host.

The runtime never reads the environment: callers (the CLI, the host agent,
tests) build a ``RuntimeConfig`` and pass it in. Several instances can live on
one machine side by side (tests do this) because every name the runtime
creates in the kernel derives from this object.
"""
from __future__ import annotations

import ipaddress
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import InvalidSpec


@dataclass(frozen=True)
class RuntimeConfig:
    state_dir: Path = Path("/var/lib/berth")
    run_dir: Path = Path("/run/berth")
    runc: str = "runc"
    conmon: str = "conmon"
    # conmon truncates a container's log file when it reaches this size.
    log_size_max: int = 64 * 1024 * 1024
    # A static init for `--init`: PID 1 that forwards signals and reaps zombies.
    init_binary: str = "/usr/bin/catatonit"
    bridge: str = "berth0"
    subnet: str = "10.199.0.0/16"
    nft_table: str = "berth"
    cgroup_parent: str = "/berth"
    netns_prefix: str = "berth"
    # Outbound traffic from containers is NATed out of the host unless turned off.
    allow_outbound: bool = True
    # Host ports containers may publish, inclusive (the admin's BERTH_PORT_RANGE).
    port_range: tuple[int, int] = (1024, 65535)
    dns_servers: tuple[str, ...] = field(default=())
    # "auto": each container in a user namespace of its own where the host allows it (the
    # doctor probes it), its root mapped to host uid ``userns_range[0]`` and up; "off": none.
    userns: str = "auto"
    userns_range: tuple[int, int] = (1_000_000_000, 65536)  # first host uid (and gid), count

    def __post_init__(self):
        object.__setattr__(self, "state_dir", Path(self.state_dir))
        object.__setattr__(self, "run_dir", Path(self.run_dir))
        object.__setattr__(self, "dns_servers", tuple(self.dns_servers))
        object.__setattr__(self, "port_range", tuple(self.port_range))
        object.__setattr__(self, "userns_range", tuple(self.userns_range))
        validate(self)

    @property
    def images_dir(self) -> Path:
        return self.state_dir / "images"

    @property
    def layers_dir(self) -> Path:
        return self.state_dir / "layers"

    @property
    def containers_dir(self) -> Path:
        return self.state_dir / "containers"

    @property
    def tmp_dir(self) -> Path:
        return self.state_dir / "tmp"

    @property
    def runc_root(self) -> Path:
        return self.run_dir / "runc"

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)

    @property
    def network_prefixlen(self) -> int:
        """The size of each network cut from the subnet (the default one, each team's):
        a /16 gives 256 networks of /24; a /24 gives four of /26."""
        return max(self.network.prefixlen, min(self.network.prefixlen + 8, 26))

    @property
    def team_network_count(self) -> int:
        return 2 ** (self.network_prefixlen - self.network.prefixlen) - 1

    def to_json(self) -> str:
        data = asdict(self)
        data["state_dir"] = str(self.state_dir)
        data["run_dir"] = str(self.run_dir)
        data["dns_servers"] = list(self.dns_servers)
        data["port_range"] = list(self.port_range)
        data["userns_range"] = list(self.userns_range)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "RuntimeConfig":
        return cls(**json.loads(text))


def validate(config: RuntimeConfig) -> None:
    # Linux interface names are at most 15 bytes (IFNAMSIZ - 1).
    if not 0 < len(config.bridge) <= 15:
        raise InvalidSpec(f"bridge name {config.bridge!r} must be 1 to 15 characters")
    try:
        net = ipaddress.IPv4Network(config.subnet)
    except ValueError as exc:
        raise InvalidSpec(f"subnet {config.subnet!r} is not an IPv4 network: {exc}") from None
    if net.num_addresses < 8:
        raise InvalidSpec(f"subnet {config.subnet} is too small for containers")
    # Teams' bridges are named BRIDGE-N.
    if config.team_network_count and len(f"{config.bridge}-{config.team_network_count}") > 15:
        raise InvalidSpec(f"bridge name {config.bridge!r} leaves no room for team bridges "
                          f"like {config.bridge}-{config.team_network_count} in 15 characters")
    low, high = config.port_range
    if not 1 <= low <= high <= 65535:
        raise InvalidSpec(f"port range {low}-{high} is not within 1-65535, low to high")
    if not config.cgroup_parent.startswith("/"):
        raise InvalidSpec(f"cgroup parent {config.cgroup_parent!r} must be an absolute cgroup path")
    if config.userns not in ("auto", "off"):
        raise InvalidSpec(f"user namespaces {config.userns!r} must be auto or off")
    first, count = config.userns_range
    # 65536 ids: what images expect (nobody is 65534); below them is host root's and users'.
    if not (first >= 65536 and count >= 65536 and first + count <= 2 ** 32 - 1):
        raise InvalidSpec(f"user namespace range {first}:{count} must start at 65536 or above, "
                          "hold at least 65536 ids and end below 2^32-1")
    if len(config.netns_prefix) > 20 or "/" in config.netns_prefix:
        raise InvalidSpec(f"netns prefix {config.netns_prefix!r} is not a short plain name")
