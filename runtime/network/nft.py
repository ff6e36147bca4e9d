"""Port mappings and container firewall rules with nftables, through the nft tool.

One table per runtime instance. Port mappings are elements of a map, and the
runtime's bridges elements of a set, so publishing a port or adding a team's
bridge never rewrites rules. Published ports answer on every local address
(or the one chosen), 127.0.0.1 included: DNAT happens in both the prerouting
and the output hooks, and loopback sources are masqueraded on their way to the
bridge (which needs route_localnet on the bridge). The forward chain keeps
teams apart, and holds containers in when outbound traffic is off.
"""
from __future__ import annotations

import errno
import json
import os
import socket
import struct
import subprocess
from pathlib import Path

from ..config import RuntimeConfig
from ..errors import OCIRuntimeError
from ..linux.files import write_atomic

PROTOCOLS = ("tcp", "udp")


def _nft(script: str, what: str) -> str:
    proc = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise OCIRuntimeError(f"unable to {what}: {proc.stderr.strip()}", detail=script)
    return proc.stdout


def base_ruleset(config: RuntimeConfig) -> str:
    t, net = config.nft_table, config.subnet
    lines = [f"add table ip {t}",
             # Every bridge of this runtime (the default one and teams'), and each one paired
             # with itself: traffic between two containers of one bridge is what is allowed.
             f"add set ip {t} bridges {{ type ifname ; }}",
             f"add set ip {t} same_bridge {{ type ifname . ifname ; }}"]
    for proto in PROTOCOLS:
        lines.append(f"add map ip {t} {proto}_ports {{ type inet_service : ipv4_addr . inet_service ; }}")
        lines.append(f"add map ip {t} {proto}_addr_ports "
                     f"{{ type ipv4_addr . inet_service : ipv4_addr . inet_service ; }}")
    # nft 1.0.6 needs numeric priorities in the output hook.
    chains = {"prerouting": "nat hook prerouting priority -100", "output": "nat hook output priority -100",
              "postrouting": "nat hook postrouting priority 100", "input": "filter hook input priority 0",
              "forward": "filter hook forward priority 0"}
    for name, hook in chains.items():
        lines += [f"add chain ip {t} {name} {{ type {hook} ; }}", f"flush chain ip {t} {name}"]
    for hook in ("prerouting", "output"):
        for proto in PROTOCOLS:
            # A mapping bound to one host address first, then those on every address.
            lines.append(f"add rule ip {t} {hook} fib daddr type local "
                         f"dnat ip to ip daddr . {proto} dport map @{proto}_addr_ports")
            lines.append(f"add rule ip {t} {hook} fib daddr type local dnat ip to {proto} dport map @{proto}_ports")
    lines.append(f"add rule ip {t} postrouting oifname @bridges ip saddr 127.0.0.0/8 masquerade")
    if config.allow_outbound:
        lines.append(f"add rule ip {t} postrouting ip saddr {net} oifname != @bridges masquerade")
    # Containers may answer the host but not open connections to its services.
    lines.append(f"add rule ip {t} input iifname @bridges ct state established,related accept")
    lines.append(f"add rule ip {t} input iifname @bridges drop")
    lines += _forward_rules(config)
    return "\n".join(lines) + "\n"


def _forward_rules(config: RuntimeConfig) -> list[str]:
    t = config.nft_table
    rules = [
        # Published ports are open to anyone who reaches the host, other teams' containers too.
        f"add rule ip {t} forward ct status dnat accept",
        # Bridge peers: with br_netfilter the bridged packets pass here too, in and out the same bridge.
        f"add rule ip {t} forward iifname . oifname @same_bridge accept",
        # From one team's bridge to another's: routed by the host, and refused.
        f"add rule ip {t} forward iifname @bridges oifname @bridges drop",
    ]
    if not config.allow_outbound:
        rules += [f"add rule ip {t} forward iifname @bridges ct state established,related accept",
                  f"add rule ip {t} forward iifname @bridges drop"]
    return rules


def ensure_ruleset(config: RuntimeConfig, *bridges: str) -> None:
    """The table, and ``bridges`` in its sets, in one run of nft. Skipped when the table is
    there as the last run wrote it (a stamp in the run directory holds the script): writing
    it costs a start 20 ms, asking the kernel whether it is there a tenth of a millisecond.
    A table removed (``nft flush ruleset``, a reboot) is written again."""
    script = base_ruleset(config) + "".join(_bridge_elements(config, b) for b in bridges)
    stamp = _stamp(config)
    if stamp.exists() and stamp.read_text() == script and table_exists(config):
        return
    _nft(script, f"set up nftables table {config.nft_table}")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(stamp, script)


def _stamp(config: RuntimeConfig) -> Path:
    return config.run_dir / f"nft-{config.nft_table}.script"


def add_bridge(config: RuntimeConfig, bridge: str) -> None:
    _nft(_bridge_elements(config, bridge), f"add bridge {bridge} to nftables")


def _bridge_elements(config: RuntimeConfig, bridge: str) -> str:
    t = config.nft_table
    return (f'add element ip {t} bridges {{ "{bridge}" }}\n'
            f'add element ip {t} same_bridge {{ "{bridge}" . "{bridge}" }}\n')


def remove_bridge(config: RuntimeConfig, bridge: str) -> None:
    for name, element in (("same_bridge", f'"{bridge}" . "{bridge}"'), ("bridges", f'"{bridge}"')):
        # One element per call: a missing one must not stop the other being removed.
        subprocess.run(["nft", "delete", "element", "ip", config.nft_table, name, f"{{ {element} }}"],
                       capture_output=True, timeout=30)


def bridges(config: RuntimeConfig) -> set[str]:
    return set(_set_elements(config, "bridges"))


def _map_key(host_ip: str, host: int) -> str:
    return f"{host_ip} . {host}" if host_ip else str(host)


def _map_name(proto: str, host_ip: str) -> str:
    return f"{proto}_addr_ports" if host_ip else f"{proto}_ports"


def add_ports(config: RuntimeConfig, ip: str, ports: list[tuple]) -> None:
    if not ports:
        return
    script = "".join(f"add element ip {config.nft_table} {_map_name(proto, host_ip)} "
                     f"{{ {_map_key(host_ip, host)} : {ip} . {cport} }}\n"
                     for host, cport, proto, host_ip in map(_full, ports))
    _nft(script, f"publish ports {ports} for {ip}")


def _full(port: tuple) -> tuple[int, int, str, str]:
    # Records written before host addresses could be chosen hold (host, container, protocol).
    return tuple(port) + ("",) * (4 - len(port))


def remove_ports(config: RuntimeConfig, ports: list[tuple]) -> None:
    for host, _, proto, host_ip in map(_full, ports):
        # One element per call: a missing element must not stop the others being removed.
        subprocess.run(["nft", "delete", "element", "ip", config.nft_table, _map_name(proto, host_ip),
                        f"{{ {_map_key(host_ip, host)} }}"], capture_output=True, timeout=30)


def _list_table(config: RuntimeConfig) -> list[dict]:
    proc = subprocess.run(["nft", "-j", "list", "table", "ip", config.nft_table],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        return []
    return json.loads(proc.stdout).get("nftables", [])


def _set_elements(config: RuntimeConfig, name: str) -> list:
    for item in _list_table(config):
        found = item.get("set") or item.get("map")
        if found and found.get("name") == name:
            return found.get("elem", [])
    return []


def published_ports(config: RuntimeConfig) -> set[tuple[str, int, str]]:
    """(host address, or "" for every address; host port; protocol) of each published port."""
    return {(host_ip, port, proto) for host_ip, port, proto, _ in port_targets(config)}


def port_targets(config: RuntimeConfig) -> list[tuple[str, int, str, str]]:
    """Each published port as (host address or "", host port, protocol, container address)."""
    found = []
    for item in _list_table(config):
        m = item.get("map")
        if not (m and m.get("name", "").split("_", 1)[-1] in ("ports", "addr_ports")):
            continue
        proto = m["name"].split("_")[0]
        for key, value in m.get("elem", []):
            target = value["concat"][0]  # container address . container port
            if isinstance(key, dict):  # a concatenation: address . port
                host_ip, port = key["concat"]
                found.append((host_ip, int(port), proto, target))
            else:
                found.append(("", int(key), proto, target))
    return found


def remove_table(config: RuntimeConfig) -> None:
    _stamp(config).unlink(missing_ok=True)
    subprocess.run(["nft", "delete", "table", "ip", config.nft_table], capture_output=True, timeout=30)


# nfnetlink: a GETTABLE request of the nftables subsystem, answered by the table or ENOENT.
_NETLINK_NETFILTER, _NFT_MSG_GETTABLE, _NFT_MSG_NEWTABLE = 12, (10 << 8) | 1, (10 << 8) | 0
_NLMSG_ERROR, _NLM_F_REQUEST, _NLM_F_ACK = 2, 1, 4
_NFPROTO_IPV4, _NFTA_TABLE_NAME = 2, 1


def table_exists(config: RuntimeConfig) -> bool:
    """Whether this runtime's table is in the kernel, asked over netlink (a run of
    ``nft list table`` would cost a start 3 ms)."""
    name = config.nft_table.encode() + b"\0"
    attribute = struct.pack("=HH", 4 + len(name), _NFTA_TABLE_NAME) + name
    attribute += b"\0" * (-len(attribute) % 4)
    body = struct.pack("=BBH", _NFPROTO_IPV4, 0, 0) + attribute  # nfgenmsg: family, version, resource id
    request = struct.pack("=IHHII", 16 + len(body), _NFT_MSG_GETTABLE, _NLM_F_REQUEST | _NLM_F_ACK, 1, 0) + body
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_NETFILTER) as sock:
        sock.settimeout(5)
        sock.send(request)
        while True:
            reply = sock.recv(65536)
            offset = 0
            while offset + 16 <= len(reply):
                length, kind = struct.unpack_from("=IH", reply, offset)
                if kind == _NFT_MSG_NEWTABLE:
                    return True
                if kind == _NLMSG_ERROR:
                    code = -struct.unpack_from("=i", reply, offset + 16)[0]
                    if code in (0, errno.ENOENT):
                        return False  # the acknowledgement with no table before it, or no table
                    raise OCIRuntimeError(f"unable to ask for nftables table {config.nft_table}: "
                                          f"{os.strerror(code)}")
                offset += max(16, (length + 3) & ~3)
