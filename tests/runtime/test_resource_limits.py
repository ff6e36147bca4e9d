"""cpuset, memory+swap and block IO limits: runc writes them into the container's
cgroup (v1 or v2 files), read here from the host while the container runs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.cgroups import limits, paths as cgroups
from runtime.container.manager import Containers, RunRequest
from runtime.errors import InvalidSpec, MissingKernelFeature

MB = 1024 * 1024


@pytest.fixture
def containers(no_leaks, runtime_config, store):
    manager = Containers(runtime_config, store)
    made = []

    def run(**kwargs):
        req = RunRequest(**{"image": "busybox", "memory_bytes": 64 * MB, "command": ("sleep", "30"), **kwargs})
        made.append(req.id)
        return manager.run(req)

    yield manager, run
    for cid in made:
        if manager.exists(cid):
            manager.remove(cid, force=True)


def a_whole_disk() -> str:
    for disk in sorted(os.listdir("/sys/block")):
        if not disk.startswith(("loop", "ram")) and Path(f"/dev/{disk}").exists():
            return f"/dev/{disk}"
    pytest.skip("no block device on this host to throttle")


def cgroup_file(manager: Containers, info, controller: str, v1_name: str, v2_name: str) -> str:
    version = manager.cgroup_version
    top = cgroups.controller_root(controller, version)
    return (top / info.record.cgroup_path.lstrip("/") / (v2_name if version == 2 else v1_name)).read_text()


def test_cpuset_swap_and_device_rates_are_in_the_running_containers_cgroup(containers):
    manager, run = containers
    disk = a_whole_disk()
    major, minor = limits.device_numbers(disk)
    info = run(cpuset_cpus="0", memory_swap_bytes=96 * MB,
               device_read_bps=((disk, 1 * MB),), device_write_bps=((disk, 2 * MB),))
    assert cgroup_file(manager, info, "cpuset", "cpuset.cpus", "cpuset.cpus").strip() == "0"
    swap = cgroup_file(manager, info, "memory", "memory.memsw.limit_in_bytes", "memory.swap.max").strip()
    # v1 counts memory and swap together; v2 counts the swap alone.
    assert int(swap) == (96 * MB if manager.cgroup_version == 1 else 32 * MB)
    if manager.cgroup_version == 1:
        assert f"{major}:{minor} {MB}" in cgroup_file(manager, info, "blkio", "blkio.throttle.read_bps_device", "")
        assert f"{major}:{minor} {2 * MB}" in cgroup_file(manager, info, "blkio", "blkio.throttle.write_bps_device", "")
    else:
        io_max = cgroup_file(manager, info, "io", "", "io.max")
        assert f"{major}:{minor} rbps={MB} wbps={2 * MB}" in io_max


def test_blkio_weight_is_applied_where_the_host_offers_it_and_refused_with_the_reason_elsewhere(containers):
    manager, run = containers
    try:
        limits.check_blkio_weight(manager.cgroup_version)
    except MissingKernelFeature:
        with pytest.raises(MissingKernelFeature, match="block IO weight is not available on this host.*BFQ"):
            run(blkio_weight=300)
        return
    info = run(blkio_weight=300)
    names = ("blkio.bfq.weight", "blkio.weight") if manager.cgroup_version == 1 else ("io.bfq.weight", "io.weight")
    top = cgroups.controller_root("blkio", manager.cgroup_version) / info.record.cgroup_path.lstrip("/")
    assert any("300" in (top / n).read_text() for n in names if (top / n).exists())


@pytest.mark.parametrize("kwargs, message", [
    ({"cpuset_cpus": "0,64"}, "cpuset 0,64 names CPU 64, but this host's CPUs are"),
    ({"cpuset_cpus": "one"}, "cpuset 'one' is not a CPU list"),
    ({"memory_swap_bytes": 32 * MB}, "memory\\+swap limit .* is below the memory limit"),
    ({"device_read_bps": (("/etc/passwd", MB),)}, "/etc/passwd is not a block device"),
    ({"device_write_bps": (("/dev/nonexistent", MB),)}, "block device /dev/nonexistent: No such file"),
    ({"network_receive_bps": 10}, "network receive rate 10 bytes/s is outside"),
])
def test_bad_limits_are_refused_before_anything_starts(containers, runtime_config, kwargs, message):
    _, run = containers
    before = set(runtime_config.containers_dir.iterdir())
    with pytest.raises(InvalidSpec, match=message):
        run(**kwargs)
    assert set(runtime_config.containers_dir.iterdir()) == before  # no bundle made
