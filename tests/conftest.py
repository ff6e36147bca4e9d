"""Shared fixtures: a real Redis, a runtime instance of the tests' own, and a leak check.

Every name the test runtime creates in the kernel (bridge, nftables table,
cgroup parent, netns prefix) is unique to this run, so the suite never touches
a Berth started with `make run` on the same machine.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

os.environ.setdefault("BERTH_TEST_REDIS_PORT", "6399")
REDIS_PORT = int(os.environ["BERTH_TEST_REDIS_PORT"])

from runtime.cgroups import paths as cgroups  # noqa: E402
from runtime.container.manager import Containers  # noqa: E402
from runtime.config import RuntimeConfig  # noqa: E402
from runtime.image.bootstrap import bootstrap_busybox  # noqa: E402
from runtime.image.store import ImageStore  # noqa: E402
from runtime.network import provider  # noqa: E402

from . import leaks  # noqa: E402

RUN_ID = secrets.token_hex(3)
LEAK_BASELINE: dict = {}


def pytest_collection_modifyitems(items):
    # The leak check runs last, after every other test has cleaned up.
    items.sort(key=lambda item: item.nodeid.startswith("tests/test_zz_leaks.py"))


def _redis_up() -> bool:
    return subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "ping"], capture_output=True).returncode == 0


@pytest.fixture(scope="session", autouse=True)
def redis_server(tmp_path_factory):
    """A Redis of the tests' own, on the test port, with nothing saved to disk."""
    if shutil.which("redis-server") is None:
        pytest.exit("redis-server is not installed: run `make test`, which installs it", returncode=1)
    proc = None
    if not _redis_up():
        workdir = tmp_path_factory.mktemp("redis")
        proc = subprocess.Popen(["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _redis_up():
            assert time.monotonic() < deadline, "the test Redis did not start"
            time.sleep(0.05)
    subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "flushall"], capture_output=True, check=True)
    yield f"redis://127.0.0.1:{REDIS_PORT}"
    if proc:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def runtime_config(tmp_path_factory) -> RuntimeConfig:
    if os.geteuid() != 0:
        pytest.skip("needs root: runc, overlay mounts, network namespaces and cgroups")
    base = tmp_path_factory.mktemp("berth")
    # pytest makes its directories 0700; a container's root, mapped to an unprivileged host
    # uid by its user namespace, must be able to reach its own root below them.
    for path in (base, *base.parents):
        if path == Path(tempfile.gettempdir()):
            break
        path.chmod(path.stat().st_mode | 0o011)
    config = RuntimeConfig(
        state_dir=base / "state", run_dir=base / "run", bridge=f"bt{RUN_ID}",
        subnet=f"10.198.{int(RUN_ID[:2], 16)}.0/24", nft_table=f"berth_test_{RUN_ID}",
        cgroup_parent=f"/berth-test-{RUN_ID}", netns_prefix=f"bt{RUN_ID}")
    LEAK_BASELINE.update(leaks.snapshot(config))
    LEAK_BASELINE["config"] = config
    yield config
    provider.remove_host(config)
    cgroups.remove(config.cgroup_parent, cgroups.detect_version())


@pytest.fixture(scope="session")
def store(runtime_config) -> ImageStore:
    store = ImageStore(runtime_config)
    bootstrap_busybox(store)
    return store


@pytest.fixture
def no_leaks(runtime_config):
    """Asserts that the test left no mount, netns, veth, cgroup, port or monitor behind."""
    before = leaks.snapshot(runtime_config)
    yield
    deadline = time.monotonic() + 5
    while True:
        left = leaks.left_behind(before, leaks.snapshot(runtime_config))
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not left, f"left behind: {left}"


@pytest.fixture
def containers(no_leaks, runtime_config, store):
    """A container manager whose containers are removed after the test, which then checks for leaks."""
    manager = Containers(runtime_config, store)
    made = []
    yield manager, made
    for cid in made:
        if manager.exists(cid):
            manager.remove(cid, force=True)


@pytest.fixture
def agent(request, no_leaks, runtime_config, store, redis_server):
    """A host agent's context on the test Redis (database 0, the one the web tests read),
    emptied first; containers the test lists in ``made`` are removed afterwards.
    A test marked ``log_cap`` gets containers with that log size cap."""
    import dataclasses

    import redis

    from runtime.container.manager import Containers
    from workers.agent.context import AgentContext

    cap = request.node.get_closest_marker("log_cap")
    config = dataclasses.replace(runtime_config, log_size_max=cap.args[0]) if cap else runtime_config
    client = redis.Redis(port=REDIS_PORT, db=0)
    client.flushdb()
    ctx = AgentContext("test-host", Containers(config, store), store, client)
    made: list[str] = []
    yield ctx, made
    for cid in made:
        ctx.containers.remove(cid, force=True)
    client.close()


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
