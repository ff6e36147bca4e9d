"""Small file-system helpers: atomic writes, locks, safe joins inside a root."""
from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from pathlib import Path

from ..errors import ContextError

# Symlink chains longer than this are treated as loops, as the kernel does (MAXSYMLINKS).
_MAX_SYMLINKS = 40


RUNTIME_UMASK = 0o022


def use_runtime_umask() -> None:
    """For a process that runs the runtime (its CLI, the host agent): what the runtime makes
    (bundles, roots, layers, volumes) must be reachable by a container's mapped root, whatever
    umask the process was started with (077 made every run fail)."""
    os.umask(RUNTIME_UMASK)


def write_atomic(path: Path, data: bytes | str, mode: int = 0o644, durable: bool = True) -> None:
    """Write a file so readers see the old or the new content, never a torn one; ``durable``:
    on the disk before it replaces the old one (a crash of the host leaves one or the other)."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def locked(path: Path):
    """An exclusive advisory lock held across processes (agent, CLI, exit commands)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def secure_join(root: Path, path: str) -> Path:
    """Resolve ``path`` as if ``root`` were ``/``: symlinks and ``..`` never leave root.

    An image can hold an absolute symlink such as ``/www -> /etc``; joining
    naively would then write to the host's /etc. Each component is resolved
    by hand, and symlink targets are re-rooted.
    """
    root = Path(root)
    pending = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if candidate.is_symlink():
            hops += 1
            if hops > _MAX_SYMLINKS:
                raise ContextError(f"too many levels of symbolic links in {path!r}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            pending = [p for p in target.split("/") if p not in ("", ".")] + pending
            continue
        resolved.append(part)
    return root.joinpath(*resolved)
