"""Checks of uploaded files before anything is stored or queued.

The agent unpacks contexts with its own strict rules too; these checks exist
so the user hears about a bad file at once, on the form, naming the entry.
"""
from __future__ import annotations

import io
import posixpath
import tarfile
import zipfile

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


def _check_tar_member(member: tarfile.TarInfo) -> None:
    _check_name(member.name)
    if member.isdev() or member.isfifo():
        raise ValidationError(f"The context archive has a device or FIFO entry: {member.name}")
    if member.issym():
        target = posixpath.normpath(posixpath.join(posixpath.dirname(member.name), member.linkname))
        if member.linkname.startswith("/") or target == ".." or target.startswith("../"):
            raise ValidationError(f"The context archive has a link pointing outside the context: "
                                  f"{member.name} -> {member.linkname}")


def context_archive(name: str, data: bytes, max_bytes: int) -> None:
    if not name.lower().endswith(ARCHIVE_SUFFIXES):
        raise ValidationError("The context must be a .tar, .tar.gz or .zip archive.")
    total = 0
    try:
        if name.lower().endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    _check_name(info.filename)
                    total += info.file_size
        else:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
                for member in archive:
                    _check_tar_member(member)
                    total += member.size
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ValidationError(f"The context archive cannot be read: {exc}") from None
    if total > max_bytes:
        raise ValidationError(f"The context archive expands to more than {max_bytes // (1024 * 1024)} MB.")
