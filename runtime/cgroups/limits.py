"""What the host offers for the limits runc applies: checked before a container starts.

runc writes the cgroup files; these probes only look, so that a limit the host
cannot apply is refused with its reason instead of failing inside runc.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import InvalidSpec, MissingKernelFeature
from . import paths

ONLINE_CPUS = Path("/sys/devices/system/cpu/online")


def cpu_list(text: str) -> set[int]:
    """``0-2,5`` as {0, 1, 2, 5}."""
    cpus = set()
    for part in text.strip().split(","):
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def check_cpuset(cpuset: str, online: Path = ONLINE_CPUS) -> None:
    have = online.read_text().strip()
    try:
        wanted = cpu_list(cpuset)
    except ValueError:
        raise InvalidSpec(f"cpuset {cpuset!r} is not a CPU list like 0, 0-1 or 0,2") from None
    missing = sorted(wanted - cpu_list(have))
    if missing:
        raise InvalidSpec(f"cpuset {cpuset} names CPU {', '.join(map(str, missing))}, "
                          f"but this host's CPUs are {have}")


def device_numbers(path: str) -> tuple[int, int]:
    """(major, minor) of a whole block device; throttling a partition is refused by the kernel."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InvalidSpec(f"block device {path}: {exc.strerror}") from None
    if not stat.S_ISBLK(st.st_mode):
        raise InvalidSpec(f"{path} is not a block device")
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    if Path(f"/sys/dev/block/{major}:{minor}/partition").exists():
        disk = Path(f"/sys/dev/block/{major}:{minor}").resolve().parent.name
        raise InvalidSpec(f"{path} is a partition: block IO limits apply to whole disks, such as /dev/{disk}")
    return major, minor


def _offered(controller: str, names: tuple[str, ...], version: int, root) -> bool:
    top = paths.controller_root(controller, version, root)
    if top is None:
        return False
    # The v2 root cgroup has no io.weight nor memory.swap.max: its children show what is offered.
    dirs = [child for child in top.iterdir() if child.is_dir()] if version == 2 else [top]
    return any((d / name).exists() for d in dirs for name in names)


def check_blkio_weight(version: int, root: str | os.PathLike = paths.DEFAULT_ROOT) -> None:
    """A weight needs a proportional I/O scheduler (BFQ) behind the cgroup's files."""
    names = ("io.bfq.weight", "io.weight") if version == 2 else ("blkio.bfq.weight", "blkio.weight")
    if not _offered("blkio", names, version, root):
        raise MissingKernelFeature("block IO weight is not available on this host: its cgroups offer no "
                                   f"{' or '.join(names)} (it needs the BFQ I/O scheduler)")


def check_swap_limit(version: int, root: str | os.PathLike = paths.DEFAULT_ROOT) -> None:
    name = "memory.swap.max" if version == 2 else "memory.memsw.limit_in_bytes"
    if not _offered("memory", (name,), version, root):
        raise MissingKernelFeature(f"a memory+swap limit is not available on this host: its cgroups offer no "
                                   f"{name} (swap accounting is off)")
