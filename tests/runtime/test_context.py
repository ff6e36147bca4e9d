"""Uploaded build contexts that try to escape are refused, each with a clear reason."""
from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from runtime.build.context import extract
from runtime.errors import ContextError


def tar_with(*members: tarfile.TarInfo, data: bytes = b"x") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for m in members:
            tar.addfile(m, io.BytesIO(data) if m.isreg() else None)
    return buf.getvalue()


def entry(name, kind=tarfile.REGTYPE, link="", size=1):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = size if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize("member, message", [
    (entry("../evil"), "outside the context with '..'"),
    (entry("a/../../evil"), "outside the context with '..'"),
    (entry("/etc/evil"), "absolute path"),
    (entry("link", tarfile.SYMTYPE, "/etc/passwd"), "absolute path"),
    (entry("dir/link", tarfile.SYMTYPE, "../../outside"), "pointing outside the context"),
    (entry("null", tarfile.CHRTYPE), "device or FIFO"),
    (entry("fifo", tarfile.FIFOTYPE), "device or FIFO"),
])
def test_escaping_tar_entries_are_refused(tmp_path, member, message):
    with pytest.raises(ContextError, match=message):
        extract(tar_with(member), tmp_path / "ctx")
    assert not any((tmp_path / "ctx").iterdir()) if (tmp_path / "ctx").exists() else True


def test_archive_expanding_past_the_cap_is_refused(tmp_path):
    data = tar_with(entry("big", size=4096), data=b"0" * 4096)
    with pytest.raises(ContextError, match="expands past the limit"):
        extract(data, tmp_path / "ctx", max_bytes=1024)


def test_zip_with_dotdot_is_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../evil", "x")
    with pytest.raises(ContextError, match="'..'"):
        extract(buf.getvalue(), tmp_path / "ctx")


def test_not_an_archive_is_named(tmp_path):
    with pytest.raises(ContextError, match="not a .tar, .tar.gz or .zip"):
        extract(b"just some text, not an archive" * 20, tmp_path / "ctx")


def test_good_tar_gz_and_zip_unpack(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = entry("site/index.html", size=5)
        tar.addfile(info, io.BytesIO(b"hello"))
    extract(buf.getvalue(), tmp_path / "a")
    assert (tmp_path / "a" / "site" / "index.html").read_text() == "hello"
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("site/index.html", "hello")
    extract(zbuf.getvalue(), tmp_path / "b")
    assert (tmp_path / "b" / "site" / "index.html").read_text() == "hello"


def test_symlink_chain_that_climbs_out_is_refused_cleanly(tmp_path):
    data = tar_with(entry("l", tarfile.SYMTYPE, "."), entry("m", tarfile.SYMTYPE, "l/.."),
                    entry("m/escaped"))
    with pytest.raises(ContextError, match="outside the context"):
        extract(data, tmp_path / "ctx")
    assert not (tmp_path / "escaped").exists()


def test_truncated_tar_is_named_damaged(tmp_path):
    whole = tar_with(entry("big", size=5000), data=b"y" * 5000)
    with pytest.raises(ContextError, match="damaged or incomplete"):
        extract(whole[:3000], tmp_path / "ctx")


def test_hard_links_inside_the_context_are_kept(tmp_path):
    link = entry("copy", tarfile.LNKTYPE, "orig")
    extract(tar_with(entry("orig", size=1), link), tmp_path / "ctx")
    assert (tmp_path / "ctx" / "copy").stat().st_ino == (tmp_path / "ctx" / "orig").stat().st_ino


def test_hard_link_out_of_the_context_is_refused(tmp_path):
    with pytest.raises(ContextError, match="'..'"):
        extract(tar_with(entry("copy", tarfile.LNKTYPE, "../../etc/shadow")), tmp_path / "ctx")
