"""The I/O side of cgroup stats: find a cgroup's directories, read, remove.

``cgroup_path`` is always an absolute cgroup path such as ``"/berth/abc123"``,
the same string in every v1 hierarchy and in the v2 tree.
"""
from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import Iterable

from runtime.errors import InvalidSpec, InvalidState, NotFound
from runtime.cgroups.stats import CgroupStats, parse_v1, parse_v2

DEFAULT_ROOT = "/sys/fs/cgroup"

# Only the files the parsers use, per v1 controller.
V1_FILES: dict[str, tuple[str, ...]] = {
    "cpu": ("cpu.stat", "cpu.cfs_quota_us", "cpu.cfs_period_us"),
    "cpuacct": ("cpuacct.usage",),
    "memory": ("memory.usage_in_bytes", "memory.limit_in_bytes", "memory.stat",
               "memory.oom_control"),
    "pids": ("pids.current", "pids.max"),
    "blkio": ("blkio.throttle.io_service_bytes", "blkio.io_service_bytes_recursive"),
}
V2_FILES: tuple[str, ...] = (
    "cpu.stat", "cpu.max", "memory.current", "memory.max", "memory.stat",
    "memory.swap.current", "memory.events", "pids.current", "pids.max", "io.stat",
)

# rmdir can briefly fail with EBUSY right after the last task exits while the
# kernel drops its last references (runc retries the same way).
_RMDIR_ATTEMPTS = 5
_RMDIR_FIRST_DELAY = 0.01


def detect_version(root: str | os.PathLike = DEFAULT_ROOT) -> int:
    """2 on a unified (pure v2) host, else 1.

    Only a cgroup2 mount *at* the root has cgroup.controllers there; hybrid hosts
    keep their v2 tree at root/unified and their controllers on v1.
    """
    return 2 if (Path(root) / "cgroup.controllers").exists() else 1


def _relative(cgroup_path: str, *, allow_root: bool = True) -> str:
    if not cgroup_path.startswith("/"):
        raise InvalidSpec(f"cgroup path must be absolute: {cgroup_path!r}")
    parts = [p for p in cgroup_path.split("/") if p]
    # Refuse anything that could climb out of the hierarchy we were given.
    if any(p in (".", "..") for p in parts):
        raise InvalidSpec(f"cgroup path must not contain . or ..: {cgroup_path!r}")
    if not parts and not allow_root:
        raise InvalidSpec("refusing to operate on a hierarchy's root cgroup")
    return "/".join(parts)


def _hierarchies(root: Path) -> list[Path]:
    """Every mounted v1 hierarchy under root, each once.

    Co-mounted controllers ("cpu,cpuacct") usually also appear as symlinks
    ("cpu" -> "cpu,cpuacct"); real directories come first so duplicates found
    through a symlink are dropped.
    """
    try:
        entries = sorted(root.iterdir(), key=lambda p: (p.is_symlink(), p.name))
    except FileNotFoundError:
        return []
    seen: set[Path] = set()
    out = []
    for entry in entries:
        if entry.is_dir() and entry.resolve() not in seen:
            seen.add(entry.resolve())
            out.append(entry)
    return out


def _controller_mount(root: Path, controller: str) -> Path | None:
    """Where a v1 controller is mounted: root/<name>, or a co-mount like
    root/cpu,cpuacct when no convenience symlink exists."""
    if (root / controller).is_dir():
        return root / controller
    for entry in _hierarchies(root):
        if controller in entry.name.split(","):
            return entry
    return None


def _read(directory: Path, name: str) -> str | None:
    """One interface file; None if this kernel/controller does not offer it.

    A removed cgroup shows up as ENOENT (directory gone) or, for a read racing
    the rmdir, ENODEV from kernfs; both mean the cgroup no longer exists.
    """
    try:
        return (directory / name).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        if directory.is_dir():
            return None
        raise NotFound(f"cgroup directory vanished: {directory}") from None
    except OSError as exc:
        if exc.errno == errno.ENODEV:
            raise NotFound(f"cgroup removed while reading {directory / name}") from None
        raise


def _read_all(directory: Path, names: Iterable[str]) -> dict[str, str]:
    files = {}
    for name in names:
        text = _read(directory, name)
        if text is not None:
            files[name] = text
    return files


def read_stats(cgroup_path: str, version: int,
               root: str | os.PathLike = DEFAULT_ROOT) -> CgroupStats:
    """Read and parse one cgroup's stats; NotFound if it does not exist."""
    rel, base = _relative(cgroup_path), Path(root)
    if version == 2:
        directory = base / rel
        if not directory.is_dir():
            raise NotFound(f"cgroup {cgroup_path} not found", detail=str(directory))
        return parse_v2(_read_all(directory, V2_FILES))
    if version != 1:
        raise ValueError(f"unknown cgroup version {version}")
    # Find every directory first: a controller missing from the start is just
    # not mounted, but one vanishing later means the container went away.
    dirs = []
    for controller, names in V1_FILES.items():
        mount = _controller_mount(base, controller)
        if mount is not None and (mount / rel).is_dir():
            dirs.append((mount / rel, names))
    if not dirs:
        raise NotFound(f"cgroup {cgroup_path} not found in any v1 hierarchy",
                       detail=str(base))
    files: dict[str, str] = {}
    for directory, names in dirs:
        files.update(_read_all(directory, names))
    return parse_v1(files)


def cgroup_dirs(cgroup_path: str, version: int,
                root: str | os.PathLike = DEFAULT_ROOT) -> list[Path]:
    """Every existing directory that makes up the cgroup.

    On v1 this checks all hierarchies, not only the ones stats are read from:
    runtimes create the cgroup in cpuset, devices, freezer, name=systemd and
    the hybrid unified tree too, and any of them can be left behind.
    """
    rel, base = _relative(cgroup_path), Path(root)
    if version == 2:
        return [base / rel] if (base / rel).is_dir() else []
    return [h / rel for h in _hierarchies(base) if (h / rel).is_dir()]


def _rmdir(path: str) -> OSError | None:
    delay = _RMDIR_FIRST_DELAY
    for attempt in range(_RMDIR_ATTEMPTS):
        try:
            os.rmdir(path)
            return None
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno != errno.EBUSY or attempt == _RMDIR_ATTEMPTS - 1:
                return exc
            time.sleep(delay)
            delay *= 2
    return None


def remove(cgroup_path: str, version: int,
           root: str | os.PathLike = DEFAULT_ROOT) -> None:
    """rmdir the cgroup in every hierarchy, child cgroups first.

    Only rmdir works on cgroupfs (the interface files go with the directory),
    and the kernel refuses it while a cgroup still has children or tasks.
    Directories already gone are fine; others that fail raise InvalidState.
    """
    _relative(cgroup_path, allow_root=False)
    failures = []
    for directory in cgroup_dirs(cgroup_path, version, root):
        for current, _subdirs, _files in os.walk(directory, topdown=False):
            error = _rmdir(current)
            if error is not None:
                failures.append(f"{current}: {error.strerror}")
    if failures:
        raise InvalidState(f"could not remove cgroup {cgroup_path}",
                           detail="; ".join(failures))
