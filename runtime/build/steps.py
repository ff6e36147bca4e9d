"""The two build steps that change files: RUN (a real runc container) and COPY.

Both work on an overlay of the parent layers and commit its upper directory
as the new layer, so a step's diff is exactly what the step changed.
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..cgroups import paths as cgroups
from ..config import RuntimeConfig
from ..container import etcfiles, spec as specs
from ..container.runc import Runc
from ..errors import DockerfileError
from ..image.layers import is_opaque_dir
from ..image.store import ImageStore
from ..linux.files import secure_join
from ..network import provider
from ..rootfs import overlay
from .leftovers import STEP_PREFIX


@dataclass(frozen=True)
class StepLimits:
    memory_bytes: int
    cpus: float | None
    pids_limit: int
    network: str = "bridge"
    timeout_seconds: float = 3600


@dataclass(frozen=True)
class RunCommand:
    args: tuple[str, ...]
    env: tuple[str, ...]
    workdir: str
    user: str
    line: int


def _empty(path: Path) -> bool:
    if path.is_symlink():
        return False
    if path.is_dir():
        return not any(path.iterdir())
    return path.is_file() and path.stat().st_size == 0


def _in_lowers(lowers: list[Path], rel: str) -> bool:
    return any(os.path.lexists(lower / rel) for lower in lowers)


def prune_mountpoints(upper: Path, lowers: list[Path], destinations: list[str]) -> None:
    """Drop the empty files and dirs runc made only to mount over; they are not the step's work."""
    for dest in sorted(destinations, key=lambda d: d.count("/"), reverse=True):
        parts = dest.strip("/").split("/")
        for depth in range(len(parts), 0, -1):
            rel = "/".join(parts[:depth])
            path = upper / rel
            if not os.path.lexists(path) or not _empty(path):
                break
            if path.is_dir() and _in_lowers(lowers, rel):
                if is_opaque_dir(path):
                    break  # the step replaced the directory
                path.rmdir()
            elif not _in_lowers(lowers, rel):
                path.rmdir() if path.is_dir() else path.unlink()
            else:
                break


class StepRunner:
    def __init__(self, config: RuntimeConfig, store: ImageStore, limits: StepLimits):
        self.config = config
        self.store = store
        self.limits = limits
        self.runc = Runc(config)
        self.deadline = time.monotonic() + limits.timeout_seconds

    def _rootfs(self, layers: list[str]) -> overlay.Rootfs:
        base = self.store.new_work_dir("step")
        return overlay.assemble(base, self.store.lower_dirs(layers))

    def _finish(self, rootfs: overlay.Rootfs) -> tuple[str, int]:
        overlay.disassemble(rootfs, keep_upper=True)
        try:
            return self.store.commit_layer(rootfs.upper)
        finally:
            shutil.rmtree(rootfs.base, ignore_errors=True)

    def _abandon(self, rootfs: overlay.Rootfs) -> None:
        overlay.disassemble(rootfs)
        shutil.rmtree(rootfs.base, ignore_errors=True)

    # RUN

    def run(self, layers: list[str], cmd: RunCommand, on_output) -> tuple[str, int]:
        rootfs = self._rootfs(layers)
        try:
            secure_join(rootfs.merged, cmd.workdir).mkdir(parents=True, exist_ok=True)
            uid, gid = etcfiles.resolve_user(rootfs.merged, cmd.user)
            code, destinations = self._run_container(rootfs, cmd, uid, gid, on_output)
        except BaseException:
            self._abandon(rootfs)
            raise
        if code is None:
            self._abandon(rootfs)
            raise DockerfileError(f"the build ran past its time limit of {self.limits.timeout_seconds:g} s; "
                                  "the step was stopped", line=cmd.line)
        if code != 0:
            self._abandon(rootfs)
            raise DockerfileError(f"the command '{' '.join(cmd.args)}' returned a non-zero code: {code}",
                                  line=cmd.line)
        overlay.disassemble(rootfs, keep_upper=True)
        prune_mountpoints(rootfs.upper, self.store.lower_dirs(layers), destinations)
        return self._finish(rootfs)

    def _run_container(self, rootfs, cmd: RunCommand, uid: int, gid: int, on_output) -> tuple[int, list[str]]:
        cid = STEP_PREFIX + uuid.uuid4().hex[:20]
        net = provider.setup(self.config, cid, self.limits.network, [])
        try:
            binds = etcfiles.write_etc_files(rootfs.base, cid[:12], net.ip, list(self.config.dns_servers))
            spec = specs.make_spec(specs.ContainerSpec(
                rootfs=str(rootfs.merged), hostname=cid[6:18], cgroup_path=f"{self.config.cgroup_parent}/{cid}",
                process=specs.ProcessSpec(args=cmd.args, env=cmd.env, cwd=cmd.workdir, uid=uid, gid=gid),
                memory_bytes=self.limits.memory_bytes, pids_limit=self.limits.pids_limit,
                cpus=self.limits.cpus, netns_path=net.netns_path, binds=binds))
            (rootfs.base / "config.json").write_text(json.dumps(spec))
            code = self.runc.run_foreground(cid, rootfs.base, on_output,
                                            timeout=max(0.1, self.deadline - time.monotonic()))
        finally:
            provider.teardown(self.config, cid, net)
            cgroups.remove(f"{self.config.cgroup_parent}/{cid}", cgroups.detect_version())
        return code, [m["destination"] for m in spec["mounts"]]

    # COPY

    def copy(self, layers: list[str], sources: list[Path], dest: str, workdir: str,
             owner: str | None, line: int) -> tuple[str, int]:
        rootfs = self._rootfs(layers)
        try:
            uid, gid = etcfiles.resolve_user(rootfs.merged, owner) if owner else (0, 0)
            target = dest if dest.startswith("/") else os.path.join(workdir, dest)
            # Into the directory when the destination says so or already is one ("COPY app.py ." too).
            as_dir = (dest.endswith(("/", "/.")) or dest == "." or len(sources) > 1
                      or any(s.is_dir() for s in sources) or secure_join(rootfs.merged, target).is_dir())
            for source in sources:
                _copy_one(rootfs.merged, source, target, as_dir, uid, gid)
        except BaseException:
            self._abandon(rootfs)
            raise
        return self._finish(rootfs)


def _copy_one(root: Path, source: Path, target: str, as_dir: bool, uid: int, gid: int) -> None:
    if source.is_dir() and not source.is_symlink():
        dest_dir = secure_join(root, target)
        _mkdirs(dest_dir, uid, gid)
        for dirpath, dirnames, filenames in os.walk(source):
            rel = os.path.relpath(dirpath, source)
            here = secure_join(root, os.path.join(target, rel))
            for name in sorted(dirnames):
                _place(Path(dirpath) / name, here / name, uid, gid)
            for name in sorted(filenames):
                _place(Path(dirpath) / name, here / name, uid, gid)
        return
    path = os.path.join(target, source.name) if as_dir else target
    final = secure_join(root, path)
    _mkdirs(final.parent, 0, 0)
    _place(source, final, uid, gid)


def _mkdirs(path: Path, uid: int, gid: int) -> None:
    if not path.exists():
        _mkdirs(path.parent, uid, gid)
        path.mkdir(mode=0o755)
        os.chown(path, uid, gid)


def _place(source: Path, dest: Path, uid: int, gid: int) -> None:
    if dest.is_dir() and not dest.is_symlink() and not source.is_dir():
        shutil.rmtree(dest)
    elif os.path.lexists(dest) and not dest.is_dir():
        dest.unlink()
    if source.is_symlink():
        os.symlink(os.readlink(source), dest)
    elif source.is_dir():
        dest.mkdir(exist_ok=True)
        shutil.copystat(source, dest)
    else:
        shutil.copy2(source, dest)
    os.chown(dest, uid, gid, follow_symlinks=False)
