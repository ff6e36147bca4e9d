"""Named network namespaces (as `ip netns` makes them), without forking.

A network namespace belongs to a thread, not to a process: a short-lived
thread can unshare or enter one, and do its netlink work there, while the rest
of the process stays where it is. pyroute2's own helpers fork a copy of the
whole process instead, which in a Celery worker also copies its signal handlers.
"""
from __future__ import annotations

import ctypes
import errno
import os
import threading
from pathlib import Path

NETNS_DIR = Path("/var/run/netns")
CLONE_NEWNET = 0x40000000
MS_BIND, MS_REC, MS_SHARED = 4096, 16384, 1 << 20
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def in_thread(fn):
    """Run ``fn`` in a new thread and return its result (or raise its error)."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed back to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="berth-netns")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _shared_netns_dir() -> None:
    # As iproute2 does: the directory is a shared mount, so namespaces bound on it
    # are seen in every mount namespace, containers' monitors included.
    NETNS_DIR.mkdir(parents=True, exist_ok=True)
    if _libc.mount(b"", str(NETNS_DIR).encode(), b"none", MS_SHARED | MS_REC, None) != 0:
        _check(_libc.mount(str(NETNS_DIR).encode(), str(NETNS_DIR).encode(), b"none", MS_BIND | MS_REC, None),
               f"bind {NETNS_DIR}")
        _check(_libc.mount(b"", str(NETNS_DIR).encode(), b"none", MS_SHARED | MS_REC, None), f"share {NETNS_DIR}")


def new_path(name: str) -> Path:
    """Where the named namespace is to be bound (on the shared directory, made so first)."""
    _shared_netns_dir()
    return NETNS_DIR / name


def create(name: str) -> Path:
    """A new named network namespace (one a user namespace owns is made with it: userns.create)."""
    path = new_path(name)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0)
    os.close(fd)

    def unshare_and_bind():
        _check(_libc.unshare(CLONE_NEWNET), "unshare the network namespace")
        _check(_libc.mount(b"/proc/thread-self/ns/net", str(path).encode(), b"none", MS_BIND, None),
               f"bind the network namespace on {path}")

    try:
        in_thread(unshare_and_bind)
    except OSError:
        path.unlink(missing_ok=True)
        raise
    return path


def remove(name: str) -> None:
    path = NETNS_DIR / name
    if _libc.umount2(str(path).encode(), MNT_DETACH) != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
        _check(-1, f"unmount {path}")
    path.unlink(missing_ok=True)


def run_in(name: str, fn):
    """Run ``fn`` inside the named network namespace, in a thread of its own."""
    def enter_and_run():
        fd = os.open(NETNS_DIR / name, os.O_RDONLY)
        try:
            _check(_libc.setns(fd, CLONE_NEWNET), f"enter network namespace {name}")
        finally:
            os.close(fd)
        return fn()

    return in_thread(enter_and_run)
