"""What a test run may leave behind on the host, listed so a test can check it is gone."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from runtime.cgroups import paths as cgroups
from runtime.config import RuntimeConfig
from runtime.linux.mounts import mount_points_under
from runtime.network import links, networks, nft


def _netns(prefix: str) -> set[str]:
    names = os.listdir(links.NETNS_DIR) if links.NETNS_DIR.exists() else []
    return {n for n in names if n.startswith(prefix + "-")}


def _cgroups(config: RuntimeConfig) -> set[str]:
    found = set()
    for top in cgroups.cgroup_dirs(config.cgroup_parent, cgroups.detect_version()):
        for path in Path(top).rglob("*"):
            if path.is_dir():
                found.add(str(path))
    return found


def _monitors(config: RuntimeConfig) -> set[int]:
    """conmon and runc processes of the run's containers: monitors, and `runc exec` of terminals."""
    paths = (str(config.state_dir), str(config.run_dir))
    found = set()
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if any(path in cmdline for path in paths):
            found.add(proc.info["pid"])
    return found


def snapshot(config: RuntimeConfig) -> dict[str, set]:
    # pyroute2's sync API cannot run inside an event loop, and Playwright's sync API keeps
    # one running in the test's thread: take the snapshot in a thread of its own.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_snapshot, config).result()


def _snapshot(config: RuntimeConfig) -> dict[str, set]:
    return {
        "mounts": {str(p) for p in mount_points_under(config.state_dir)},
        "user namespaces": {str(p) for p in mount_points_under(config.run_dir)},
        "netns": _netns(config.netns_prefix),
        # The run's own veths are the ports of its own bridges; another Berth's are not counted.
        "veth (bridge ports)": {port for bridge in links.bridges_named(config.bridge)
                                for port in links.bridge_ports(bridge)},
        # The default bridge stays while the host is set up; a team's goes with its last container.
        "team bridges": set(links.bridges_named(f"{config.bridge}-")),
        "team networks": {net.bridge for net in networks.team_networks(config)},
        "nftables bridge elements": nft.bridges(config) - {config.bridge},
        "cgroups": _cgroups(config),
        "processes": _monitors(config),
        "published ports": nft.published_ports(config),
    }


def left_behind(before: dict[str, set], after: dict[str, set]) -> dict[str, set]:
    return {k: after[k] - before.get(k, set()) for k in after if after[k] - before.get(k, set())}
