"""Checks of uploaded files before anything is stored or queued.

The agent unpacks contexts with its own strict rules too; these checks exist
so the user hears about a bad file at once, on the form, naming the entry.
"""
from __future__ import annotations

import io
import posixpath
import stat
import tarfile
import zipfile
import zlib

from django.core.exceptions import ValidationError

MAX_DOCKERFILE_BYTES = 1024 * 1024
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")


def dockerfile_text(data: bytes) -> str:
    if not data.strip():
        raise ValidationError("The Dockerfile is empty.")
    if len(data) > MAX_DOCKERFILE_BYTES:
        raise ValidationError("The Dockerfile is larger than 1 MB.")
    if b"\x00" in data:
        raise ValidationError("The Dockerfile is not a text file: it contains binary data.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"The Dockerfile is not a text file: it is not UTF-8 (byte {exc.start}).") from None


def _check_name(name: str) -> None:
    if name.startswith("/"):
        raise ValidationError(f"The context archive has an entry with an absolute path: {name}")
    if ".." in name.replace("\\", "/").split("/"):
        raise ValidationError(f"The context archive has an entry that climbs out of the context with '..': {name}")


def _outside(target: str) -> bool:
    return target.startswith("/") or target == ".." or target.startswith("../")


def _check_tar_member(archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
    _check_name(member.name)
    if member.isdev() or member.isfifo():
        raise ValidationError(f"The context archive has a device or FIFO entry: {member.name}")
    if member.issym():
        target = posixpath.normpath(posixpath.join(posixpath.dirname(member.name), member.linkname))
        if member.linkname.startswith("/") or _outside(target):
            raise ValidationError(f"The context archive has a link pointing outside the context: "
                                  f"{member.name} -> {member.linkname}")
    if member.islnk() and _outside(posixpath.normpath(member.linkname)):
        raise ValidationError(f"The context archive has a hard link to a file outside the context: "
                              f"{member.name} -> {member.linkname}")
    if member.isreg():
        # Read the data too: a truncated archive fails here, not later in the build.
        with archive.extractfile(member) as data:
            while data.read(1024 * 1024):
                pass


def context_archive(name: str, data: bytes, max_bytes: int) -> None:
    if not name.lower().endswith(ARCHIVE_SUFFIXES):
        raise ValidationError("The context must be a .tar, .tar.gz or .zip archive.")
    total = 0
    try:
        if name.lower().endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    _check_name(info.filename)
                    if stat.S_ISLNK(info.external_attr >> 16):
                        raise ValidationError(f"The zip archive has a symbolic link ({info.filename}): "
                                              "use a .tar archive for contexts with links.")
                    total += info.file_size
                if archive.testzip() is not None:
                    raise zipfile.BadZipFile("a file in it is damaged")
        else:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
                for member in archive:
                    total += member.size
                    if total > max_bytes:
                        break
                    _check_tar_member(archive, member)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error):
        raise ValidationError("The context archive is damaged or incomplete: it cannot be read as a "
                              f"{'zip' if name.lower().endswith('.zip') else 'tar'} archive.") from None
    if total > max_bytes:
        raise ValidationError(f"The context archive expands to more than {max_bytes // (1024 * 1024)} MB.")
