"""The two build steps that change files: RUN (a real runc container) and COPY.

Both work on an overlay of the parent layers and commit its upper directory
as the new layer, so a step's diff is exactly what the step changed.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..cgroups import paths as cgroups
from ..config import RuntimeConfig
from ..container import etcfiles, spec as specs
from ..container.runc import Runc
from ..errors import Cancelled, DockerfileError, InvalidSpec
from ..image.layers import is_opaque_dir
from ..image.store import ImageStore
from ..linux import userns
from ..linux.files import secure_join
from ..network import provider
from ..rootfs import overlay
from .context import resolve_in_image
from .copying import Placement, Source, place_dirs, place_sources
from .leftovers import STEP_PREFIX
from .owners import to_container_ids


@dataclass(frozen=True)
class StepLimits:
    memory_bytes: int
    cpus: float | None
    pids_limit: int
    network: str = "bridge"
    timeout_seconds: float = 3600
    cancel: threading.Event | None = field(default=None, compare=False)  # set: stop the build now


@dataclass(frozen=True)
class CopyRequest:
    """COPY or ADD: ``sources`` from the build context, or ``patterns`` in ``from_layers``
    (another stage's or an image's layers, for ``--from``)."""

    dest: str
    workdir: str
    line: int
    owner: str | None = None
    mode: int | None = None
    extract: bool = False
    archive_limit: int = 1024 ** 3
    sources: tuple[Source, ...] = ()
    patterns: tuple[str, ...] = ()
    from_layers: tuple[str, ...] | None = None
    from_name: str = ""


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
        self._userns_ids: tuple[int, int] | None | bool = False  # False: not asked yet

    def userns_ids(self) -> tuple[int, int] | None:
        """(first host id, count) that RUN steps' user namespaces map, as containers' do;
        None where containers get none (turned off, or refused by this host)."""
        if self._userns_ids is False:
            from ..container.manager import userns_problem  # the one probe, kept for this kernel
            self._userns_ids = None if userns_problem(self.config) else self.config.userns_range
        return self._userns_ids

    def _rootfs(self, layers: list[str], ns: Path | None = None, root_uid: int = 0) -> overlay.Rootfs:
        base = self.store.new_work_dir("step")
        lowers = self.store.lower_dirs(layers)
        if not lowers:  # FROM scratch: overlayfs needs a lower directory, so an empty one
            (base / "scratch").mkdir()
            lowers = [base / "scratch"]
        return overlay.assemble(base, lowers, ns, root_uid)

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
        """The step's command in a container on its parent layers (in a user namespace where
        containers get one: its root is not host root); its changes as a new layer."""
        cid = STEP_PREFIX + uuid.uuid4().hex[:20]
        ids = self.userns_ids()
        netns_path = provider.namespace_path(self.config, cid, self.limits.network) if ids else None
        ns = userns.create(self.config.run_dir / "userns" / cid, *ids, netns=netns_path) if ids else None
        try:
            return self._run_in(cid, ns, ids, layers, cmd, on_output)
        finally:
            if ns is not None:
                userns.remove(ns)
                provider.remove_namespace(self.config, cid)  # gone with the step's network already, as a rule

    def _run_in(self, cid: str, ns: Path | None, ids: tuple[int, int] | None, layers: list[str], cmd: RunCommand,
                on_output) -> tuple[str, int]:
        root_uid = ids[0] if ids else 0
        rootfs = self._rootfs(layers, ns, root_uid)
        try:
            _make_workdir(rootfs.merged, cmd.workdir, root_uid)
            uid, gid = _user(rootfs.merged, cmd.user, cmd.line)
            code, destinations = self._run_container(cid, rootfs, cmd, uid, gid, ns, ids, on_output)
        except BaseException:
            self._abandon(rootfs)
            raise
        if code is None:
            self._abandon(rootfs)
            if self.limits.cancel is not None and self.limits.cancel.is_set():
                raise Cancelled("the build was cancelled; the running step was stopped")
            raise DockerfileError(f"the build ran past its time limit of {self.limits.timeout_seconds:g} s; "
                                  "the step was stopped", line=cmd.line)
        if code != 0:
            self._abandon(rootfs)
            raise DockerfileError(f"the command '{' '.join(cmd.args)}' returned a non-zero code: {code}",
                                  line=cmd.line)
        overlay.disassemble(rootfs, keep_upper=True)
        prune_mountpoints(rootfs.upper, self.store.lower_dirs(layers), destinations)
        if ids:
            to_container_ids(rootfs.upper, *ids)
        return self._finish(rootfs)

    def _run_container(self, cid: str, rootfs, cmd: RunCommand, uid: int, gid: int, ns: Path | None,
                       ids: tuple[int, int] | None, on_output) -> tuple[int, list[str]]:
        # With a user namespace, its bridge network's namespace was made with it (run()).
        net = provider.setup(self.config, cid, self.limits.network, [], netns_made=ns is not None)
        try:
            binds = etcfiles.write_etc_files(rootfs.base, cid[:12], net.ip, list(self.config.dns_servers))
            for bind in binds if ids else ():
                os.chown(bind.source, ids[0], ids[0])  # the step's root may write them, as host root could
            spec = specs.make_spec(specs.ContainerSpec(
                rootfs=str(rootfs.merged), hostname=cid[6:18], cgroup_path=f"{self.config.cgroup_parent}/{cid}",
                process=specs.ProcessSpec(args=cmd.args, env=cmd.env, cwd=cmd.workdir, uid=uid, gid=gid,
                                          additional_gids=(gid,)),  # as runc gives Docker's: id shows groups=<gid>
                memory_bytes=self.limits.memory_bytes, pids_limit=self.limits.pids_limit,
                cpus=self.limits.cpus, netns_path=net.netns_path, binds=binds,
                userns_path=str(ns) if ns else None, userns_range=ids))
            (rootfs.base / "config.json").write_text(json.dumps(spec))
            code = self.runc.run_foreground(cid, rootfs.base, on_output,
                                            timeout=max(0.1, self.deadline - time.monotonic()),
                                            cancel=self.limits.cancel)
        finally:
            provider.teardown(self.config, cid, net)
            cgroups.remove(f"{self.config.cgroup_parent}/{cid}", cgroups.detect_version())
        return code, [m["destination"] for m in spec["mounts"]]

    def remaining(self) -> float:
        """Seconds left of the build's time limit."""
        return self.deadline - time.monotonic()

    # WORKDIR

    def make_workdir(self, layers: list[str], workdir: str) -> str | None:
        """A layer holding the missing directories of ``workdir``; None when it exists."""
        rootfs = self._rootfs(layers)
        try:
            if secure_join(rootfs.merged, workdir).is_dir():
                self._abandon(rootfs)
                return None
            place_dirs(rootfs.merged, workdir)
        except BaseException:
            self._abandon(rootfs)
            raise
        return self._finish(rootfs)[0]

    # COPY

    def copy(self, layers: list[str], request: CopyRequest) -> tuple[str, int]:
        rootfs = self._rootfs(layers)
        source_fs = None
        try:
            sources = list(request.sources)
            if request.from_layers is not None:
                source_fs = self._source_root(request)
                sources = resolve_in_image(source_fs.merged, list(request.patterns), request.line, request.from_name)
            uid, gid = _owner(rootfs.merged, request.owner, request.line) if request.owner else (0, 0)
            how = Placement(uid, gid, request.mode, strip_setid=request.from_layers is None,
                            extract=request.extract, archive_limit=request.archive_limit, line=request.line)
            place_sources(rootfs.merged, sources, request.dest, request.workdir, how)
        except BaseException:
            self._abandon(rootfs)
            raise
        finally:
            if source_fs is not None:
                self._abandon(source_fs)
        return self._finish(rootfs)

    def _source_root(self, request: CopyRequest) -> overlay.Rootfs:
        if not request.from_layers:
            raise DockerfileError(f"COPY --from={request.from_name}: that stage has no files (FROM scratch)",
                                  line=request.line)
        return self._rootfs(list(request.from_layers))


def _make_workdir(root: Path, workdir: str, owner: int) -> None:
    """The step's working directory, made if missing, as root's of the step (host uid ``owner``
    in a user namespace; its files get root's again with the layer)."""
    target = secure_join(root, workdir)
    missing = []
    while not target.exists() and target != root:
        missing.append(target)
        target = target.parent
    for directory in reversed(missing):
        directory.mkdir()
        os.chown(directory, owner, owner)


def _owner(root: Path, owner: str, line: int) -> tuple[int, int]:
    """--chown: as USER, except that a bare numeric uid is also the gid (Docker's rule)."""
    if owner.isdigit():
        return int(owner), int(owner)
    return _user(root, owner, line)


def _user(root: Path, user: str, line: int) -> tuple[int, int]:
    try:
        return etcfiles.resolve_user(root, user)
    except InvalidSpec as exc:
        raise DockerfileError(exc.message, line=line) from None
