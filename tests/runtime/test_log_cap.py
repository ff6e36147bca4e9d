"""A container's own log cap (set by an admin per app) reaches its conmon; too small is refused."""
from __future__ import annotations

import psutil
import pytest

from runtime.container.manager import MIN_LOG_SIZE, Containers, RunRequest
from runtime.errors import InvalidSpec


def conmon_cap(bundle) -> int:
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "conmon" and str(bundle) in " ".join(cmdline):
            return int(cmdline[cmdline.index("--log-size-max") + 1])
    raise AssertionError(f"no conmon for {bundle}")


def test_the_containers_own_cap_or_else_the_hosts(no_leaks, runtime_config, store):
    manager = Containers(runtime_config, store)
    own = manager.run(RunRequest(image="busybox", memory_bytes=32 << 20, network="none", command=("sleep", "30"),
                                 log_size_max=2 << 20))
    host = manager.run(RunRequest(image="busybox", memory_bytes=32 << 20, network="none", command=("sleep", "30")))
    try:
        assert conmon_cap(manager.bundle(own.id)) == 2 << 20
        assert conmon_cap(manager.bundle(host.id)) == runtime_config.log_size_max
    finally:
        manager.remove(own.id, force=True)
        manager.remove(host.id, force=True)


def test_a_cap_below_the_least_is_refused_before_anything_starts(no_leaks, runtime_config, store):
    manager = Containers(runtime_config, store)
    request = RunRequest(image="busybox", memory_bytes=32 << 20, network="none", log_size_max=1000)
    with pytest.raises(InvalidSpec, match=f"a log size cap of 1000 bytes is below the least, {MIN_LOG_SIZE}"):
        manager.run(request)
    assert not manager.bundle(request.id).exists()
