"""Bridge, veth pairs and network namespaces, through pyroute2's netlink sockets.

pyroute2 is imported where it is used: importing it costs over 100 ms, and the
commands that only tear a network down (conmon's exit command) do without it.
"""
from __future__ import annotations

import errno
import ipaddress
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import RuntimeConfig
from ..errors import OCIRuntimeError
from . import ipam, netns
from .netns import NETNS_DIR
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


def ensure_bridge(net: Network) -> None:
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


def create_endpoint(config: RuntimeConfig, net: Network, cid: str) -> Endpoint:
    """A fresh network namespace joined to the network's bridge by a veth pair, with an address."""
    from pyroute2 import IPRoute, NetlinkError

    name = netns_name(config, cid)
    host_if = host_veth_name(cid)
    peer = f"bp{cid[:12]}"
    ip = ipam.allocate(net, cid)
    gw = net.gateway
    try:
        netns.create(name)
        ns_fd = os.open(NETNS_DIR / name, os.O_RDONLY)
        try:
            with IPRoute() as ipr:
                ipr.link("add", ifname=host_if, kind="veth", peer={"ifname": peer, "net_ns_fd": ns_fd})
                index = ipr.link_lookup(ifname=host_if)[0]
                bridge = ipr.link_lookup(ifname=net.bridge)[0]
                ipr.link("set", index=index, master=bridge, state="up")
        finally:
            os.close(ns_fd)
        _configure_inside(name, peer, ip, gw, net.subnet.prefixlen)
    except (NetlinkError, OSError) as exc:
        remove_endpoint(config, net, cid)
        raise OCIRuntimeError(f"unable to set up the network of container {cid}: {exc}") from None
    return Endpoint(name, host_if, str(ip), str(gw), net.subnet.prefixlen)


def _configure_inside(ns_name: str, peer: str, ip: ipaddress.IPv4Address,
                      gw: ipaddress.IPv4Address, prefixlen: int) -> None:
    from pyroute2 import IPRoute

    def configure():
        with IPRoute() as ns:  # opened inside the namespace, so it talks to that namespace
            lo = ns.link_lookup(ifname="lo")[0]
            ns.link("set", index=lo, state="up")
            index = ns.link_lookup(ifname=peer)[0]
            ns.link("set", index=index, ifname="eth0")
            ns.addr("add", index=index, address=str(ip), prefixlen=prefixlen)
            ns.link("set", index=index, state="up")
            ns.route("add", dst="0.0.0.0/0", gateway=str(gw))

    netns.run_in(ns_name, configure)


def remove_endpoint(config: RuntimeConfig, net: Network, cid: str) -> None:
    """Remove what ``create_endpoint`` made; safe to call again or on a half-made endpoint."""
    name = netns_name(config, cid)
    if (NETNS_DIR / name).exists():
        netns.remove(name)  # the veth pair goes with the namespace, once the kernel frees it
    host_link = Path("/sys/class/net") / host_veth_name(cid)
    deadline = time.monotonic() + 0.5
    while host_link.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    if host_link.exists():  # made, but never moved into a namespace
        _delete_link(host_veth_name(cid))
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
