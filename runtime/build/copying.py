"""Putting COPY and ADD sources into a step's root, with Docker's rules.

A source directory gives its contents; a top-level symlink is followed, links
inside a tree are copied as links; hard links within one instruction stay hard
links; modes and mtimes are kept, owners become the ``--chown`` identity (root
by default), and so do the directories the instruction has to create.
ADD unpacks a local tar archive (plain, gzip, bzip2 or xz) into the destination,
keeping the archive's owners and modes. Every path is resolved inside the root,
so no symlink in the image can send a write to the host.
"""
from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DockerfileError
from ..linux.files import secure_join
from .ignore import IgnoreRules

_SETID = stat.S_ISUID | stat.S_ISGID


@dataclass(frozen=True)
class Source:
    """A resolved COPY source; ``rel`` is its path in the context, for .dockerignore."""

    path: Path
    rel: str = ""
    rules: IgnoreRules = field(default_factory=IgnoreRules)
    fetched: bool = False  # from ADD's URL: never unpacked, as in Docker


@dataclass(frozen=True)
class Placement:
    uid: int = 0
    gid: int = 0
    mode: int | None = None  # --chmod, for every file and directory copied
    # docker build drops setuid and setgid bits from the build context's files
    # (not from COPY --from), so a context's files lose them here too.
    strip_setid: bool = False
    extract: bool = False  # ADD: a local tar archive is unpacked,
    archive_limit: int = 0  # up to this many bytes
    line: int | None = None


def place_sources(root: Path, sources: list[Source], dest: str, workdir: str, how: Placement) -> None:
    target = posixpath.join(workdir, dest)
    into_dir = (dest.endswith(("/", "/.")) or dest == "." or len(sources) > 1
                or secure_join(root, target).is_dir())
    links: dict[tuple[int, int], Path] = {}
    for source in sources:
        if source.path.is_dir():
            _copy_tree(root, source, target, how, links)
        elif how.extract and not source.fetched and _is_archive(source.path):
            _extract(root, source.path, target, how)
        else:
            path = posixpath.join(target, source.path.name) if into_dir else target
            _make_parents(root, posixpath.dirname(path), how)
            _place(source.path, secure_join(root, path), how, links, follow=True)


def place_dirs(root: Path, path: str) -> None:
    """Make ``path``'s missing directories, as WORKDIR does: 0755, owned by root."""
    _make_parents(root, path, Placement())


def _make_parents(root: Path, path: str, how: Placement) -> Path:
    """``path``'s missing directories, made 0755 and owned like what is copied."""
    done = ""
    for part in [p for p in path.split("/") if p]:
        done = f"{done}/{part}"
        here = secure_join(root, done)
        if not here.is_dir():
            if os.path.lexists(here):
                here.unlink()  # a file in the way of the destination is replaced
            here.mkdir(mode=0o755)
            os.chown(here, how.uid, how.gid)
    return secure_join(root, path)


def _copy_tree(root: Path, source: Source, target: str, how: Placement, links: dict) -> None:
    top = _make_parents(root, target, how)
    dirs: list[tuple[Path, os.stat_result]] = []
    for dirpath, dirnames, filenames in os.walk(source.path):
        here = Path(dirpath)
        rel_dir = os.path.relpath(here, source.path)
        dest_dir = top if rel_dir == "." else secure_join(root, posixpath.join(target, rel_dir))
        for name in sorted(dirnames + filenames):
            rel = os.path.normpath(os.path.join(source.rel, rel_dir, name))
            path = here / name
            if source.rules.excluded(rel):
                if name in dirnames and not path.is_symlink() and source.rules.has_exceptions:
                    continue  # walked for exceptions; made only if something in it is kept
                if name in dirnames:
                    dirnames.remove(name)
                continue
            _make_kept_parents(top, dest_dir, how)
            _place(path, dest_dir / name, how, links)
            if name in dirnames and not path.is_symlink():
                dirs.append((dest_dir / name, os.lstat(path)))
    for made, st in reversed(dirs):  # last, since filling a directory changes its mtime
        os.utime(made, ns=(st.st_atime_ns, st.st_mtime_ns))


def _make_kept_parents(top: Path, dest_dir: Path, how: Placement) -> None:
    """An excluded directory that holds a kept exception is made on the way to it."""
    if not dest_dir.is_dir():
        _make_kept_parents(top, dest_dir.parent, how)
        dest_dir.mkdir(mode=0o755)
        os.chown(dest_dir, how.uid, how.gid)


def _clear_way(dest: Path, is_dir: bool) -> None:
    if dest.is_dir() and not dest.is_symlink():
        if not is_dir:
            shutil.rmtree(dest)
    elif os.path.lexists(dest):
        dest.unlink()


def _place(source: Path, dest: Path, how: Placement, links: dict, follow: bool = False) -> None:
    """One entry; ``follow`` for a top-level source, whose symlink Docker follows."""
    st = os.stat(source) if follow else os.lstat(source)
    kind = stat.S_IFMT(st.st_mode)
    _clear_way(dest, kind == stat.S_IFDIR)
    if kind == stat.S_IFLNK:
        os.symlink(os.readlink(source), dest)
    elif kind == stat.S_IFDIR:
        dest.mkdir(exist_ok=True)
    elif kind == stat.S_IFREG:
        _place_file(source, dest, st, links)
    else:
        raise DockerfileError(f"COPY source entry {source.name!r} is a device, socket or FIFO, which "
                              "an image may not get from the build", line=how.line)
    _set_metadata(dest, st, kind, how)


def _place_file(source: Path, dest: Path, st: os.stat_result, links: dict) -> None:
    key = (st.st_dev, st.st_ino)
    if st.st_nlink > 1 and key in links:
        os.link(links[key], dest)
        return
    shutil.copyfile(source, dest)
    links[key] = dest


def _set_metadata(dest: Path, st: os.stat_result, kind: int, how: Placement) -> None:
    os.chown(dest, how.uid, how.gid, follow_symlinks=False)
    if kind != stat.S_IFLNK:
        mode = how.mode if how.mode is not None else stat.S_IMODE(st.st_mode)
        os.chmod(dest, mode & ~_SETID if how.strip_setid else mode)  # after chown, which clears setid bits
    os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


# ---------------------------------------------------------------- ADD of an archive

def _is_archive(path: Path) -> bool:
    try:
        with tarfile.open(path, "r:*") as tar:
            return tar.next() is not None
    except (tarfile.TarError, EOFError, OSError):
        return False


def _extract(root: Path, archive: Path, target: str, how: Placement) -> None:
    _make_parents(root, target, how)
    total = 0
    dirs: list[tuple[Path, tarfile.TarInfo]] = []
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            total += member.size
            if total > how.archive_limit:
                raise DockerfileError(f"ADD {archive.name}: the archive expands past the limit of "
                                      f"{how.archive_limit} bytes", line=how.line)
            name = posixpath.normpath("/" + member.name).lstrip("/")
            if not name:
                continue
            # Resolved in the image's root: a symlink from the archive leads within the image.
            _make_parents(root, posixpath.join(target, posixpath.dirname(name)), Placement())
            dest = secure_join(root, posixpath.join(target, name))
            _extract_member(tar, member, (root, target), dest, archive, how)
            if member.isdir():
                dirs.append((dest, member))
    for made, member in reversed(dirs):
        os.utime(made, (member.mtime, member.mtime))


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, where: tuple[Path, str], dest: Path,
                    archive: Path, how: Placement) -> None:
    _clear_way(dest, member.isdir())
    if member.isdir():
        dest.mkdir(exist_ok=True)
    elif member.issym():
        os.symlink(member.linkname, dest)
    elif member.islnk():
        root, target = where
        os.link(secure_join(root, posixpath.join(target, posixpath.normpath("/" + member.linkname).lstrip("/"))),
                dest)
        return  # the link shares its target's inode and metadata
    elif member.isreg():
        with tar.extractfile(member) as data, open(dest, "wb") as out:
            shutil.copyfileobj(data, out)
    else:
        raise DockerfileError(f"ADD {archive.name}: entry {member.name!r} is a device or FIFO, which Berth does "
                              "not create in images", line=how.line)
    os.chown(dest, member.uid, member.gid, follow_symlinks=False)
    if not member.issym():
        os.chmod(dest, member.mode & 0o7777)
    os.utime(dest, (member.mtime, member.mtime), follow_symlinks=False)
