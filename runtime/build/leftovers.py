"""Removing what build steps left behind when the process running them died.

A step's container, network, mounts and cgroup normally go when the step
ends. After a crash, the next agent removes them before it takes work; no
build may be running on this state directory meanwhile.
"""
from __future__ import annotations

import os
import shutil
import subprocess

from ..cgroups import paths as cgroups
from ..config import RuntimeConfig
from ..container.runc import Runc
from ..linux import mounts, userns
from ..network import ipam, links, networks

STEP_PREFIX = "build-"


def _step_containers(config: RuntimeConfig) -> list[str]:
    root = config.runc_root
    return [name for name in os.listdir(root) if name.startswith(STEP_PREFIX)] if root.exists() else []


def remove_build_leftovers(config: RuntimeConfig) -> list[str]:
    """Returns what was removed, for the agent's log."""
    removed = []
    runc = Runc(config)
    for cid in _step_containers(config):
        subprocess.run(runc.base_args() + ["delete", "--force", cid], capture_output=True, timeout=30)
        removed.append(f"step container {cid}")
    net = networks.default(config)  # build steps use the default network
    for ns in os.listdir(links.NETNS_DIR) if links.NETNS_DIR.exists() else []:
        if ns.startswith(f"{config.netns_prefix}-{STEP_PREFIX}"):
            links.remove_endpoint(config, net, ns.removeprefix(f"{config.netns_prefix}-"))
            removed.append(f"network namespace {ns}")
    ipam.release_prefix(net, STEP_PREFIX)
    userns_dir = config.run_dir / "userns"
    for name in os.listdir(userns_dir) if userns_dir.exists() else []:
        if name.startswith(STEP_PREFIX):
            userns.remove(userns_dir / name)
            removed.append(f"user namespace {name}")
    for point in mounts.mount_points_under(config.tmp_dir):
        mounts.umount(point)
        removed.append(f"mount {point}")
    for entry in config.tmp_dir.iterdir() if config.tmp_dir.exists() else []:
        # Half-written layers and blobs, unpacked imports, step roots: nothing there survives a crash.
        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
        removed.append(f"unfinished work {entry}")
    version = cgroups.detect_version()
    for top in cgroups.cgroup_dirs(config.cgroup_parent, version):
        for child in top.iterdir():
            if child.is_dir() and child.name.startswith(STEP_PREFIX):
                cgroups.remove(f"{config.cgroup_parent}/{child.name}", version)
                removed.append(f"cgroup {child.name}")
    return removed
