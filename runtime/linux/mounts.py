"""mount(2) and umount2(2) through libc, and a reader of the mount table."""
from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

from ..errors import OCIRuntimeError
from .probes import kernel_version

_HAS_VOLATILE = (kernel_version() or (0, 0)) >= (5, 10)  # overlayfs's volatile option

# The process's own libc: find_library("c") would run ldconfig at every start of the CLI.
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

MNT_DETACH = 2


def mount(source: str, target: Path, fstype: str, options: str = "", flags: int = 0) -> None:
    rc = _libc.mount(source.encode(), str(target).encode(), fstype.encode(), flags,
                     options.encode() if options else None)
    if rc != 0:
        err = ctypes.get_errno()
        raise OCIRuntimeError(f"unable to mount {fstype} on {target}: {os.strerror(err)}",
                              detail=options)


def umount(target: Path) -> None:
    """Unmount, falling back to a lazy detach when something still holds the mount."""
    path = str(target).encode()
    if _libc.umount2(path, 0) == 0:
        return
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOENT):  # not a mount point (already unmounted), or no such path
        return
    if err == errno.EBUSY and _libc.umount2(path, MNT_DETACH) == 0:
        return
    raise OCIRuntimeError(f"unable to unmount {target}: {os.strerror(err)}")


def mount_points_under(prefix: Path) -> list[Path]:
    """Mount points at or below ``prefix``, deepest first (the order to unmount them)."""
    prefix_s = str(prefix).rstrip("/")
    # Field 5 is the mount point, with space, tab, newline and backslash octal-escaped: a line
    # without the prefix so escaped holds no mount below it (and is not split, 1 ms a table).
    escaped = "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in prefix_s)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if escaped not in line:
                continue
            point = line.split()[4].encode().decode("unicode_escape")
            if point == prefix_s or point.startswith(prefix_s + "/"):
                found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def mount_overlay(lowers: list[Path], upper: Path, work: Path, target: Path, volatile: bool = False) -> None:
    """Mount an overlay; ``lowers`` are listed top layer first, as overlayfs wants them.

    redirect_dir and metacopy stay off so the upper directory is a plain layer
    diff (whiteouts and opaque markers only) that can be committed as a tar.
    ``volatile``: the upper directory is never synced (where the kernel has the option, 5.10
    on), for a root thrown away at the end; unmounting it then does not wait for the host's
    whole file system to be synced.
    """
    if not lowers:
        raise OCIRuntimeError(f"unable to mount overlay on {target}: no lower layers")
    options = (f"lowerdir={':'.join(str(p) for p in lowers)},upperdir={upper},workdir={work},"
               "redirect_dir=off,metacopy=off" + (",volatile" if volatile and _HAS_VOLATILE else ""))
    if len(options) >= 4096:  # the kernel takes at most one page of options
        raise OCIRuntimeError(f"unable to mount overlay on {target}: too many layers ({len(lowers)})")
    mount("overlay", target, "overlay", options)
