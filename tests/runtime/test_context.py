"""Uploaded build contexts that try to escape are refused, each with a clear reason."""
from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from runtime.build.builder import BuildOptions, build
from runtime.build.context import extract
from runtime.errors import ContextError, DockerfileError


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


# Escapes through the Dockerfile, on a real build (directory contexts, ADD archives)

def _build(runtime_config, store, text, context, **options):
    opts = BuildOptions(memory_bytes=64 << 20, **options)
    return build(runtime_config, store, text, context, opts, lambda line: None)


def test_copy_of_a_symlink_out_of_the_context_is_refused(no_leaks, runtime_config, store, tmp_path):
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "passwd").symlink_to("/etc/passwd")
    (tmp_path / "ctx" / "up").symlink_to("../outside")
    (tmp_path / "outside").write_text("secret")
    for name in ("passwd", "up"):
        with pytest.raises(DockerfileError, match=f"line 2: COPY source '{name}' leads outside the build context"):
            _build(runtime_config, store, f"FROM busybox\nCOPY {name} /x\n", tmp_path / "ctx")


def test_symlinks_inside_a_copied_directory_stay_links(no_leaks, runtime_config, store, tmp_path):
    (tmp_path / "ctx" / "dir").mkdir(parents=True)
    (tmp_path / "ctx" / "dir" / "shadow").symlink_to("/etc/shadow")
    image = _build(runtime_config, store, "FROM busybox\nCOPY dir /x/\n", tmp_path / "ctx")
    with tarfile.open(store.blob_path(image.layers[-1])) as tar:
        link = tar.getmember("x/shadow")
    assert link.issym() and link.linkname == "/etc/shadow"  # the host's file was never read


def test_copy_of_a_fifo_in_the_context_is_refused(no_leaks, runtime_config, store, tmp_path):
    (tmp_path / "ctx" / "dir").mkdir(parents=True)
    os.mkfifo(tmp_path / "ctx" / "dir" / "pipe")
    with pytest.raises(DockerfileError, match="line 2: COPY source entry 'pipe' is a device, socket or FIFO"):
        _build(runtime_config, store, "FROM busybox\nCOPY dir /x/\n", tmp_path / "ctx")


def test_add_of_an_archive_cannot_write_outside_the_image(no_leaks, runtime_config, store, tmp_path):
    (tmp_path / "ctx").mkdir()
    marker = f"berth-escape-{os.getpid()}"
    (tmp_path / "ctx" / "evil.tar").write_bytes(tar_with(
        entry(f"../../../../tmp/{marker}"), entry(f"/tmp/{marker}-abs"),
        entry("etc", tarfile.SYMTYPE, "/etc"), entry(f"etc/{marker}")))
    image = _build(runtime_config, store, "FROM busybox\nADD evil.tar /x/\n", tmp_path / "ctx")
    assert not any(p.name.startswith(marker) for p in Path("/tmp").iterdir())
    assert not (Path("/etc") / marker).exists()
    with tarfile.open(store.blob_path(image.layers[-1])) as tar:
        names = tar.getnames()
    # ../ and / are clamped to the destination; the symlink resolves inside the image
    assert f"x/tmp/{marker}" in names and f"x/tmp/{marker}-abs" in names and f"etc/{marker}" in names


def test_add_of_an_archive_past_the_cap_is_refused(no_leaks, runtime_config, store, tmp_path):
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "big.tar").write_bytes(tar_with(entry("big", size=4096), data=b"0" * 4096))
    with pytest.raises(DockerfileError, match="line 2: ADD big.tar: the archive expands past the limit of 1024"):
        _build(runtime_config, store, "FROM busybox\nADD big.tar /x/\n", tmp_path / "ctx", add_limit_bytes=1024)
