"""Port mappings and container firewall rules with nftables, through the nft tool.

One table per runtime instance. Port mappings are elements of a map, so adding
and removing one never rewrites rules. Published ports answer on every local
address, 127.0.0.1 included: DNAT happens in both the prerouting and the output
hooks, and loopback sources are masqueraded on their way to the bridge (which
needs route_localnet on the bridge).
"""
from __future__ import annotations

import json
import subprocess

from ..config import RuntimeConfig
from ..errors import OCIRuntimeError

PROTOCOLS = ("tcp", "udp")


def _nft(script: str, what: str) -> str:
    proc = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise OCIRuntimeError(f"unable to {what}: {proc.stderr.strip()}", detail=script)
    return proc.stdout


def base_ruleset(config: RuntimeConfig) -> str:
    t, br, net = config.nft_table, config.bridge, config.subnet
    lines = [f"add table ip {t}"]
    for proto in PROTOCOLS:
        lines.append(f"add map ip {t} {proto}_ports {{ type inet_service : ipv4_addr . inet_service ; }}")
    # nft 1.0.6 needs numeric priorities in the output hook.
    chains = {"prerouting": "nat hook prerouting priority -100", "output": "nat hook output priority -100",
              "postrouting": "nat hook postrouting priority 100", "input": "filter hook input priority 0"}
    for name, hook in chains.items():
        lines += [f"add chain ip {t} {name} {{ type {hook} ; }}", f"flush chain ip {t} {name}"]
    for hook in ("prerouting", "output"):
        for proto in PROTOCOLS:
            lines.append(f"add rule ip {t} {hook} fib daddr type local dnat ip to {proto} dport map @{proto}_ports")
    lines.append(f'add rule ip {t} postrouting oifname "{br}" ip saddr 127.0.0.0/8 masquerade')
    if config.allow_outbound:
        lines.append(f'add rule ip {t} postrouting ip saddr {net} oifname != "{br}" masquerade')
    # Containers may answer the host but not open connections to its services.
    lines.append(f'add rule ip {t} input iifname "{br}" ct state established,related accept')
    lines.append(f'add rule ip {t} input iifname "{br}" drop')
    return "\n".join(lines) + "\n"


def ensure_ruleset(config: RuntimeConfig) -> None:
    _nft(base_ruleset(config), f"set up nftables table {config.nft_table}")


def add_ports(config: RuntimeConfig, ip: str, ports: list[tuple[int, int, str]]) -> None:
    if not ports:
        return
    script = "".join(f"add element ip {config.nft_table} {proto}_ports {{ {host} : {ip} . {cport} }}\n"
                     for host, cport, proto in ports)
    _nft(script, f"publish ports {ports} for {ip}")


def remove_ports(config: RuntimeConfig, ports: list[tuple[int, int, str]]) -> None:
    for host, _, proto in ports:
        # One element per call: a missing element must not stop the others being removed.
        subprocess.run(["nft", "delete", "element", "ip", config.nft_table, f"{proto}_ports",
                        f"{{ {host} }}"], capture_output=True, timeout=30)


def published_ports(config: RuntimeConfig) -> set[tuple[int, str]]:
    proc = subprocess.run(["nft", "-j", "list", "table", "ip", config.nft_table],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        return set()
    found = set()
    for item in json.loads(proc.stdout).get("nftables", []):
        m = item.get("map")
        if m and m.get("name", "").endswith("_ports"):
            proto = m["name"].split("_")[0]
            for elem in m.get("elem", []):
                found.add((int(elem[0]), proto))
    return found


def remove_table(config: RuntimeConfig) -> None:
    subprocess.run(["nft", "delete", "table", "ip", config.nft_table], capture_output=True, timeout=30)


def table_exists(config: RuntimeConfig) -> bool:
    proc = subprocess.run(["nft", "list", "table", "ip", config.nft_table], capture_output=True, timeout=30)
    return proc.returncode == 0
