"""Reconciliation: what crashed work left on the host, found, removed and named.

The kernel keeps what a dead process made: mounts, network namespaces and their
veths, nftables elements, cgroups, runc containers and their conmon monitors.
A container accounts for its objects while it is live: running under its own
conmon, or being created (younger than a grace period). A container whose
conmon is gone without an exit code is lost: it is marked so (its reason in the
bundle's ``lost`` file) and released like an exited one. Every other object
named after this runtime (its netns prefix, its bridges, its cgroup parent, its
state directory) belongs to nobody and is removed.

Run it while no build runs on this state directory (the agent runs it when it
starts, before it takes work): a running build step would look like a leftover.
"""
from __future__ import annotations

import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from .build.leftovers import STEP_PREFIX, remove_build_leftovers
from .cgroups import paths as cgroups
from .config import RuntimeConfig
from .container.manager import Containers
from .container.runc import Runc
from .container.state import EXITED, LOST_FILE, RUNNING, ContainerRecord, read_status
from .errors import BerthError
from .linux import mounts, userns
from .linux.files import locked, write_atomic
from .network import ipam, links, netns, networks, nft, provider

# A container still being created (its image mounted, its network made, conmon and
# runc starting) is left alone this long: monitor.launch alone may wait a minute.
GRACE_SECONDS = 120.0
_MONITOR_EXIT_SECONDS = 2.0


@dataclass
class Report:
    removed: list[str] = field(default_factory=list)
    lost: dict[str, str] = field(default_factory=dict)  # container ID -> why it is lost
    failed: list[str] = field(default_factory=list)     # what could not be removed, and why

    def lines(self) -> list[str]:
        return ([f"removed {item}" for item in self.removed]
                + [f"lost container {cid}: {why}" for cid, why in self.lost.items()]
                + [f"could not remove {item}" for item in self.failed])


class _Accounts:
    """Which containers hold their objects: those judged live, and any made since the
    judging began (another process may create one meanwhile: it is not a leftover)."""

    def __init__(self, config: RuntimeConfig):
        self.dir = config.containers_dir
        self.judged = set(os.listdir(self.dir))
        self.live: set[str] = set()

    def owns(self, cid: str) -> bool:
        """True when a live or new container's ID is ``cid`` or starts with it (a short ID)."""
        return any(name.startswith(cid) and (name in self.live or name not in self.judged)
                   for name in os.listdir(self.dir))


def reconcile(config: RuntimeConfig, containers: Containers | None = None) -> Report:
    report = Report(removed=remove_build_leftovers(config))
    containers = containers or Containers(config)
    monitors = _monitors(config)
    accounts = _Accounts(config)
    for name in sorted(accounts.judged):
        _judge(containers, config.containers_dir / name, monitors, accounts, report)
    _runc_leftovers(config, accounts, report)
    _monitor_leftovers(monitors, accounts, report)
    _cgroup_leftovers(config, accounts, report)
    _mount_leftovers(config, accounts, report)
    _userns_leftovers(config, accounts, report)
    with locked(config.state_dir / "network.lock"):  # setup holds it while it makes a network
        _network_leftovers(config, accounts, report)
    report.removed += provider.remove_unused_networks(config)
    _bundle_leftovers(config, accounts, report)
    return report


# containers

def _monitors(config: RuntimeConfig) -> dict[str, int]:
    """{bundle name: PID} of every conmon running a bundle of this state directory."""
    found = {}
    prefix = str(config.containers_dir) + "/"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue  # gone meanwhile
        if os.path.basename(argv[0]) != os.path.basename(config.conmon) or "-b" not in argv[:-1]:
            continue
        bundle = argv[argv.index("-b") + 1]
        if bundle.startswith(prefix):
            found[bundle.removeprefix(prefix)] = int(pid)
    return found


def _young(path: Path) -> bool:
    try:
        return time.time() - path.stat().st_mtime < GRACE_SECONDS
    except FileNotFoundError:
        return False


def _lost_reason(bundle: Path, monitors: dict[str, int]) -> tuple[bool, str | None]:
    """(live, why lost) of a container with a record; neither for a stopped one."""
    status = read_status(bundle)
    if status.state == EXITED or (bundle / LOST_FILE).exists():
        return False, None
    young = _young(bundle / "state.json")
    if bundle.name in monitors:
        if status.state == RUNNING or young:
            return True, None
        return False, "its start never finished: whoever was starting it stopped first"
    if (bundle / "conmon.pid").exists():
        return False, "its monitor (conmon) is gone and left no exit code"
    if young:
        return True, None
    return False, "it was never started: whoever was creating it stopped first"


def _judge(containers: Containers, bundle: Path, monitors: dict[str, int], accounts: _Accounts,
           report: Report) -> None:
    if not (bundle / "state.json").exists():
        return  # no container: what it holds is found by the scans below
    live, why = _lost_reason(bundle, monitors)
    if live:
        accounts.live.add(bundle.name)
        return
    if why:
        write_atomic(bundle / LOST_FILE, why)
        report.lost[bundle.name] = why
    elif (bundle / "cleaned").exists():
        return  # released when it exited
    _release(containers, bundle, report)


def _release(containers: Containers, bundle: Path, report: Report) -> None:
    """The container's own cleanup (as its exit command runs it), naming what it removed."""
    held = _held(containers.config, ContainerRecord.load(bundle), bundle)
    try:
        containers.cleanup(bundle)
    except BerthError as exc:
        report.failed.append(f"what container {bundle.name} holds: {exc.message}")
    report.removed += [name for name, still_there in held if not still_there()]


def _held(config: RuntimeConfig, record: ContainerRecord, bundle: Path) -> list[tuple[str, object]]:
    """(name, check) of each kernel object a stopped container may still hold."""
    held = [(f"runc container {record.id}", (config.runc_root / record.id).exists)]
    for point in mounts.mount_points_under(bundle):
        held.append((f"mount {point}", lambda p=point: p in mounts.mount_points_under(p)))
    ns = config.run_dir / "userns" / record.id
    held.append((f"user namespace {ns}", ns.exists))
    if record.network.get("mode") == "bridge":
        ns, veth = links.NETNS_DIR / links.netns_name(config, record.id), links.host_veth_name(record.id)
        held += [(f"network namespace {ns.name}", ns.exists),
                 (f"veth {veth}", Path(f"/sys/class/net/{veth}").exists)]
        ip = record.network.get("ip")
        address = networks.by_bridge(config, record.network.get("bridge")).ipam_dir / str(ip)
        if address.exists():
            held.append((f"address {ip} of container {record.id}", address.exists))
        published = nft.published_ports(config) if record.network.get("ports") else set()
        for port in record.network.get("ports", ()):
            host, cport, proto, host_ip = tuple(port) + ("",) * (4 - len(port))  # older records: no address
            if (host_ip, host, proto) in published:
                held.append((f"published port {host_ip or '0.0.0.0'}:{host}/{proto} -> {ip}:{cport}",
                             lambda k=(host_ip, host, proto): k in nft.published_ports(config)))
    version = cgroups.detect_version()
    held.append((f"cgroup {record.cgroup_path}", lambda: bool(cgroups.cgroup_dirs(record.cgroup_path, version))))
    return [(name, check) for name, check in held if check()]


def _runc_leftovers(config: RuntimeConfig, accounts: _Accounts, report: Report) -> None:
    runc = Runc(config)
    for cid in os.listdir(config.runc_root) if config.runc_root.exists() else []:
        if cid.startswith(STEP_PREFIX) or accounts.owns(cid):
            continue
        try:
            runc.delete(cid, force=True)  # kills what still runs in it
            report.removed.append(f"runc container {cid}")
        except BerthError as exc:
            report.failed.append(f"runc container {cid}: {exc.message}")


def _monitor_leftovers(monitors: dict[str, int], accounts: _Accounts, report: Report) -> None:
    """conmons of removed or released containers: each ends once its container is
    deleted; one that does not (its container was never run by runc) is killed."""
    for name, pid in monitors.items():
        if accounts.owns(name):
            continue
        if not _exits(pid, _MONITOR_EXIT_SECONDS):
            os.kill(pid, signal.SIGKILL)
        report.removed.append(f"monitor conmon (PID {pid}) of container {name}")


def _exits(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


# the kernel objects of nobody

def _cgroup_leftovers(config: RuntimeConfig, accounts: _Accounts, report: Report) -> None:
    version = cgroups.detect_version()
    names = {child.name for top in cgroups.cgroup_dirs(config.cgroup_parent, version)
             for child in top.iterdir() if child.is_dir()}
    for name in sorted(names):
        if name.startswith(STEP_PREFIX) or accounts.owns(name):
            continue
        path = f"{config.cgroup_parent}/{name}"
        _kill_tasks(cgroups.cgroup_dirs(path, version))
        try:
            cgroups.remove(path, version)
            report.removed.append(f"cgroup {path}")
        except BerthError as exc:
            report.failed.append(f"cgroup {path}: {exc.message} ({exc.detail})")


def _kill_tasks(directories: list[Path]) -> None:
    """SIGKILL whatever still runs in a cgroup nobody owns: the kernel refuses to remove
    a cgroup with tasks (a container whose runc state went with /run, say)."""
    for directory in directories:
        for procs in directory.rglob("cgroup.procs"):
            for pid in procs.read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _wait_empty(procs)


def _wait_empty(procs: Path, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while procs.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.02)


def _mount_owner(config: RuntimeConfig, point: Path) -> str | None:
    try:
        return point.relative_to(config.containers_dir).parts[0]
    except (ValueError, IndexError):
        return None


def _mount_leftovers(config: RuntimeConfig, accounts: _Accounts, report: Report) -> None:
    for point in mounts.mount_points_under(config.state_dir):  # deepest first
        owner = _mount_owner(config, point)
        if owner is not None and accounts.owns(owner):
            continue
        try:
            mounts.umount(point)
            report.removed.append(f"mount {point}")
        except BerthError as exc:
            report.failed.append(f"mount {point}: {exc.message}")


def _userns_leftovers(config: RuntimeConfig, accounts: _Accounts, report: Report) -> None:
    folder = config.run_dir / "userns"
    for name in sorted(os.listdir(folder)) if folder.exists() else []:
        if not accounts.owns(name):
            userns.remove(folder / name)
            report.removed.append(f"user namespace {folder / name}")


def _network_leftovers(config: RuntimeConfig, accounts: _Accounts, report: Report) -> None:
    owners = _addresses(config)  # address -> (network, owner)
    for host_ip, host, proto, target in nft.port_targets(config):
        owner = owners.get(target, (None, ""))[1]
        if not (owner and accounts.owns(owner)):
            nft.remove_ports(config, [(host, 0, proto, host_ip)])
            report.removed.append(f"published port {host_ip or '0.0.0.0'}:{host}/{proto} -> {target}")
    _namespace_leftovers(config, accounts, report)
    for address, (net, owner) in sorted(owners.items()):
        if not owner.startswith(STEP_PREFIX) and not accounts.owns(owner):
            ipam.release(net, owner)
            report.removed.append(f"address {address} of container {owner}")


def _addresses(config: RuntimeConfig) -> dict[str, tuple[networks.Network, str]]:
    found = {}
    for net in [networks.default(config)] + networks.team_networks(config):
        for name in os.listdir(net.ipam_dir) if net.ipam_dir.exists() else []:
            if not name.startswith("."):
                found[name] = (net, (net.ipam_dir / name).read_text())
    return found


def _namespace_leftovers(config: RuntimeConfig, accounts: _Accounts, report: Report) -> None:
    prefix = f"{config.netns_prefix}-"
    names = os.listdir(links.NETNS_DIR) if links.NETNS_DIR.exists() else []
    for ns in sorted(n for n in names if n.startswith(prefix)):
        if not accounts.owns(ns.removeprefix(prefix)):
            netns.remove(ns)  # its veth pair goes with it
            report.removed.append(f"network namespace {ns}")
    for bridge in links.bridges_named(config.bridge):
        for veth in links.bridge_ports(bridge):
            if veth.startswith("bv") and not accounts.owns(veth[2:]) and _still_there(veth):
                links.remove_link(veth)
                report.removed.append(f"veth {veth} on {bridge}")


def _still_there(link: str, timeout: float = 0.5) -> bool:
    """The kernel frees a namespace's veths a moment after the namespace goes."""
    deadline = time.monotonic() + timeout
    while Path(f"/sys/class/net/{link}").exists():
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.01)
    return False


def _bundle_leftovers(config: RuntimeConfig, accounts: _Accounts, report: Report) -> None:
    """Bundle directories with no record: a removal cut short, or a creation that never
    wrote one (left alone while young: another process may be writing it now)."""
    for name in sorted(accounts.judged):
        bundle = config.containers_dir / name
        if bundle.is_dir() and not (bundle / "state.json").exists() and not _being_made(bundle) \
                and not mounts.mount_points_under(bundle):  # an unmount that failed: never rmtree into it
            shutil.rmtree(bundle)
            report.removed.append(f"bundle {bundle} (no record)")


def _being_made(bundle: Path) -> bool:
    """A run makes the directory and writes its record first (through a temporary file):
    anything else in a directory without a record is what a removal left."""
    return _young(bundle) and all(name.startswith(".state.json.") for name in os.listdir(bundle))
