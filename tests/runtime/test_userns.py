"""User namespaces: root in the container, an unprivileged uid on the host; volumes and
published ports still work; the spec, the probe's refusals and the switch."""
from __future__ import annotations

import dataclasses
import os
import tarfile
import time
import uuid

import pytest

from runtime.build.builder import BuildOptions, build
from runtime.config import RuntimeConfig
from runtime.container import spec as specs
from runtime.container.manager import Containers, RunRequest, userns_problem
from runtime.container.volumes import parse as volume
from runtime.errors import InvalidSpec
from runtime.network.ports import parse as port

from .test_containers import _fetch
from tests.processes import port_for

MB = 1024 * 1024


@pytest.fixture
def manager(no_leaks, runtime_config, store):
    made: list[str] = []

    def make(config=runtime_config) -> tuple[Containers, list[str]]:
        return Containers(config, store), made

    yield make
    cleaner = Containers(runtime_config, store)
    for cid in made:
        if cleaner.exists(cid):
            cleaner.remove(cid, force=True)


def start(containers: tuple[Containers, list[str]], command: str, **kwargs):
    manager, made = containers
    req = RunRequest(image="busybox", memory_bytes=32 * MB, command=("sh", "-c", command), **kwargs)
    made.append(req.id)
    return manager.run(req)


def host_uid_of_init(config: RuntimeConfig, cid: str) -> int:
    pid = (config.containers_dir / cid / "init.pid").read_text()
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Uid:"))


def log_text(manager: Containers, cid: str, wanted: str) -> str:
    deadline = time.monotonic() + 10
    while wanted not in (text := "\n".join(line.text for line in manager.logs(cid))):
        assert time.monotonic() < deadline, f"no {wanted!r} in the log: {text!r}"
        time.sleep(0.02)
    return text


def test_root_in_the_container_is_an_unprivileged_uid_on_the_host(manager, runtime_config):
    containers = manager()
    assert containers[0].userns_problem() is None, "this host runs containers in user namespaces"
    info = start(containers, "id -u; echo made > /made-by-root; echo written; sleep 600")
    first = runtime_config.userns_range[0]
    assert log_text(containers[0], info.id, "written").splitlines()[0] == "0"
    assert host_uid_of_init(runtime_config, info.id) == first != 0
    upper = runtime_config.containers_dir / info.id / "rootfs" / "upper"
    assert os.stat(upper / "made-by-root").st_uid == first


def test_with_userns_off_root_in_the_container_is_host_root(manager, runtime_config):
    containers = manager(dataclasses.replace(runtime_config, userns="off"))
    info = start(containers, "echo started; sleep 600")
    log_text(containers[0], info.id, "started")
    assert host_uid_of_init(runtime_config, info.id) == 0


def test_a_named_volume_is_writable_and_a_published_port_answers(manager, runtime_config):
    containers = manager()
    name = f"uns-{uuid.uuid4().hex[:8]}"
    info = start(containers, "echo kept > /data/page && httpd -f -p 80 -h /data",
                 ports=(port(f"{port_for(18297)}:80"),), volumes=(volume(f"{name}:/data"),))
    try:
        assert _fetch(f"http://127.0.0.1:{port_for(18297)}/page").strip() == "kept"
        data = containers[0].volumes.path(name)
        assert os.stat(data / "page").st_uid == runtime_config.userns_range[0]
    finally:
        containers[0].remove(info.id, force=True)
        containers[0].remove_volume(name)


def test_the_spec_joins_the_user_namespace_with_its_mapping():
    draft = specs.ContainerSpec(rootfs="/r", hostname="h", process=specs.ProcessSpec(args=("true",)),
                                cgroup_path="/c", memory_bytes=64 * MB, pids_limit=10,
                                userns_path="/run/berth/userns/c1", userns_range=(1_000_000_000, 65536))
    made = specs.make_spec(draft)["linux"]
    assert {"type": "user", "path": "/run/berth/userns/c1"} in made["namespaces"]
    mapping = [{"containerID": 0, "hostID": 1_000_000_000, "size": 65536}]
    assert made["uidMappings"] == made["gidMappings"] == mapping
    with pytest.raises(InvalidSpec, match="both its path and its id range"):
        specs.validate(dataclasses.replace(draft, userns_range=None))


def test_the_probe_says_why_user_namespaces_are_off(tmp_path):
    os.chmod(tmp_path, 0o700)
    hidden = RuntimeConfig(state_dir=tmp_path / "state", run_dir=tmp_path / "run")
    assert f"{tmp_path} is not searchable by others" in userns_problem(hidden)
    assert userns_problem(dataclasses.replace(hidden, userns="off")) == "turned off (userns = off)"
    with pytest.raises(InvalidSpec, match="must start at 65536"):
        RuntimeConfig(userns_range=(0, 65536))


def _keys_of(uid: int) -> int:
    """How many keys the kernel counts against ``uid`` (its quota is kernel.keys.maxkeys)."""
    with open("/proc/key-users") as f:
        for line in f:
            owner, _, rest = line.partition(":")
            if int(owner) == uid:
                return int(rest.split()[2].split("/")[0])
    return 0


def test_containers_take_no_keys_from_the_mapped_uids_quota(manager, runtime_config):
    """Every container's root is the same host uid; a session keyring each would stop the
    200th container (non-root key quota 200), so none is made."""
    containers = manager()
    first = runtime_config.userns_range[0]
    before = _keys_of(first)
    infos = [start(containers, "sleep 600") for _ in range(3)]
    assert all(host_uid_of_init(runtime_config, info.id) == first for info in infos)
    assert _keys_of(first) <= before  # without --no-new-keyring: before + 3


# Build steps: RUN runs in a user namespace mapped as containers are; the layer keeps the
# owners seen inside it, so the image is the same as one built without user namespaces.

STEPS = """FROM busybox
RUN cat /proc/self/uid_map > /uid_map
RUN echo made > /made-by-root && touch /setuid && chmod 4755 /setuid && mkdir -p /home/bob \\
    && echo 'bob:x:1000:1000::/home/bob:/bin/sh' >> /etc/passwd && touch /home/bob/file \\
    && chown -R bob:1000 /home/bob
"""


def _built(runtime_config, store, tmp_path, config=None) -> tuple[dict[str, tarfile.TarInfo], str]:
    """Each file of the image's RUN layers (the top one wins), and what /uid_map holds."""
    image = build(config or runtime_config, store, STEPS, tmp_path, BuildOptions(memory_bytes=64 * MB, no_cache=True),
                  lambda line: None)
    entries: dict[str, tarfile.TarInfo] = {}
    for digest in image.layers[-2:]:
        with tarfile.open(store.blob_path(digest)) as tar:
            for info in tar.getmembers():
                entries[info.name] = info
                if info.name == "uid_map":
                    uid_map = tar.extractfile(info).read().decode()
    return entries, uid_map


def test_a_run_step_runs_in_the_containers_user_namespace_mapping(no_leaks, runtime_config, store, tmp_path):
    _, uid_map = _built(runtime_config, store, tmp_path)
    first, count = runtime_config.userns_range
    assert uid_map.split() == ["0", str(first), str(count)]


def test_files_of_a_run_step_keep_the_owners_seen_inside_it(no_leaks, runtime_config, store, tmp_path):
    entries, _ = _built(runtime_config, store, tmp_path)
    assert (entries["made-by-root"].uid, entries["made-by-root"].gid) == (0, 0)  # not 1000000000
    assert (entries["uid_map"].uid, entries["etc/passwd"].uid) == (0, 0)
    assert (entries["home/bob"].uid, entries["home/bob"].gid) == (1000, 1000)
    assert (entries["home/bob/file"].uid, entries["home/bob/file"].gid) == (1000, 1000)
    assert entries["setuid"].mode == 0o4755 and entries["setuid"].uid == 0  # the shift back kept its setuid bit


def test_without_user_namespaces_a_run_step_is_host_root_and_its_layer_the_same(no_leaks, runtime_config, store,
                                                                                tmp_path):
    entries, uid_map = _built(runtime_config, store, tmp_path, dataclasses.replace(runtime_config, userns="off"))
    assert uid_map.split() == ["0", "0", "4294967295"]
    assert (entries["home/bob/file"].uid, entries["made-by-root"].uid, entries["setuid"].mode) == (1000, 0, 0o4755)
