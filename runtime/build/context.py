"""Build contexts: unpacking an uploaded archive safely, and finding COPY sources in it.

An archive is untrusted input. Nothing in it may land outside the target:
no absolute names, no ``..``, no device nodes or FIFOs, no symlink or
hardlink that points out of the context, and no more bytes than the cap.
"""
from __future__ import annotations

import glob
import io
import os
import posixpath
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path

from ..errors import ContextError, DockerfileError
from ..linux.files import secure_join
from .copying import Source
from .ignore import IgnoreRules

MAX_CONTEXT_BYTES = 512 * 1024 * 1024


def _clean_name(name: str) -> str:
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ContextError(f"archive entry {name!r} has an absolute path")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ContextError(f"archive entry {name!r} points outside the context with '..'")
    return "/".join(parts)


def _check_link(name: str, target: str) -> None:
    if target.startswith("/"):
        raise ContextError(f"archive entry {name!r} is a link to the absolute path {target!r}")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    if joined == ".." or joined.startswith("../"):
        raise ContextError(f"archive entry {name!r} is a link pointing outside the context ({target!r})")


def archive_kind(data: bytes) -> str:
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        return "zip"
    if data[:2] == b"\x1f\x8b":
        return "tar.gz"
    if len(data) >= 262 and data[257:262] == b"ustar":
        return "tar"
    raise ContextError("the context is not a .tar, .tar.gz or .zip archive")


def extract(data: bytes, dest: Path, max_bytes: int = MAX_CONTEXT_BYTES) -> None:
    kind = archive_kind(data)
    dest.mkdir(parents=True, exist_ok=True)
    if kind == "zip":
        _extract_zip(data, dest, max_bytes)
    else:
        _extract_tar(data, dest, max_bytes)


def _extract_tar(data: bytes, dest: Path, max_bytes: int) -> None:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            _extract_members(tar, dest, max_bytes)
    except tarfile.FilterError as exc:
        raise ContextError(f"archive entry {exc.tarinfo.name!r} would land outside the context") from None
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise ContextError(f"the context archive is damaged or incomplete ({exc})") from None


def _extract_members(tar: tarfile.TarFile, dest: Path, max_bytes: int) -> None:
    total = 0
    members = []
    for member in tar:
        name = _clean_name(member.name)
        if member.isdev() or member.isfifo():
            raise ContextError(f"archive entry {member.name!r} is a device or FIFO, which a context may not hold")
        if member.issym():
            _check_link(name, member.linkname)
        elif member.islnk():
            _clean_name(member.linkname)  # a hard link names another entry of the archive
        total += member.size
        if total > max_bytes:
            raise ContextError(f"the context expands past the limit of {max_bytes // (1024 * 1024)} MB")
        if name:
            member.name = name
            members.append(member)
    # tarfile's "data" filter re-checks every path and link and drops setuid bits.
    tar.extractall(dest, members=members, filter="data")


def _extract_zip(data: bytes, dest: Path, max_bytes: int) -> None:
    total = 0
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ContextError(f"the context archive cannot be read: {exc}") from None
    with archive:
        for info in archive.infolist():
            name = _clean_name(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ContextError(f"archive entry {info.filename!r} is a symlink; use a tar archive for links")
            total += info.file_size
            if total > max_bytes:
                raise ContextError(f"the context expands past the limit of {max_bytes // (1024 * 1024)} MB")
            if not name:
                continue
            target = dest / name
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as src, open(target, "wb") as out:
                out.write(src.read())
            if mode & 0o777:
                os.chmod(target, mode & 0o777)


def resolve_sources(context: Path, patterns: list[str], line: int | None) -> list[Source]:
    """COPY sources in the build context: each must exist, stay inside and not be left out
    by .dockerignore; a wildcard matches hidden files too, as Go's filepath.Match does."""
    root = context.resolve()
    rules = IgnoreRules.of_context(root)
    found: list[Source] = []
    for pattern in patterns:
        if posixpath.normpath(pattern).startswith(".."):
            raise DockerfileError(f"COPY source {pattern!r} is outside the build context", line=line)
        kept = [m for m in _matches(root, pattern) if os.path.lexists(root / m) and not rules.excluded(m)]
        if not kept:
            raise DockerfileError(f"COPY source {pattern!r} is not in the build context "
                                  "(or .dockerignore leaves it out)", line=line)
        for match in kept:
            real = (root / match).resolve()
            if real != root and root not in real.parents:
                raise DockerfileError(f"COPY source {pattern!r} leads outside the build context", line=line)
            found.append(Source(root / match, match, rules))
    return found


def resolve_in_image(root: Path, patterns: list[str], line: int | None, where: str) -> list[Source]:
    """COPY --from sources in another stage's or image's root, symlinks resolved inside it."""
    found: list[Source] = []
    for pattern in patterns:
        matches = [m for m in _matches(root, pattern) if os.path.lexists(secure_join(root, m))]
        if not matches:
            raise DockerfileError(f"COPY --from={where}: {pattern!r} is not in that image", line=line)
        found += [Source(secure_join(root, m)) for m in matches]
    return found


def _matches(root: Path, pattern: str) -> list[str]:
    """Paths relative to ``root`` that ``pattern`` names ("." for the root itself)."""
    rel = posixpath.normpath("/" + pattern).lstrip("/") or "."
    if not glob.has_magic(rel):
        return [rel]
    return sorted(glob.glob(rel, root_dir=root, include_hidden=True))
