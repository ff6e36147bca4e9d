"""The reconciler against real leftovers: made by hand, by SIGKILLing a monitor, by
deleting a bundle. Each is removed and named; a running container keeps everything."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path


from runtime.cgroups import paths as cgroups
from runtime.container.manager import RunRequest
from runtime.container.state import LOST, RUNNING, read_status
from runtime.linux import mounts
from runtime.network import ipam, links, netns, networks, nft
from runtime.network.ports import parse as port
from runtime.reconcile import reconcile
from tests.processes import port_for

MB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]


def sleeper(containers, **kwargs):
    manager, made = containers
    req = RunRequest(image="busybox", memory_bytes=32 * MB, command=("sleep", "600"), **kwargs)
    made.append(req.id)
    info = manager.run(req)
    assert info.status.state == RUNNING
    return info


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def objects_of(config, info) -> dict[str, bool]:
    """Whether each kernel object of a container is there."""
    cid, bundle = info.id, config.containers_dir / info.id
    return {
        "mount": bundle / "rootfs" / "merged" in mounts.mount_points_under(bundle),
        "netns": (links.NETNS_DIR / links.netns_name(config, cid)).exists(),
        "veth": Path(f"/sys/class/net/{links.host_veth_name(cid)}").exists(),
        "cgroup": bool(cgroups.cgroup_dirs(info.record.cgroup_path, cgroups.detect_version())),
        "ports": {(p[3], p[0], p[2]) for p in info.record.network["ports"]} <= nft.published_ports(config),
        "runc": (config.runc_root / cid).exists(),
    }


def _hand_made_cgroup(config, name: str) -> list[Path]:
    made = []
    for controller in ("memory", "pids"):
        top = cgroups.controller_root(controller, cgroups.detect_version())
        path = top / config.cgroup_parent.lstrip("/") / name
        path.mkdir(parents=True)
        made.append(path)
    return made


def _hand_made_veth(bridge: str, short: str) -> str:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        ipr.link("add", ifname=f"bv{short}", kind="veth", peer={"ifname": f"bp{short}"})
        index = ipr.link_lookup(ifname=f"bv{short}")[0]
        ipr.link("set", index=index, master=ipr.link_lookup(ifname=bridge)[0], state="up")
    return f"bv{short}"


def test_leftovers_of_nobody_are_removed_and_named_and_a_running_container_keeps_its_own(
        containers, runtime_config, store):
    config = runtime_config
    running = sleeper(containers, ports=(port(f"{port_for(18291)}:80"),))
    before = objects_of(config, running)
    ghost, lone = uuid.uuid4().hex, uuid.uuid4().hex  # containers that no longer exist
    merged = config.containers_dir / ghost / "rootfs" / "merged"
    merged.mkdir(parents=True)
    mounts.mount("tmpfs", merged, "tmpfs", "size=1m")
    netns.create(links.netns_name(config, ghost))
    veth = _hand_made_veth(config.bridge, lone[:12])
    address = ipam.allocate(networks.default(config), ghost)
    nft.add_ports(config, str(address), [(port_for(18292), 80, "tcp", "")])
    team = networks.for_team(config, f"ghost-{ghost[:6]}")
    links.ensure_bridge(team)
    nft.add_bridge(config, team.bridge)
    cgroup_dirs = _hand_made_cgroup(config, ghost)
    (store.tmp / f"layer-{ghost}.tar").write_bytes(b"half a layer")
    (store.tmp / f"step-{ghost[:12]}" / "upper").mkdir(parents=True)

    report = reconcile(config, containers[0])

    assert set(report.removed) >= {
        f"mount {merged}", f"network namespace {links.netns_name(config, ghost)}",
        f"veth {veth} on {config.bridge}", f"address {address} of container {ghost}",
        f"published port 0.0.0.0:{port_for(18292)}/tcp -> {address}", f"team network {team.bridge} (team {team.team})",
        f"cgroup {config.cgroup_parent}/{ghost}", f"unfinished work {store.tmp / f'layer-{ghost}.tar'}",
        f"unfinished work {store.tmp / f'step-{ghost[:12]}'}",
        f"bundle {config.containers_dir / ghost} (no record)"}, report.lines()
    assert not report.lost and not report.failed, report.lines()
    assert not any(running.id[:12] in item for item in report.removed), report.lines()
    assert not (config.containers_dir / ghost).exists() and not any(d.exists() for d in cgroup_dirs)
    assert not list(store.tmp.iterdir())
    assert not Path(f"/sys/class/net/{veth}").exists() and team.bridge not in nft.bridges(config)
    assert config.bridge in nft.bridges(config)  # the default network stays
    assert objects_of(config, running) == before and all(before.values())
    assert containers[0].get(running.id).status.state == RUNNING
    assert reconcile(config, containers[0]).lines() == []  # nothing more, the second time


def test_a_container_whose_monitor_was_killed_is_marked_lost_and_released(containers, runtime_config):
    config = runtime_config
    info = sleeper(containers, ports=(port(f"{port_for(18293)}:80"),))
    bundle = config.containers_dir / info.id
    init_pid = int((bundle / "init.pid").read_text())
    os.kill(int((bundle / "conmon.pid").read_text()), signal.SIGKILL)
    time.sleep(0.1)
    assert alive(init_pid), "the container outlives its monitor"

    report = reconcile(config, containers[0])

    assert "monitor (conmon) is gone" in report.lost[info.id]
    ns, veth = links.netns_name(config, info.id), links.host_veth_name(info.id)
    assert set(report.removed) >= {
        f"runc container {info.id}", f"mount {bundle / 'rootfs' / 'merged'}", f"network namespace {ns}",
        f"veth {veth}", f"address {info.record.network['ip']} of container {info.id}",
        f"published port 0.0.0.0:{port_for(18293)}/tcp -> {info.record.network['ip']}:80",
        f"cgroup {info.record.cgroup_path}", f"user namespace {config.run_dir / 'userns' / info.id}"}, report.lines()
    assert not any(objects_of(config, info).values())
    deadline = time.monotonic() + 5
    while alive(init_pid):
        assert time.monotonic() < deadline, "the orphaned container still runs"
        time.sleep(0.02)
    assert read_status(bundle).state == LOST
    assert (bundle / "lost").read_text() == report.lost[info.id]
    assert reconcile(config, containers[0]).lines() == []  # marked once, not again


def test_the_monitor_of_a_deleted_bundle_is_stopped_and_its_objects_removed(containers, runtime_config):
    config = runtime_config
    info = sleeper(containers, ports=(port(f"{port_for(18294)}:80"),))
    bundle = config.containers_dir / info.id
    conmon = int((bundle / "conmon.pid").read_text())
    # Its files deleted by hand; not rmtree: that would walk into the mounted root, and through
    # an idmapped mount into the image's own layer.
    for entry in bundle.iterdir():
        if entry.is_file():
            entry.unlink()
    assert not (bundle / "state.json").exists() and alive(conmon)

    report = reconcile(config, containers[0])

    assert set(report.removed) >= {
        f"runc container {info.id}", f"monitor conmon (PID {conmon}) of container {info.id}",
        f"mount {bundle / 'rootfs' / 'merged'}", f"network namespace {links.netns_name(config, info.id)}",
        f"address {info.record.network['ip']} of container {info.id}",
        f"published port 0.0.0.0:{port_for(18294)}/tcp -> {info.record.network['ip']}",
        f"bundle {bundle} (no record)"}, report.lines()  # its cgroup went with the runc container
    assert not alive(conmon) and not bundle.exists()
    assert not any(objects_of(config, info).values())


def test_cli_reconcile_prints_what_it_removed(no_leaks, runtime_config):
    config = runtime_config
    ghost = uuid.uuid4().hex
    netns.create(links.netns_name(config, ghost))
    cli = [sys.executable, "-m", "runtime", "--state-dir", str(config.state_dir), "--run-dir", str(config.run_dir),
           "--bridge", config.bridge, "--subnet", config.subnet, "--nft-table", config.nft_table,
           "--cgroup-parent", config.cgroup_parent, "--netns-prefix", config.netns_prefix, "reconcile"]
    first = subprocess.run(cli, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert f"removed network namespace {links.netns_name(config, ghost)}" in first.stdout.splitlines()
    again = subprocess.run(cli, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert again.stdout.strip() == "nothing left behind", again.stdout + again.stderr

