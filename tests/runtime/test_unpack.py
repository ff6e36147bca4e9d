"""Layers from outside the store: unpacked exactly, and never out of their directory."""
from __future__ import annotations

import io
import os
import stat
import tarfile

import pytest

from runtime.errors import InvalidSpec
from runtime.image.layers import OPAQUE_XATTR
from runtime.image.unpack import unpack_layer


def layer(*members: tuple[tarfile.TarInfo, bytes | None]) -> io.BytesIO:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    out.seek(0)
    return out


def entry(name: str, kind=tarfile.REGTYPE, data: bytes | None = None, **fields) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = fields.pop("mode", 0o755 if kind == tarfile.DIRTYPE else 0o644)
    info.mtime = fields.pop("mtime", 1_600_000_000)
    for key, value in fields.items():
        setattr(info, key, value)
    if data is not None:
        info.size = len(data)
    return info, data


def test_files_links_owners_modes_times_and_xattrs_are_kept(tmp_path):
    target = tmp_path / "layer"
    target.mkdir()
    suid = entry("usr/bin/passwd", data=b"binary", mode=0o4755, uid=0, gid=0)
    owned = entry("home/app/notes", data=b"hi", uid=1000, gid=1000, mode=0o600, mtime=1_500_000_000)
    owned[0].pax_headers = {"SCHILY.xattr.user.berth": "kept"}
    unpack_layer(layer(entry("usr", tarfile.DIRTYPE), entry("usr/bin", tarfile.DIRTYPE), suid,
                       entry("usr/bin/sh", tarfile.SYMTYPE, linkname="/bin/busybox"),
                       entry("usr/bin/passwd2", tarfile.LNKTYPE, linkname="usr/bin/passwd"),
                       entry("home/app", tarfile.DIRTYPE, uid=1000, gid=1000, mtime=1_400_000_000), owned,
                       entry("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666),
                       entry("run/fifo", tarfile.FIFOTYPE)), target)
    passwd = os.lstat(target / "usr/bin/passwd")
    assert stat.S_IMODE(passwd.st_mode) == 0o4755  # setuid kept: this is an image, not an upload
    assert os.readlink(target / "usr/bin/sh") == "/bin/busybox"  # stored, not followed
    assert os.lstat(target / "usr/bin/passwd2").st_ino == passwd.st_ino
    notes = os.lstat(target / "home/app/notes")
    assert (notes.st_uid, notes.st_gid, stat.S_IMODE(notes.st_mode), notes.st_mtime) == (1000, 1000, 0o600, 1_500_000_000)
    assert os.getxattr(target / "home/app/notes", "user.berth") == b"kept"
    assert os.lstat(target / "home/app").st_mtime == 1_400_000_000  # set after its files were written
    assert os.major(os.lstat(target / "dev/null").st_rdev) == 1
    assert stat.S_ISFIFO(os.lstat(target / "run/fifo").st_mode)


def test_whiteouts_become_overlay_whiteouts(tmp_path):
    target = tmp_path / "layer"
    target.mkdir()
    unpack_layer(layer(entry("etc", tarfile.DIRTYPE), entry("etc/.wh.motd", data=b""),
                       entry("var/cache", tarfile.DIRTYPE), entry("var/cache/.wh..wh..opq", data=b"")), target)
    motd = os.lstat(target / "etc/motd")
    assert stat.S_ISCHR(motd.st_mode) and motd.st_rdev == 0
    assert os.getxattr(target / "var/cache", OPAQUE_XATTR) == b"y"
    assert sorted(os.listdir(target / "var/cache")) == []


@pytest.mark.parametrize("members, message", [
    ([entry("../escaped", data=b"x")], "leaves the layer"),
    ([entry("a/../../escaped", data=b"x")], "leaves the layer"),
    ([entry("link", tarfile.SYMTYPE, linkname="/etc"), entry("link/passwd", data=b"x")], "not a directory"),
    ([entry("up", tarfile.SYMTYPE, linkname=".."), entry("up/escaped", data=b"x")], "not a directory"),
    ([entry("hard", tarfile.LNKTYPE, linkname="../../etc/passwd")], "leaves the layer"),
    ([entry("link", tarfile.SYMTYPE, linkname="/etc"), entry("hard", tarfile.LNKTYPE, linkname="link/passwd")],
     "not a directory"),
    ([entry("hard", tarfile.LNKTYPE, linkname="missing")], "not in the layer"),
])
def test_a_member_that_tries_to_leave_the_layer_is_refused(tmp_path, members, message):
    target = tmp_path / "layer"
    target.mkdir()
    outside = sorted(os.listdir(tmp_path))
    with pytest.raises(InvalidSpec, match=message):
        unpack_layer(layer(*members), target)
    assert sorted(os.listdir(tmp_path)) == outside  # nothing written beside the layer
    assert not os.path.exists("/etc/passwd.berth-test") and not (tmp_path / "escaped").exists()


def test_an_absolute_member_path_lands_inside_the_layer(tmp_path):
    target = tmp_path / "layer"
    target.mkdir()
    unpack_layer(layer(entry("/etc/issue", data=b"inside")), target)
    assert (target / "etc/issue").read_bytes() == b"inside"
