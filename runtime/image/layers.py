"""Layer diffs: from an overlayfs upper directory to an OCI layer tar.

An overlay upper directory records deletions as 0:0 character devices and
replaced directories with the ``trusted.overlay.opaque`` xattr. OCI layers
record the same as ``.wh.<name>`` and ``.wh..wh..opq`` entries.
"""
from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"


def is_overlay_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque_dir(path: Path) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _normalize(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Owners are numeric in images; host user names would leak into the digest.
    info.uname = info.gname = ""
    return info


def _whiteout_entry(arcname: str, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(arcname)
    info.mtime = int(mtime)
    info.mode = 0o644
    return info


def write_layer_tar(src: Path, out) -> None:
    """Write the overlay-form directory ``src`` as an uncompressed layer tar to ``out``.

    Entries are sorted so the same tree always gives the same digest.
    """
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, src)
            if rel_dir != "." and is_opaque_dir(Path(dirpath)):
                st = os.lstat(dirpath)
                tar.addfile(_whiteout_entry(f"{rel_dir}/{OPAQUE_MARKER}", st.st_mtime))
            for name in sorted(dirnames + filenames):
                _add_entry(tar, Path(dirpath) / name, os.path.normpath(os.path.join(rel_dir, name)))


def _add_entry(tar: tarfile.TarFile, path: Path, arcname: str) -> None:
    st = os.lstat(path)
    if is_overlay_whiteout(st):
        parent, name = os.path.split(arcname)
        tar.addfile(_whiteout_entry(os.path.join(parent, WHITEOUT_PREFIX + name), st.st_mtime))
        return
    info = tar.gettarinfo(str(path), arcname)
    info = _normalize(info)
    if info.isreg():
        with open(path, "rb") as f:
            tar.addfile(info, f)
    else:
        tar.addfile(info)
