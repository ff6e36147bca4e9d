"""The I/O side of cgroup stats: find a cgroup's directories, read, remove.

``cgroup_path`` is always an absolute cgroup path such as ``"/berth/abc123"``,
the same string in every v1 hierarchy and in the v2 tree.
"""
from __future__ import annotations

import errno
import os
import time
from pathlib import Path

from runtime.errors import InvalidSpec, InvalidState, NotFound

TYPE_CHECKING = False  # typing's own costs a container's start 3 ms: only checkers import what it guards
if TYPE_CHECKING:
    from runtime.cgroups.stats import CgroupStats

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

# Limits, which change only on an update: a CgroupReader reads them every
# _LIMITS_EVERY reads, not every time (a quarter of the files, a third of the cost).
LIMIT_FILES = frozenset({"cpu.cfs_quota_us", "cpu.cfs_period_us", "memory.limit_in_bytes", "pids.max",
                         "cpu.max", "memory.max"})
_LIMITS_EVERY = 10

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


def controller_root(controller: str, version: int, root: str | os.PathLike = DEFAULT_ROOT) -> Path | None:
    """The top directory of a controller's files: its v1 hierarchy, or the v2 root."""
    return Path(root) if version == 2 else _controller_mount(Path(root), controller)


class CgroupReader:
    """Reads one cgroup's stats, again and again, cheaply: the files are found and
    opened once, and each read is one pread from offset 0, which makes kernfs
    generate the file afresh (a sampler reads thousands a second). ``close()``
    gives the descriptors back; a reader that raised NotFound has closed them.

    A file missing at the first read is one this kernel or controller does not
    offer and is skipped from then on; a directory vanishing later, or a read
    racing the rmdir (ENODEV from kernfs), means the cgroup is gone: NotFound.
    """

    def __init__(self, cgroup_path: str, version: int, root: str | os.PathLike = DEFAULT_ROOT):
        # Here, not at the top: starting and removing containers needs no parser of stats.
        from runtime.cgroups.stats import parse_v1, parse_v2
        rel, base = _relative(cgroup_path), Path(root)
        if version == 2:
            directory = base / rel
            if not directory.is_dir():
                raise NotFound(f"cgroup {cgroup_path} not found", detail=str(directory))
            dirs = [(directory, V2_FILES)]
            self._parse = parse_v2
        elif version == 1:
            # Find every directory first: a controller missing from the start is just
            # not mounted, but one vanishing later means the container went away.
            dirs = []
            for controller, names in V1_FILES.items():
                mount = _controller_mount(base, controller)
                if mount is not None and (mount / rel).is_dir():
                    dirs.append((mount / rel, names))
            if not dirs:
                raise NotFound(f"cgroup {cgroup_path} not found in any v1 hierarchy", detail=str(base))
            self._parse = parse_v1
        else:
            raise ValueError(f"unknown cgroup version {version}")
        self._files = [(name, str(directory / name), str(directory)) for directory, names in dirs for name in names]
        self._first = True
        self._reads = 0
        self._limits: dict[str, str] = {}
        self._fds: dict[str, int] = {}

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __enter__(self) -> "CgroupReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def read(self) -> CgroupStats:
        try:
            return self._read()
        except NotFound:
            self.close()
            raise

    def _read(self) -> CgroupStats:
        with_limits = self._reads % _LIMITS_EVERY == 0
        self._reads += 1
        files: dict[str, str] = {} if with_limits else dict(self._limits)
        for name, path, directory in self._files:
            if with_limits or name not in LIMIT_FILES:
                text = self._read_file(path, directory)
                if text is not None:
                    files[name] = text
        if self._first:  # what the first read found missing is not offered here: not asked again
            self._files = [entry for entry in self._files if entry[0] in files]
            self._first = False
        if with_limits:
            self._limits = {name: text for name, text in files.items() if name in LIMIT_FILES}
        return self._parse(files)

    def _read_file(self, path: str, directory: str) -> str | None:
        try:
            fd = self._fds.get(path)
            if fd is None:
                fd = self._fds[path] = os.open(path, os.O_RDONLY)
            return os.pread(fd, 1 << 16, 0).decode("utf-8", "replace")
        except FileNotFoundError:
            if not os.path.isdir(directory):
                raise NotFound(f"cgroup directory vanished: {directory}") from None
            if not self._first:
                raise NotFound(f"cgroup file vanished: {path}") from None
            return None
        except OSError as exc:
            if exc.errno == errno.ENODEV:
                raise NotFound(f"cgroup removed while reading {path}") from None
            raise


def read_stats(cgroup_path: str, version: int,
               root: str | os.PathLike = DEFAULT_ROOT) -> CgroupStats:
    """Read and parse one cgroup's stats; NotFound if it does not exist."""
    with CgroupReader(cgroup_path, version, root) as reader:
        return reader.read()


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
