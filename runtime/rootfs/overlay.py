"""A container's (or build step's) root: an overlay of image layers plus a fresh upper dir."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..linux import mounts


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


def assemble(base: Path, lowers: list[Path]) -> Rootfs:
    rootfs = Rootfs(base)
    for d in (rootfs.upper, rootfs.work, rootfs.merged):
        d.mkdir(parents=True, exist_ok=True)
    # The root of the container is the upper dir's root; keep it like an image root.
    os.chmod(rootfs.upper, 0o755)
    mounts.mount_overlay(lowers, rootfs.upper, rootfs.work, rootfs.merged)
    return rootfs


def disassemble(rootfs: Rootfs, keep_upper: bool = False) -> None:
    """Unmount (idempotent) and remove the work dir, and the upper dir unless asked to keep it."""
    for point in mounts.mount_points_under(rootfs.merged):
        mounts.umount(point)
    shutil.rmtree(rootfs.work, ignore_errors=True)
    if not keep_upper:
        shutil.rmtree(rootfs.upper, ignore_errors=True)
