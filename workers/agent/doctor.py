"""Start-up checks: the agent refuses work, with a reason, on a host that cannot run it."""
from __future__ import annotations

import logging
import os

from runtime.config import RuntimeConfig
from runtime.container.manager import userns_problem
from runtime.linux.probes import missing_tools


def problems(config: RuntimeConfig) -> list[str]:
    found = []
    if os.geteuid() != 0:
        found.append("the host agent must run as root (it creates namespaces, cgroups and mounts)")
    packages = {"nft": "nftables", "unshare": "util-linux"}  # the others are their own packages
    for tool in missing_tools(config.runc, config.conmon, "nft", "unshare"):
        found.append(f"{tool} is not installed (apt-get install {packages.get(tool, tool)})")
    if not os.path.exists(config.init_binary):
        found.append(f"{config.init_binary} is missing (apt-get install catatonit)")
    if not os.path.exists("/bin/busybox"):
        found.append("/bin/busybox is missing (apt-get install busybox-static)")
    with open("/proc/filesystems") as f:
        if "overlay" not in f.read():
            found.append("the kernel has no overlay filesystem (modprobe overlay)")
    return found


def userns_notice(config: RuntimeConfig) -> str:
    """Whether containers get user namespaces here, probed afresh (the runtime keeps the outcome)."""
    problem = userns_problem(config, fresh=True)
    if problem:
        return f"user namespaces: off, root in a container is root on the host: {problem}"
    first, count = config.userns_range
    return f"user namespaces: on, root in a container is host uid {first} (its ids {first}-{first + count - 1})"


def check_or_exit(config: RuntimeConfig) -> None:
    found = problems(config)
    if found:
        raise SystemExit("berth agent cannot start:\n  - " + "\n  - ".join(found))
    logging.getLogger("berth.agent").warning(userns_notice(config))
