"""From an OCI layer tar to the overlay form the store keeps (the reverse of layers.py).

Layers from outside (an archive, a registry) are untrusted: a member may try to
leave the target with ``..``, an absolute path or a path through a symlink it
made itself. Members are written with every parent checked to be a real
directory inside the target, links are stored as they are (a symlink's target
is read inside the container's root, never followed here), and ``.wh.``
entries become overlay whiteouts. Owners, modes (setuid included), mtimes and
extended attributes are kept: this is an image, not a user's upload.
"""
from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path, PurePosixPath

from ..errors import InvalidSpec
from .layers import OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_PREFIX

_XATTR_PAX = "SCHILY.xattr."


def _relative(name: str) -> PurePosixPath | None:
    """The member's path inside the layer; None for the root itself."""
    parts = [p for p in PurePosixPath(name.lstrip("/")).parts if p not in ("", ".")]
    if ".." in parts:
        raise InvalidSpec(f"layer member {name!r} leaves the layer with '..'")
    return PurePosixPath(*parts) if parts else None


def _parent_inside(target: Path, rel: PurePosixPath, create: bool = True) -> Path:
    """The member's parent directory, none of it a symlink; made as needed if ``create``."""
    parent = target
    for part in rel.parts[:-1]:
        parent = parent / part
        try:
            st = os.lstat(parent)
        except FileNotFoundError:
            if not create:
                raise InvalidSpec(f"{str(rel)!r} is not in the layer") from None
            os.mkdir(parent, 0o755)
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise InvalidSpec(f"layer member {str(rel)!r} goes through {part!r}, which is not a directory")
    return parent


def _clear(path: Path) -> None:
    """Make room for a member: a later entry replaces an earlier one, as tar does."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        return  # a directory entry again only updates its metadata
    os.unlink(path)


def _write_member(tar: tarfile.TarFile, info: tarfile.TarInfo, path: Path, target: Path) -> None:
    if info.isdir():
        if not os.path.isdir(path):
            os.mkdir(path, 0o700)
    elif info.isreg():
        with tar.extractfile(info) as src, open(path, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
    elif info.issym():
        os.symlink(info.linkname, path)
    elif info.islnk():
        source = _relative(info.linkname)
        if source is None:
            raise InvalidSpec(f"layer member {info.name!r} is a hard link to the layer's root")
        source_path = _parent_inside(target, source, create=False) / source.name
        if not os.path.lexists(source_path):
            raise InvalidSpec(f"layer member {info.name!r} links to {info.linkname!r}, which is not in the layer")
        os.link(source_path, path, follow_symlinks=False)
    elif info.ischr() or info.isblk():
        kind = stat.S_IFCHR if info.ischr() else stat.S_IFBLK
        os.mknod(path, kind | 0o600, os.makedev(info.devmajor, info.devminor))
    elif info.isfifo():
        os.mkfifo(path, 0o600)
    else:
        raise InvalidSpec(f"layer member {info.name!r} has an unknown type {info.type!r}")


def _set_metadata(info: tarfile.TarInfo, path: Path) -> None:
    os.lchown(path, info.uid, info.gid)
    if not info.issym():  # a symlink's own mode means nothing on Linux
        os.chmod(path, stat.S_IMODE(info.mode))
    for key, value in info.pax_headers.items():
        if key.startswith(_XATTR_PAX):
            os.setxattr(path, key[len(_XATTR_PAX):], value.encode("utf-8", "surrogateescape"),
                        follow_symlinks=False)


def _whiteout(parent: Path, name: str) -> None:
    if name == OPAQUE_MARKER:
        os.setxattr(parent, OPAQUE_XATTR, b"y")
        return
    path = parent / name[len(WHITEOUT_PREFIX):]
    _clear(path)
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))


def unpack_layer(fileobj, target: Path) -> None:
    """Unpack the uncompressed layer tar in ``fileobj`` into the empty directory ``target``."""
    dirs: list[tuple[tarfile.TarInfo, Path]] = []
    with tarfile.open(fileobj=fileobj, mode="r|") as tar:
        for info in tar:
            rel = _relative(info.name)
            if rel is None:
                continue
            parent = _parent_inside(target, rel)
            if rel.name.startswith(WHITEOUT_PREFIX):
                _whiteout(parent, rel.name)
                continue
            path = parent / rel.name
            _clear(path)
            _write_member(tar, info, path, target)
            if info.isdir():
                dirs.append((info, path))  # their mtimes last: writing inside changes them
            elif not info.islnk():  # a hard link shares its target's inode and metadata
                _set_metadata(info, path)
                os.utime(path, (info.mtime, info.mtime), follow_symlinks=False)
    for info, path in reversed(dirs):
        _set_metadata(info, path)
        os.utime(path, (info.mtime, info.mtime))
