"""Container lifecycle: run, stop, kill, remove, list, and the cleanup after exit."""
from __future__ import annotations

import dataclasses
import json
import os
import select
import shutil
import signal as signals
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..cgroups import limits, paths as cgroups
from ..concurrency import alongside
from ..config import RuntimeConfig
from ..errors import BerthError, InvalidSpec, InvalidState, NotFound, OCIRuntimeError
from ..image.store import Image, ImageStore
from ..linux import mounts, userns
from ..linux.files import locked, write_atomic
from ..network import links, provider, tc
from ..network.ports import PortMapping
from ..rootfs import overlay
from . import etcfiles, monitor, restart, spec as specs, volumes
from .exited import lock_path
from .logs import LogLine, read_all
from .runc import Runc
from .volumes import VolumeMount, Volumes
from .state import CREATED, LOST_FILE, RUNNING, ContainerRecord, Status, StatusCache, check, read_status

DEFAULT_PIDS_LIMIT = 1024
DEFAULT_STOP_TIMEOUT = 10.0
INIT_PATH = "/run/berth-init"


@dataclass(frozen=True)
class RunRequest:
    image: str
    memory_bytes: int
    cpus: float | None = None
    pids_limit: int = DEFAULT_PIDS_LIMIT
    command: tuple[str, ...] = ()  # replaces the image's CMD, as after `docker run IMAGE`
    env: tuple[str, ...] = ()
    ports: tuple[PortMapping, ...] = ()
    network: str = "bridge"
    team: str = ""  # its team's network; "" for the default network
    network_receive_bps: int | None = None  # bytes per second, through tc on the veth
    network_send_bps: int | None = None
    cpuset_cpus: str = ""  # as `--cpuset-cpus 0-1`
    memory_swap_bytes: int | None = None  # memory plus swap, as `--memory-swap`; -1 for unlimited swap
    blkio_weight: int | None = None
    device_read_bps: tuple[tuple[str, int], ...] = ()  # (block device path, bytes per second)
    device_write_bps: tuple[tuple[str, int], ...] = ()
    init: bool = False  # run a small init as PID 1 (as `docker run --init`)
    name: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    restart: str = "no"  # a restart policy (restart.py), applied by the host agent
    volumes: tuple[VolumeMount, ...] = ()
    log_size_max: int = 0  # bytes at which conmon truncates its log; 0: the host's (RuntimeConfig)
    # Removed when it ends (`run --rm`): its root's writes and its records need never reach
    # the disk (no fsync, and unmounting its root does not wait for a sync of the host's disk).
    volatile_root: bool = False
    id: str = field(default_factory=lambda: os.urandom(16).hex())  # 128 random bits, as uuid4's hex


@dataclass(frozen=True)
class ContainerInfo:
    record: ContainerRecord
    status: Status

    @property
    def id(self) -> str:
        return self.record.id


MIN_LOG_SIZE = 64 * 1024  # below this conmon would truncate the log at almost every line


def _log_size_max(req: RunRequest) -> int:
    if req.log_size_max and req.log_size_max < MIN_LOG_SIZE:
        raise InvalidSpec(f"a log size cap of {req.log_size_max} bytes is below the least, {MIN_LOG_SIZE} (64 KiB)")
    return req.log_size_max


def process_for(image: Image, command: tuple[str, ...], env: tuple[str, ...]) -> specs.ProcessSpec:
    """Entrypoint and command combined as Docker combines them."""
    cfg = image.config.get("config", {})
    args = tuple(cfg.get("Entrypoint") or ()) + (command or tuple(cfg.get("Cmd") or ()))
    for item in env:
        if "=" not in item or item.startswith("="):
            raise InvalidSpec(f"environment entry {item!r} is not NAME=value")
    merged = {}
    for item in list(cfg.get("Env") or []) + list(env):
        key, _, value = item.partition("=")
        merged[key] = value
    return specs.ProcessSpec(args=args, env=tuple(f"{k}={v}" for k, v in merged.items()),
                             cwd=cfg.get("WorkingDir") or "/")


class Containers:
    def __init__(self, config: RuntimeConfig, store: ImageStore | None = None):
        self.config = config
        self.store = store or ImageStore(config)
        self.runc = Runc(config)
        self.cgroup_version = cgroups.detect_version()
        self._records: dict[str, tuple[int, ContainerRecord]] = {}  # bundle -> (state.json mtime, record)
        self._statuses = StatusCache()
        self.volumes = Volumes(config)
        self._userns_problem: str | None | bool = False  # False: not probed yet
        config.containers_dir.mkdir(parents=True, exist_ok=True)

    def bundle(self, cid: str) -> Path:
        return self.config.containers_dir / cid

    def userns_problem(self) -> str | None:
        """Why containers run without user namespaces here (None: they have them)."""
        if self._userns_problem is False:
            self._userns_problem = userns_problem(self.config)
        return self._userns_problem

    def _userns_file(self, cid: str) -> Path:
        return self.config.run_dir / "userns" / cid

    # run

    def run(self, req: RunRequest) -> ContainerInfo:
        image, record, draft = self._plan(req)
        bundle = self.bundle(req.id)
        if bundle.exists():
            raise InvalidState(f"container {req.id} already exists")
        bundle.mkdir(parents=True)
        record.save(bundle, durable=not req.volatile_root)
        _save_request(bundle, req)
        try:
            self._launch(record, image, draft, req, bundle)
        except BaseException:
            self._undo(record, bundle)
            raise
        return self.get(req.id)

    def _plan(self, req: RunRequest) -> tuple[Image, ContainerRecord, specs.ContainerSpec]:
        """The record and the spec's draft, checked before any system call."""
        policy = restart.parse(req.restart)
        image = self.store.resolve(req.image)
        process = process_for(image, req.command, req.env)
        record = ContainerRecord(
            id=req.id, name=req.name or req.id[:12], image=req.image, image_id=image.id,
            command=list(process.args), hostname=req.id[:12], memory_bytes=req.memory_bytes,
            cpus=req.cpus, pids_limit=req.pids_limit,
            cgroup_path=f"{self.config.cgroup_parent}/{req.id}", created=time.time(), labels=dict(req.labels),
            stop_signal=(image.config.get("config", {}).get("StopSignal") or "TERM").removeprefix("SIG"),
            runtime_config=self.config.to_json(), restart_policy=str(policy), started_at=time.time(),
            volumes=[m.source for m in req.volumes if not m.is_host_path],
            log_size_max=_log_size_max(req))
        draft = specs.ContainerSpec(rootfs="/", hostname=record.hostname, process=process,
                                    cgroup_path=record.cgroup_path, memory_bytes=req.memory_bytes,
                                    pids_limit=req.pids_limit, cpus=req.cpus,
                                    **_host_limits(req, self.cgroup_version))
        specs.validate(draft)  # before any system call
        for mount in req.volumes:
            volumes.check(mount)
        provider.check_request(self.config, req.network, list(req.ports), req.team, _rates(req))
        return image, record, draft

    def _launch(self, record: ContainerRecord, image: Image, draft: specs.ContainerSpec,
                req: RunRequest, bundle: Path) -> None:
        self._create(record, image, draft, req, bundle)
        self.runc.start(record.id)
        (bundle / "started").touch()

    def _create(self, record: ContainerRecord, image: Image, draft: specs.ContainerSpec,
                req: RunRequest, bundle: Path) -> None:
        ids = None if self.userns_problem() else self.config.userns_range
        # The user namespace first, and the network namespace it owns with it.
        netns_path = provider.namespace_path(self.config, record.id, req.network) if ids else None
        ns = userns.create(self._userns_file(record.id), *ids, netns=netns_path) if ids else None
        rootfs = overlay.assemble(bundle / "rootfs", self.store.lower_dirs(image.layers), ns, ids[0] if ids else 0,
                                  volatile=req.volatile_root)
        uid, gid = etcfiles.resolve_user(rootfs.merged, image.config.get("config", {}).get("User", ""))
        reservation = provider.reserve(self.config, record.id, req.network, list(req.ports), req.team, _rates(req),
                                       netns_made=ns is not None)
        net = reservation.info
        record.network = net.to_dict()
        record.save(bundle, durable=not req.volatile_root)
        binds = etcfiles.write_etc_files(bundle, record.hostname, net.ip, list(self.config.dns_servers),
                                         host_network=net.mode == "host")
        binds += self.volumes.binds(req.volumes, root_uid=ids[0] if ids else None)
        args = draft.process.args
        if req.init:
            binds += (specs.BindFile(self.config.init_binary, INIT_PATH, readonly=True),)
            args = (INIT_PATH, "--") + args
        process = specs.ProcessSpec(**{**draft.process.__dict__, "args": args, "uid": uid, "gid": gid})
        full = specs.ContainerSpec(**{**draft.__dict__, "rootfs": str(rootfs.merged), "process": process,
                                      "netns_path": net.netns_path, "host_network": net.mode == "host",
                                      "binds": binds,
                                      "userns_path": str(ns) if ns else None, "userns_range": ids})
        # runc's input, written again before each start: no fsync, no indent (json's C encoder).
        (bundle / "config.json").write_text(json.dumps(specs.make_spec(full)))
        # The container's link is made while conmon and runc create the container (30 ms, mostly
        # waiting): runc needs only the namespace, and the link is there before the start.
        alongside(lambda: monitor.launch(self.config, record.id, bundle,
                                         record.log_size_max or self.config.log_size_max, record.runs),
                  reservation.connect)

    def _undo(self, record: ContainerRecord, bundle: Path) -> None:
        try:
            self.runc.delete(record.id, force=True)
        except (BerthError, OSError):
            pass  # never made, or runc is what failed: the rest goes all the same
        try:
            self.cleanup(bundle)
        except OCIRuntimeError:
            pass  # runc, say, is not there: all else was released, and the caller hears why the start failed
        if not mounts.mount_points_under(bundle):  # never rmtree into a mount: it may be a layer's files
            shutil.rmtree(bundle, ignore_errors=True)

    # after exit

    def _lock(self, cid: str):
        return locked(lock_path(self.config.run_dir, cid))

    def cleanup(self, bundle: Path, run: int | None = None) -> None:
        """Release what a stopped container holds; run by conmon's exit command too, which
        names its ``run``. Idempotent."""
        with self._lock(bundle.name):
            self._cleanup_locked(bundle, run)

    def _cleanup_locked(self, bundle: Path, run: int | None = None) -> None:
        # Done already, or the container is gone: a late exit command must not touch a port
        # or an address another container may hold by now.
        if not (bundle / "state.json").exists() or (bundle / "cleaned").exists():
            return
        record = ContainerRecord.load(bundle)
        if run is not None and run != record.runs:
            return  # the exit command of an earlier run, late: the container was started again
        # runc forgets the container (its state, its cgroup) while the rest is released here:
        # nothing below waits for it, and it is a third of a short container's cleanup.
        try:
            deleting, unable = self.runc.begin_delete(record.id, force=True), None
        except OCIRuntimeError as exc:  # runc is not there: the rest is released all the same
            deleting, unable = None, exc
        try:
            # The network and the mounts side by side too: each is mostly waiting on the kernel.
            alongside(lambda: self._release_mounts(record, bundle), lambda: self._release_network(record))
        finally:
            try:
                if deleting is not None:
                    deleting.result()
            except NotFound:
                pass
        if unable is not None:
            raise unable
        cgroups.remove(record.cgroup_path, self.cgroup_version)
        (bundle / "cleaned").touch()

    def _release_mounts(self, record: ContainerRecord, bundle: Path) -> None:
        overlay.disassemble(overlay.Rootfs(bundle / "rootfs"), keep_upper=True)
        userns.remove(self._userns_file(record.id))

    def _release_network(self, record: ContainerRecord) -> None:
        if record.network:
            provider.teardown(self.config, record.id, provider.NetworkInfo(
                **{**record.network, "ports": tuple(tuple(p) for p in record.network.get("ports", ()))}))
        else:  # a start that failed before its network was reserved, its namespace made already
            provider.remove_namespace(self.config, record.id)

    # control

    def get(self, cid: str) -> ContainerInfo:
        bundle = self._existing_bundle(cid)
        return ContainerInfo(ContainerRecord.load(bundle), read_status(bundle))

    def _existing_bundle(self, cid: str) -> Path:
        bundle = self.bundle(cid)
        if (bundle / "state.json").exists():
            return bundle
        matches = [p for p in self.config.containers_dir.glob(f"{cid}*") if (p / "state.json").exists()] \
            if len(cid) >= 4 else []
        if len(matches) == 1:
            return matches[0]
        by_name = [p for p in self.config.containers_dir.iterdir()
                   if (p / "state.json").exists() and ContainerRecord.load(p).name == cid]
        if len(by_name) == 1:
            return by_name[0]
        raise NotFound(f"no container {cid!r}")

    def list(self) -> list[ContainerInfo]:
        infos = []
        bundles = [entry.path for entry in os.scandir(self.config.containers_dir)]
        for bundle in bundles:
            record = self._cached_record(bundle)
            if record is not None:
                infos.append(ContainerInfo(record, self._statuses.read(Path(bundle))))
        for gone in self._records.keys() - set(bundles):
            self._records.pop(gone, None)
        self._statuses.keep_only(set(bundles))
        return sorted(infos, key=lambda i: i.record.created)

    def image_users(self) -> dict[str, list[str]]:
        """Image ID -> the names of the containers, running or not, made from it (rmi and prune ask)."""
        users: dict[str, list[str]] = {}
        for info in self.list():
            users.setdefault(info.record.image_id, []).append(info.record.name)
        return users

    def _cached_record(self, bundle: str) -> ContainerRecord | None:
        """The bundle's record, parsed again only when state.json changed: the agent
        lists every container several times a second."""
        try:
            mtime = os.stat(bundle + "/state.json").st_mtime_ns
        except (FileNotFoundError, NotADirectoryError):
            self._records.pop(bundle, None)
            return None
        cached = self._records.get(bundle)
        if cached is None or cached[0] != mtime:
            cached = self._records[bundle] = (mtime, ContainerRecord.load(Path(bundle)))
        return cached[1]

    def kill(self, cid: str, signal: str = "KILL") -> None:
        name = signal_name(signal)
        info = self.get(cid)
        check("kill", info.record.name, info.status.state)
        if name in ("KILL", info.record.stop_signal):
            # As `docker kill`: a container killed with its stop signal (or SIGKILL) counts
            # as stopped by hand, and its restart policy leaves it stopped.
            self._mark_stopped(info.id)
        self.runc.kill(info.id, name)

    def wait(self, cid: str) -> Status:
        """Block until the container no longer runs; its status then (exited, or lost)."""
        bundle = self._existing_bundle(cid)
        status = read_status(bundle)
        pidfd = _pidfd(status.pid) if status.state == RUNNING else None
        try:
            while status.state == RUNNING:
                if pidfd is None:
                    time.sleep(0.0002)  # its init is gone: conmon writes the exit code in a moment
                elif select.select([pidfd], [], [], 0.1)[0]:  # readable once the init exits
                    os.close(pidfd)
                    pidfd = None
                status = read_status(bundle)  # also each 0.1 s: a lost monitor, a PID taken again
        finally:
            if pidfd is not None:
                os.close(pidfd)
        return status

    def _mark_stopped(self, cid: str) -> None:
        (self.bundle(cid) / "stopped").touch()

    def stop(self, cid: str, timeout: float = DEFAULT_STOP_TIMEOUT) -> Status:
        """The stop signal, a grace period, then SIGKILL; returns once cleanup is done."""
        info = self.get(cid)
        bundle = self.bundle(info.id)
        self._mark_stopped(info.id)  # also on an exited container: cancels a pending restart
        if info.status.state == RUNNING:
            self._signal_quietly(info.id, info.record.stop_signal)
            if not _wait_for(bundle / "exit", timeout):
                self._signal_quietly(info.id, "KILL")
                _wait_for(bundle / "exit", 10)
        self._wait_cleaned(bundle)
        return read_status(bundle)

    def _signal_quietly(self, cid: str, signal: str) -> None:
        try:
            self.runc.kill(cid, signal)
        except BerthError:
            pass  # it exited meanwhile

    def _wait_cleaned(self, bundle: Path) -> None:
        # conmon's exit command does the same; whoever takes the lock first does the work,
        # and the caller need not wait for a new process to start.
        if not (bundle / "cleaned").exists():
            self.cleanup(bundle)

    def start(self, cid: str, *, policy_decided_at: float | None = None) -> ContainerInfo:
        """Start a stopped container again in its own bundle, as `docker start` does: the same
        ID, the same log file (it goes on) and the same files written in its root.

        ``policy_decided_at``: a restart by the container's policy, decided at that time;
        refused if the container was stopped by hand since (during the back-off)."""
        by_policy = policy_decided_at is not None
        info = self.get(cid)
        bundle = self.bundle(info.id)
        with self._lock(info.id):
            check("start", info.record.name, read_status(bundle).state)
            if by_policy and _stopped_since(bundle, policy_decided_at):
                raise InvalidState(f"container {info.record.name} was stopped by hand: its restart policy waits")
            self._cleanup_locked(bundle)
            req = _load_request(bundle, info.record.name)
            image, _, draft = self._plan(dataclasses.replace(req, image=info.record.image_id))
            record = dataclasses.replace(info.record, runs=info.record.runs + 1, started_at=time.time(),
                                         restart_count=info.record.restart_count + 1 if by_policy else 0)
            _clear_run_files(bundle)
            record.save(bundle)
            try:
                self._launch(record, image, draft, req, bundle)
            except BaseException:
                self._fail_start(record, bundle)
                raise
        return self.get(info.id)

    def _fail_start(self, record: ContainerRecord, bundle: Path) -> None:
        self._cleanup_locked(bundle)
        # An exit code of -1 (none): the container shows as exited, and may be started again.
        write_atomic(bundle / "exit", "-1")

    def restart(self, cid: str, timeout: float = DEFAULT_STOP_TIMEOUT) -> ContainerInfo:
        """Stop (the stop signal, ``timeout``, SIGKILL) and start again, as `docker restart`."""
        info = self.get(cid)
        check("restart", info.record.name, info.status.state)
        self.stop(info.id, timeout)
        return self.start(info.id)

    def remove(self, cid: str, force: bool = False) -> None:
        info = self.get(cid)
        bundle = self.bundle(info.id)
        if not force:
            check("remove", info.record.name, info.status.state)
        if info.status.state in (CREATED, RUNNING):
            self.stop(info.id, timeout=0)
        with self._lock(info.id):
            self._cleanup_locked(bundle)
            if mounts.mount_points_under(bundle):  # never rmtree into a mount: it may be a layer's files
                raise InvalidState(f"cannot remove container {info.record.name}: its root is still mounted")
            shutil.rmtree(bundle)
        Path(lock_path(self.config.run_dir, info.id)).unlink(missing_ok=True)

    def exec(self, cid: str, command: list[str], tty: bool = False, **stdio):
        """Run ``command`` in a running container (`docker exec`); returns the runc process."""
        info = self.get(cid)
        check("exec", info.record.name, info.status.state)
        if not command:
            raise InvalidSpec("no command to run in the container")
        return self.runc.exec(info.id, command, tty, **stdio)

    def volume_users(self, name: str) -> list[str]:
        """The containers (running or not, as Docker counts them) that mount volume ``name``."""
        return [info.id for info in self.list() if name in info.record.volumes]

    def remove_volume(self, name: str) -> None:
        with locked(self.config.state_dir / "volumes.lock"):
            self.volumes.remove(name, self.volume_users(name))

    def logs(self, cid: str) -> list[LogLine]:
        path = self.bundle(self.get(cid).id) / "ctr.log"
        return read_all(path) if path.exists() else []

    def log_path(self, cid: str) -> Path:
        return self.bundle(self.get(cid).id) / "ctr.log"

    def exists(self, cid: str) -> bool:
        return (self.bundle(cid) / "state.json").exists()

    def stats(self, cid: str):
        return cgroups.read_stats(self.get(cid).record.cgroup_path, self.cgroup_version)

    def traffic(self, record: ContainerRecord) -> tuple[int, int] | None:
        """(received, sent) bytes on the container's veth; None without one (network none or host)."""
        if record.network.get("mode") != "bridge":
            return None
        return links.traffic(record.id)


def _rates(req: RunRequest) -> tc.Rates:
    return tc.Rates(req.network_receive_bps, req.network_send_bps)


def signal_name(signal: str) -> str:
    """``KILL``, ``SIGKILL`` or ``9`` as the name runc takes (``KILL``); an unknown one is refused."""
    text = str(signal).strip().upper().removeprefix("SIG")
    try:
        return signals.Signals(int(text)).name.removeprefix("SIG") if text.isdigit() else \
            signals.Signals["SIG" + text].name.removeprefix("SIG")
    except (KeyError, ValueError):
        raise InvalidSpec(f"{signal!r} is not a signal (try TERM, KILL, HUP, INT or a number)") from None


# What a run leaves in its bundle besides the log and the root's upper dir; a start clears it.
_RUN_FILES = ("exit", "oom", "cleaned", "started", "stopped", "conmon.pid", "init.pid", "conmon.err", "runc.log",
              LOST_FILE)


def _stopped_since(bundle: Path, when: float) -> bool:
    try:
        # File times lag the clock by up to a jiffy: a stop at ``when`` may look a little older.
        return os.stat(bundle / "stopped").st_mtime >= when - 0.05
    except FileNotFoundError:
        return False


def _clear_run_files(bundle: Path) -> None:
    for name in _RUN_FILES:
        (bundle / name).unlink(missing_ok=True)


def _save_request(bundle: Path, req: RunRequest) -> None:
    # What a later start needs to set the container up again, exactly as first asked.
    write_atomic(bundle / "request.json", json.dumps(dataclasses.asdict(req)), durable=not req.volatile_root)


def _load_request(bundle: Path, name: str) -> RunRequest:
    try:
        data = json.loads((bundle / "request.json").read_text())
    except FileNotFoundError:
        raise InvalidState(f"container {name} was made by an older Berth and cannot be started again") from None
    data["ports"] = [PortMapping(**p) for p in data["ports"]]
    data["volumes"] = [VolumeMount(**v) for v in data.get("volumes", [])]
    return RunRequest(**{k: _tuples(v) for k, v in data.items()})


def _tuples(value):
    """JSON's lists back to the tuples a RunRequest holds, nested ones too."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _host_limits(req: RunRequest, cgroup_version: int) -> dict:
    """The request's cpuset, swap and block IO limits as spec fields, checked against the host."""
    if req.cpuset_cpus:
        limits.check_cpuset(req.cpuset_cpus)
    if req.memory_swap_bytes is not None:
        limits.check_swap_limit(cgroup_version)
    if req.blkio_weight is not None:
        limits.check_blkio_weight(cgroup_version)

    def devices(rates):
        return tuple(specs.DeviceRate(*limits.device_numbers(path), int(rate)) for path, rate in rates)

    return dict(cpuset_cpus=req.cpuset_cpus, memory_swap=req.memory_swap_bytes, blkio_weight=req.blkio_weight,
                device_read_bps=devices(req.device_read_bps), device_write_bps=devices(req.device_write_bps))


def userns_problem(config: RuntimeConfig, fresh: bool = False) -> str | None:
    """Why this host's containers get no user namespace (None: they get one): turned off,
    refused by the kernel (probed, see linux/userns.py), or a state directory the mapped
    root could not reach (runc mounts the root and the bind mounts as that user)."""
    if config.userns == "off":
        return "turned off (userns = off)"
    for path in [config.state_dir, *config.state_dir.parents]:
        if path.exists() and not os.stat(path).st_mode & 0o001:
            return (f"{path} is not searchable by others (chmod o+x {path}): "
                    "a container's mapped root could not reach its root")
    return userns.problem(config.run_dir, *config.userns_range, fresh=fresh)


def _pidfd(pid: int | None) -> int | None:
    """A pidfd of ``pid`` (a process one can wait for without being its parent); None when
    it is gone or unknown."""
    try:
        return os.pidfd_open(pid) if pid else None
    except OSError:
        return None


def _wait_for(path: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True

