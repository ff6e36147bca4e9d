"""A container's (or build step's) root: an overlay of image layers plus a fresh upper dir."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..linux import mounts, userns as userns_mounts


@dataclass(frozen=True)
class Rootfs:
    base: Path  # holds upper/, work/ and merged/

    @property
    def upper(self) -> Path:
        return self.base / "upper"

    @property
    def work(self) -> Path:
        return self.base / "work"

    @property
    def merged(self) -> Path:
        return self.base / "merged"

    @property
    def idmapped(self) -> Path:
        """Where the layers are mounted again, idmapped, for a container in a user namespace."""
        return self.base / "lower"


def assemble(base: Path, lowers: list[Path], userns: Path | None = None, root_uid: int = 0,
             volatile: bool = False) -> Rootfs:
    """The overlay of ``lowers`` (top first) and a fresh upper dir. With ``userns`` the
    layers are seen through idmapped mounts of themselves, and the upper dir belongs to the
    namespace's root (host uid ``root_uid``), so the container's root owns its files.
    ``volatile``: a root whose writes need never reach the disk (see mounts.mount_overlay)."""
    rootfs = Rootfs(base)
    for d in (rootfs.upper, rootfs.work, rootfs.merged):
        d.mkdir(parents=True, exist_ok=True)
    # The root of the container is the upper dir's root; keep it like an image root.
    os.chmod(rootfs.upper, 0o755)
    if userns is not None:
        lowers = _idmapped_lowers(rootfs, lowers, userns)
        for d in (rootfs.upper, rootfs.work):
            os.chown(d, root_uid, root_uid)
    mounts.mount_overlay(lowers, rootfs.upper, rootfs.work, rootfs.merged, volatile)
    return rootfs


def _idmapped_lowers(rootfs: Rootfs, lowers: list[Path], userns: Path) -> list[Path]:
    mapped = []
    for number, lower in enumerate(lowers):
        target = rootfs.idmapped / str(number)
        userns_mounts.idmapped_mount(lower, target, userns)
        mapped.append(target)
    return mapped


def disassemble(rootfs: Rootfs, keep_upper: bool = False) -> None:
    """Unmount (idempotent) and remove the work dir, and the upper dir unless asked to keep it."""
    # What is mounted here is known (no read of the mount table, 1 ms a time): the overlay,
    # then (only once it is gone) each idmapped layer. umount takes "not mounted" as done, and
    # detaches a busy mount with whatever is mounted below it.
    mounts.umount(rootfs.merged)
    if rootfs.idmapped.exists():
        for target in rootfs.idmapped.iterdir():
            mounts.umount(target)
            target.rmdir()  # rmdir, never rmtree: a mount left there would be an image layer's own files
        rootfs.idmapped.rmdir()
    shutil.rmtree(rootfs.work, ignore_errors=True)
    if not keep_upper:
        shutil.rmtree(rootfs.upper, ignore_errors=True)
