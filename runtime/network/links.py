"""Bridge, veth pairs and network namespaces, through pyroute2's netlink sockets.

pyroute2 is imported where it is used: importing it costs over 100 ms, more than
the rest of a container's start. So the start path does without it: a bridge
already set up is recognised through sysfs and an ioctl, and a container's veth
pair, address and route are five requests on a plain netlink socket (rtnl.py).
The commands that only tear a network down do without it too.
"""
from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import RuntimeConfig
from ..errors import OCIRuntimeError
from . import ipam, netns
from .netns import NETNS_DIR
from .rtnl import Rtnl
from .networks import Network


@dataclass(frozen=True)
class Endpoint:
    netns: str
    host_veth: str
    ip: str
    gateway: str
    prefixlen: int

    @property
    def netns_path(self) -> str:
        return str(NETNS_DIR / self.netns)


def netns_name(config: RuntimeConfig, cid: str) -> str:
    return f"{config.netns_prefix}-{cid[:12]}"


def host_veth_name(cid: str) -> str:
    return f"bv{cid[:12]}"  # 14 bytes: within IFNAMSIZ


def traffic(cid: str) -> tuple[int, int] | None:
    """The container's (received, sent) bytes, read from the host end of its veth;
    None when it has no veth (network none, or already torn down)."""
    base = f"/sys/class/net/{host_veth_name(cid)}/statistics"
    try:
        with open(f"{base}/tx_bytes") as sent_to_container, open(f"{base}/rx_bytes") as sent_by_container:
            return int(sent_to_container.read()), int(sent_by_container.read())
    except (OSError, ValueError):
        return None


def _sysctl(path: str, value: str) -> None:
    with open(f"/proc/sys/{path}", "w") as f:
        f.write(value)


_SIOCGIFADDR, _SIOCGIFNETMASK = 0x8915, 0x891B


def _bridge_ready(net: Network) -> bool:
    """The bridge exists, is up and has the network's gateway address (read without netlink)."""
    base = Path("/sys/class/net") / net.bridge
    try:
        if not (base / "bridge").is_dir() or not int((base / "flags").read_text(), 16) & 1:  # IFF_UP
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            request = struct.pack("256s", net.bridge.encode())
            address = socket.inet_ntoa(fcntl.ioctl(s, _SIOCGIFADDR, request)[20:24])
            mask = socket.inet_ntoa(fcntl.ioctl(s, _SIOCGIFNETMASK, request)[20:24])
    except (OSError, ValueError):
        return False
    return (address, ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen) == (str(net.gateway), net.subnet.prefixlen)


def ensure_bridge(net: Network) -> bool:
    """Make the network's bridge unless it is up with its address; True if it was already."""
    if _bridge_ready(net):
        _bridge_sysctls(net)
        return True
    from pyroute2 import IPRoute, NetlinkError

    with IPRoute() as ipr:
        if not ipr.link_lookup(ifname=net.bridge):
            try:
                ipr.link("add", ifname=net.bridge, kind="bridge")
            except NetlinkError as exc:
                if exc.code != errno.EEXIST:  # another process made it first
                    raise OCIRuntimeError(f"unable to create bridge {net.bridge}: {exc}") from None
        index = ipr.link_lookup(ifname=net.bridge)[0]
        _address_bridge(ipr, index, net)
        ipr.link("set", index=index, state="up")
    _bridge_sysctls(net)
    return False


def _bridge_sysctls(net: Network) -> None:
    _sysctl("net/ipv4/ip_forward", "1")
    # Lets DNAT send 127.0.0.1-addressed traffic out to the bridge.
    _sysctl(f"net/ipv4/conf/{net.bridge}/route_localnet", "1")


def _address_bridge(ipr, index: int, net: Network) -> None:
    from pyroute2 import NetlinkError

    wanted = (str(net.gateway), net.subnet.prefixlen)
    for addr in ipr.get_addr(index=index):
        have = (addr.get_attr("IFA_ADDRESS"), addr["prefixlen"])
        if have == wanted:
            return
        if have[0] == wanted[0]:  # a bridge from before the subnet was cut into networks
            ipr.addr("del", index=index, address=have[0], prefixlen=have[1])
    try:
        ipr.addr("add", index=index, address=wanted[0], prefixlen=wanted[1])
    except NetlinkError as exc:
        if exc.code != errno.EEXIST:
            raise OCIRuntimeError(f"unable to address bridge {net.bridge}: {exc}") from None


def remove_bridge(name: str) -> None:
    _delete_link(name)


def remove_link(name: str) -> None:
    """Delete a link of any kind (a veth left on a bridge); gone already is fine."""
    _delete_link(name)


def bridge_ports(bridge: str) -> list[str]:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=bridge)
        if not found:
            return []
        return [link.get_attr("IFLA_IFNAME") for link in ipr.get_links()
                if link.get_attr("IFLA_MASTER") == found[0]]


def bridges_named(prefix: str) -> list[str]:
    """Every bridge whose name starts with ``prefix``: a runtime's default and team bridges."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        return [name for link in ipr.get_links()
                if (name := link.get_attr("IFLA_IFNAME")).startswith(prefix)
                and link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") == "bridge"]


def reserve_endpoint(config: RuntimeConfig, net: Network, cid: str, netns_made: bool = False) -> Endpoint:
    """The container's address and a fresh network namespace (made already, with its user
    namespace, if ``netns_made``): all runc needs to create the container.
    ``connect_endpoint`` joins it to the bridge."""
    name = netns_name(config, cid)
    ip = ipam.allocate(net, cid)
    try:
        _wait_gone(host_veth_name(cid))  # the veth of this container's previous run, freed with its namespace
        if not netns_made:
            netns.create(name)
    except (OCIRuntimeError, OSError) as exc:
        remove_endpoint(config, net, cid)
        raise OCIRuntimeError(f"unable to set up the network of container {cid}: {exc}") from None
    return Endpoint(name, host_veth_name(cid), str(ip), str(net.gateway), net.subnet.prefixlen)


def connect_endpoint(endpoint: Endpoint, bridge: str) -> None:
    """A veth pair from the bridge into the namespace, with the address and the route out.
    On failure, ``remove_endpoint`` undoes it with the rest."""
    try:
        # The peer is made inside the namespace, as eth0: the pair exists whole or not at all.
        _add_veth(endpoint.host_veth, bridge, NETNS_DIR / endpoint.netns)
        netns.run_in(endpoint.netns, lambda: _address_peer(endpoint.ip, endpoint.prefixlen, endpoint.gateway))
    except (OCIRuntimeError, OSError) as exc:
        raise OCIRuntimeError(f"unable to connect container {endpoint.netns} to {bridge}: {exc}") from None


def _add_veth(host_if: str, bridge: str, netns_path: Path) -> None:
    fd = os.open(netns_path, os.O_RDONLY)
    rtnl = Rtnl()
    try:
        rtnl.add_veth(host_if, bridge, "eth0", fd)
    finally:
        rtnl.close()
        os.close(fd)


def _address_peer(ip: str, prefixlen: int, gateway: str) -> None:
    """Run in the container's network namespace: loopback and eth0 up, eth0's address, the route out."""
    rtnl = Rtnl()
    try:
        rtnl.set_up("lo")
        rtnl.add_address("eth0", ip, prefixlen)
        rtnl.set_up("eth0")
        rtnl.add_default_route(gateway)
    finally:
        rtnl.close()


def _wait_gone(link: str, timeout: float = 0.5) -> None:
    """The kernel frees a removed namespace's veth pair a moment later; one still there
    after ``timeout`` (its namespace was never made) is deleted."""
    path = Path("/sys/class/net") / link
    deadline = time.monotonic() + timeout
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    if path.exists():
        _delete_link(link)


def remove_endpoint(config: RuntimeConfig, net: Network, cid: str) -> None:
    """Remove what ``reserve_endpoint`` and ``connect_endpoint`` made; safe to call again or
    on a half-made endpoint."""
    name = netns_name(config, cid)
    if (NETNS_DIR / name).exists():
        # The veth pair goes with the namespace, once the kernel frees it: nobody waits for
        # that but a new endpoint of the same name (reserve_endpoint).
        netns.remove(name)
    elif Path(f"/sys/class/net/{host_veth_name(cid)}").exists():
        _delete_link(host_veth_name(cid))  # a pair with no namespace: made by hand, or half made
    ipam.release(net, cid)


def _delete_link(name: str) -> None:
    from pyroute2 import IPRoute, NetlinkError

    with IPRoute() as ipr:
        for index in ipr.link_lookup(ifname=name):
            try:
                ipr.link("del", index=index)
            except NetlinkError as exc:
                if exc.code != errno.ENODEV:
                    raise
