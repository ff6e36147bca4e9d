"""The OCI runtime spec (config.json) as a pure function of a small request.

Defaults follow Docker's: its default capability set, masked and read-only
kernel paths, no new privileges, a private namespace for everything, memory
and pids limits always set; a user namespace where the host allows one.
"""
from __future__ import annotations

import re
import resource
from dataclasses import dataclass, field

from ..errors import InvalidSpec
from ..linux.probes import clamp_rlimit
from . import seccomp

DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
CPU_PERIOD_US = 100_000
MIN_MEMORY = 6 * 1024 * 1024  # as Docker: below this a container cannot even start
_CPUSET = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_RLIMITS = (("RLIMIT_NOFILE", resource.RLIMIT_NOFILE, 1048576),
            ("RLIMIT_NPROC", resource.RLIMIT_NPROC, 1048576))


@dataclass(frozen=True)
class ProcessSpec:
    args: tuple[str, ...]
    env: tuple[str, ...] = ()
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()


@dataclass(frozen=True)
class BindFile:
    source: str
    destination: str
    readonly: bool = True


@dataclass(frozen=True)
class DeviceRate:
    """A block device's bytes-per-second limit (OCI throttle*BpsDevice)."""

    major: int
    minor: int
    rate: int


@dataclass(frozen=True)
class ContainerSpec:
    rootfs: str
    hostname: str
    process: ProcessSpec
    cgroup_path: str
    memory_bytes: int
    pids_limit: int
    cpus: float | None = None
    netns_path: str | None = None  # None: a new namespace with only loopback
    host_network: bool = False  # in the host's network namespace: none of its own
    binds: tuple[BindFile, ...] = field(default=())
    cpuset_cpus: str = ""  # "" runs on every CPU
    memory_swap: int | None = None  # memory plus swap, as `--memory-swap`; -1 for no swap limit
    blkio_weight: int | None = None
    device_read_bps: tuple[DeviceRate, ...] = ()
    device_write_bps: tuple[DeviceRate, ...] = ()
    # A user namespace to join (made with its network namespace inside it, so the container
    # may mount sysfs), mapping the container's ids 0.. to the host's (first id, count).
    userns_path: str | None = None
    userns_range: tuple[int, int] | None = None


def _check_limits(spec: ContainerSpec) -> None:
    if spec.memory_bytes < MIN_MEMORY:
        raise InvalidSpec(f"memory limit {spec.memory_bytes} bytes is below the minimum of 6 MB")
    if spec.pids_limit < 1:
        raise InvalidSpec(f"pids limit must be at least 1, not {spec.pids_limit}")
    if spec.cpus is not None and not 0.01 <= spec.cpus <= 1024:
        raise InvalidSpec(f"CPU limit {spec.cpus} must be between 0.01 and 1024")
    if spec.cpuset_cpus and not _CPUSET.match(spec.cpuset_cpus):
        raise InvalidSpec(f"cpuset {spec.cpuset_cpus!r} is not a CPU list like 0, 0-1 or 0,2")
    if spec.memory_swap is not None and spec.memory_swap != -1 and spec.memory_swap < spec.memory_bytes:
        raise InvalidSpec(f"memory+swap limit {spec.memory_swap} bytes is below the memory limit "
                          f"{spec.memory_bytes} bytes: it counts memory and swap together")
    _check_block_io(spec)


def _check_block_io(spec: ContainerSpec) -> None:
    if spec.blkio_weight is not None and not 10 <= spec.blkio_weight <= 1000:
        raise InvalidSpec(f"block IO weight {spec.blkio_weight} must be between 10 and 1000")
    for device in spec.device_read_bps + spec.device_write_bps:
        if device.rate < 1:
            raise InvalidSpec(f"block device {device.major}:{device.minor} rate must be at least 1 byte/s")


def _check_process(process: ProcessSpec) -> None:
    if not process.args or not process.args[0]:
        raise InvalidSpec("no command to run: the image has no CMD or ENTRYPOINT and none was given")
    if not process.cwd.startswith("/"):
        raise InvalidSpec(f"working directory {process.cwd!r} must be absolute")
    for item in process.env:
        if "=" not in item or item.startswith("="):
            raise InvalidSpec(f"environment entry {item!r} is not NAME=value")


def validate(spec: ContainerSpec) -> None:
    """Checks that run before any system call."""
    if not _HOSTNAME.match(spec.hostname):
        raise InvalidSpec(f"hostname {spec.hostname!r} is not a valid host name")
    if not spec.cgroup_path.startswith("/"):
        raise InvalidSpec(f"cgroup path {spec.cgroup_path!r} must be absolute")
    _check_limits(spec)
    _check_process(spec.process)
    if (spec.userns_path is None) != (spec.userns_range is None):
        raise InvalidSpec("a user namespace needs both its path and its id range")
    if spec.host_network and spec.netns_path:
        raise InvalidSpec("a container in the host's network namespace joins no other one")
    for bind in spec.binds:
        if not bind.destination.startswith("/"):
            raise InvalidSpec(f"bind mount destination {bind.destination!r} must be absolute")


def _rlimits() -> list[dict]:
    limits = []
    for name, kind, wanted in _RLIMITS:
        soft, hard = clamp_rlimit(kind, wanted, wanted)
        limits.append({"type": name, "soft": soft, "hard": hard})
    return limits


def _mounts(spec: ContainerSpec) -> list[dict]:
    nosuid_noexec = ["nosuid", "noexec", "nodev"]
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": nosuid_noexec + ["mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": nosuid_noexec},
        _sys_mount(spec, nosuid_noexec + ["ro"]),
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": nosuid_noexec + ["relatime", "ro"]},
    ]
    for bind in spec.binds:
        options = ["rbind", "rprivate"] + (["ro"] if bind.readonly else [])
        mounts.append({"destination": bind.destination, "type": "bind", "source": bind.source,
                       "options": options})
    return mounts


def _sys_mount(spec: ContainerSpec, options: list[str]) -> dict:
    """A new sysfs; but the host's own, bound, for a container in a user namespace and the host's
    network namespace: the kernel lets only the network namespace's owner mount a sysfs of it
    (as rootless Podman does with --network host). Read-only either way, masked paths masked."""
    if spec.host_network and spec.userns_path:
        return {"destination": "/sys", "type": "bind", "source": "/sys", "options": ["rbind", "rprivate"] + options}
    return {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": options}


def _resources(spec: ContainerSpec) -> dict:
    res = {
        "devices": [{"allow": False, "access": "rwm"}],
        "memory": {"limit": spec.memory_bytes},
        "pids": {"limit": spec.pids_limit},
    }
    if spec.memory_swap is not None:
        res["memory"]["swap"] = spec.memory_swap
    cpu = {}
    if spec.cpus is not None:
        cpu.update(quota=int(spec.cpus * CPU_PERIOD_US), period=CPU_PERIOD_US)
    if spec.cpuset_cpus:
        cpu["cpus"] = spec.cpuset_cpus
    if cpu:
        res["cpu"] = cpu
    block_io = _block_io(spec)
    if block_io:
        res["blockIO"] = block_io
    return res


def _block_io(spec: ContainerSpec) -> dict:
    def devices(rates):
        return [{"major": d.major, "minor": d.minor, "rate": d.rate} for d in rates]

    block_io = {}
    if spec.blkio_weight is not None:
        block_io["weight"] = spec.blkio_weight
    if spec.device_read_bps:
        block_io["throttleReadBpsDevice"] = devices(spec.device_read_bps)
    if spec.device_write_bps:
        block_io["throttleWriteBpsDevice"] = devices(spec.device_write_bps)
    return block_io


def _namespaces(spec: ContainerSpec) -> list[dict]:
    network = {"type": "network"}
    if spec.netns_path:
        network["path"] = spec.netns_path
    namespaces = [{"type": "pid"}, *([] if spec.host_network else [network]), {"type": "ipc"}, {"type": "uts"},
                  {"type": "mount"}, {"type": "cgroup"}]
    if spec.userns_path:
        namespaces.append({"type": "user", "path": spec.userns_path})
    return namespaces


def _id_mappings(spec: ContainerSpec) -> dict:
    """runc wants the mapping even for a namespace it joins: it checks the two agree."""
    if spec.userns_range is None:
        return {}
    first, count = spec.userns_range
    mapping = [{"containerID": 0, "hostID": first, "size": count}]
    return {"uidMappings": mapping, "gidMappings": mapping}


def make_spec(spec: ContainerSpec) -> dict:
    validate(spec)
    caps = list(DEFAULT_CAPABILITIES)
    p = spec.process
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": p.uid, "gid": p.gid, "additionalGids": list(p.additional_gids)},
            "args": list(p.args),
            "env": list(p.env),
            "cwd": p.cwd,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": _rlimits(),
            "noNewPrivileges": True,
        },
        "root": {"path": spec.rootfs, "readonly": False},
        "hostname": spec.hostname,
        "mounts": _mounts(spec),
        "linux": {
            "cgroupsPath": spec.cgroup_path,
            "resources": _resources(spec),
            "namespaces": _namespaces(spec),
            **_id_mappings(spec),
            "seccomp": seccomp.default_profile(),
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }
