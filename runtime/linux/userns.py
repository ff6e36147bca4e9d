"""User namespaces: root in a container is an unprivileged uid on the host.

Each container gets a user namespace of its own, made before anything else of
it and kept as a bind-mounted file (as network namespaces are), mapping its uids
0-65535 to a range of the host's (as Docker's userns-remap does). Its network
namespace is made inside it: the kernel lets a container mount sysfs only over a
network namespace its own user namespace owns, and runc then joins both by path.
The image's layers, owned by host root, are shown to it through idmapped mounts
(mount_setattr with MOUNT_ATTR_IDMAP), so overlayfs needs no copy of them.

The namespaces are made by util-linux's unshare, holding them while they are
bound to their files: setns into a user namespace is refused to a process
with more than one thread, and a fork of a CLI or an agent costs more than an exec.
"""
from __future__ import annotations

import ctypes
import json
import os
import subprocess
from pathlib import Path

from ..errors import MissingKernelFeature, OCIRuntimeError
from .files import write_atomic
from .probes import kernel_version

_MS_BIND, _MNT_DETACH = 4096, 2
_AT_FDCWD, _AT_EMPTY_PATH = -100, 0x1000
_OPEN_TREE_CLONE, _OPEN_TREE_CLOEXEC = 1, 0o2000000
_MOVE_MOUNT_F_EMPTY_PATH = 4
_MOUNT_ATTR_RDONLY, _MOUNT_ATTR_IDMAP = 0x00000001, 0x00100000
# x86_64 and aarch64 share these numbers (they came after the unified syscall table).
_SYS_OPEN_TREE, _SYS_MOVE_MOUNT, _SYS_MOUNT_SETATTR = 428, 429, 442
# overlayfs takes idmapped lower layers since Linux 5.19.
MIN_KERNEL = (5, 19)

_libc = ctypes.CDLL(None, use_errno=True)


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _fail(what: str) -> OCIRuntimeError:
    err = ctypes.get_errno()
    return OCIRuntimeError(f"unable to {what}: {os.strerror(err)}")


def _holding(command: list[str], what: str, then) -> None:
    """Run ``command`` (util-linux's unshare, making namespaces) over a shell that says when it is in them, then waits; call ``then(pid)`` meanwhile, while its
    namespaces are /proc/pid/ns/*. A small program exec'd rather than a fork of this process
    (a CLI or an agent of tens of MB, whose forked copy took 3-6 ms to get there)."""
    try:
        proc = subprocess.Popen([*command, "--", "/bin/sh", "-c", "echo; exec cat"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise OCIRuntimeError(f"unable to create {what}: {command[0]} (util-linux) is not on PATH") from None
    try:
        if proc.stdout.readline() != b"\n":
            reason = proc.stderr.read().decode(errors="replace").strip() or f"{command[0]} gave no answer"
            raise OCIRuntimeError(f"unable to create {what}: {reason}")
        then(proc.pid)
    finally:
        proc.stdin.close()  # cat ends, the namespaces' last process
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _bind(source: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(target, os.O_RDONLY | os.O_CREAT, 0o600))
    if _libc.mount(source.encode(), str(target).encode(), None, _MS_BIND, None) != 0:
        error = _fail(f"bind {source} on {target}")
        target.unlink(missing_ok=True)
        raise error


def create(path: Path, host_id: int, size: int, netns: Path | None = None) -> Path:
    """A new user namespace mapping uids and gids 0..size-1 to host_id.., kept at ``path``;
    with ``netns``, a network namespace it owns too, kept there (made by the same unshare)."""
    def mapped(pid: int) -> None:
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(f"0 {host_id} {size}\n")
        _bind(f"/proc/{pid}/ns/user", path)
        if netns is not None:
            try:
                _bind(f"/proc/{pid}/ns/net", netns)
            except OCIRuntimeError:
                remove(path)
                raise

    _holding(["unshare", "--user"] + (["--net"] if netns is not None else []), "a user namespace", mapped)
    return path


def remove(path: Path) -> None:
    """Unmount and remove a namespace file; gone already is fine."""
    _libc.umount2(str(path).encode(), _MNT_DETACH)
    path.unlink(missing_ok=True)


def idmapped_mount(source: Path, target: Path, userns: Path) -> None:
    """Mount ``source`` on ``target``, read-only, with its owners shifted into ``userns``'s
    mapping. Read-only: overlayfs only reads its lower layers, and a removal that walked
    into the mount (rm -r of a bundle) must not delete an image's own files."""
    target.mkdir(parents=True, exist_ok=True)
    tree = _libc.syscall(_SYS_OPEN_TREE, _AT_FDCWD, str(source).encode(), _OPEN_TREE_CLONE | _OPEN_TREE_CLOEXEC)
    if tree < 0:
        raise _fail(f"clone the mount of {source}")
    ns = os.open(userns, os.O_RDONLY)
    try:
        attr = _MountAttr(attr_set=_MOUNT_ATTR_IDMAP | _MOUNT_ATTR_RDONLY, userns_fd=ns)
        if _libc.syscall(_SYS_MOUNT_SETATTR, tree, b"", _AT_EMPTY_PATH, ctypes.byref(attr), ctypes.sizeof(attr)):
            raise _fail(f"idmap the mount of {source}")
        if _libc.syscall(_SYS_MOVE_MOUNT, tree, b"", _AT_FDCWD, str(target).encode(), _MOVE_MOUNT_F_EMPTY_PATH):
            raise _fail(f"mount {source} on {target}")
    finally:
        os.close(ns)
        os.close(tree)


def kernel_problem() -> str | None:
    """Why this kernel cannot run containers in user namespaces; None when it can."""
    try:
        enabled = int(Path("/proc/sys/user/max_user_namespaces").read_text())
    except (OSError, ValueError):
        return "the kernel has no user namespaces (/proc/sys/user/max_user_namespaces is missing)"
    if enabled == 0:
        return "user namespaces are turned off (user.max_user_namespaces is 0)"
    release, version = os.uname().release, kernel_version()
    if version is None:
        return f"kernel release {release!r} is not one Berth can read"
    if version < MIN_KERNEL:
        return (f"kernel {release} is older than {'.'.join(map(str, MIN_KERNEL))}, the first whose "
                "overlayfs takes idmapped layers")
    return None


def check(path_for_probe: Path, host_id: int, size: int) -> None:
    """Make a user namespace and an idmapped mount, as a container's start would; raise
    MissingKernelFeature with the reason where this host refuses either."""
    problem = kernel_problem()
    if problem:
        raise MissingKernelFeature(problem)
    source, target = path_for_probe / "source", path_for_probe / "idmapped"
    source.mkdir(parents=True, exist_ok=True)
    try:
        ns = create(path_for_probe / "userns", host_id, size)
        try:
            idmapped_mount(source, target, ns)
            shifted = os.stat(target).st_uid
            _libc.umount2(str(target).encode(), _MNT_DETACH)
        finally:
            remove(ns)
    except OCIRuntimeError as exc:
        raise MissingKernelFeature(f"user namespaces cannot be used here: {exc.message}") from None
    finally:
        for leftover in (target, source):
            if leftover.exists():
                leftover.rmdir()
        path_for_probe.rmdir()
    if shifted != host_id:  # the probe's directory is host root's
        raise MissingKernelFeature(f"an idmapped mount showed host root as uid {shifted}, not {host_id}")


def problem(run_dir: Path, host_id: int, size: int, fresh: bool = False) -> str | None:
    """Why containers cannot have user namespaces on this host (None: they can), from a real
    probe (check). Its outcome is kept in ``run_dir`` for this kernel, so only the agent's
    doctor (``fresh``) and the first start after a boot pay for it."""
    cache = Path(run_dir) / "userns-probe.json"
    if not fresh:
        try:
            kept = json.loads(cache.read_text())
            if kept["kernel"] == os.uname().release:
                return kept["problem"]
        except (OSError, ValueError, KeyError):
            pass
    try:
        check(Path(run_dir) / f"userns-probe-{os.getpid()}", host_id, size)
        found = None
    except MissingKernelFeature as exc:
        found = exc.message
    write_atomic(cache, json.dumps({"kernel": os.uname().release, "problem": found}))
    return found
