"""Named volumes and bind mounts on real containers: kept, shared in order, read-only, refused when bad."""
from __future__ import annotations

import subprocess
import sys

import pytest

from runtime.container import volumes
from runtime.errors import InvalidSpec, InvalidState

from .test_containers import output, run

pytestmark = pytest.mark.root


def _cleanup(manager, *names):
    for name in names:
        if name in manager.volumes.names():
            manager.remove_volume(name)


def test_a_file_written_to_a_volume_is_read_by_the_next_container(containers):
    manager, _ = containers
    mount = volumes.parse("vt-data:/data")
    try:
        first = run(containers, command=("sh", "-c", "echo kept > /data/note"), volumes=(mount,))
        output(manager, first.id)
        manager.remove(first.id)
        assert "vt-data" in manager.volumes.names()  # kept after its container is gone
        second = run(containers, command=("cat", "/data/note"), volumes=(mount,))
        assert output(manager, second.id) == "kept"
    finally:
        for info in manager.list():
            manager.remove(info.id, force=True)
        _cleanup(manager, "vt-data")


def test_a_read_only_mount_refuses_writes(containers):
    manager, _ = containers
    try:
        info = run(containers, command=("sh", "-c", "echo x > /data/f && echo wrote || echo refused"),
                   volumes=(volumes.parse("vt-ro:/data:ro"),))
        text = output(manager, info.id)
        assert "refused" in text.splitlines() and "Read-only file system" in text, text  # stderr and stdout in any order
    finally:
        for info in manager.list():
            manager.remove(info.id, force=True)
        _cleanup(manager, "vt-ro")


def test_a_volume_in_use_is_not_removed(containers):
    manager, _ = containers
    info = run(containers, command=("true",), volumes=(volumes.parse("vt-used:/data"),))
    output(manager, info.id)
    with pytest.raises(InvalidState, match="volume vt-used is in use by container"):
        manager.remove_volume("vt-used")
    assert "vt-used" in manager.volumes.names()
    manager.remove(info.id)
    manager.remove_volume("vt-used")
    assert "vt-used" not in manager.volumes.names()


def test_a_host_path_is_bind_mounted(containers, tmp_path):
    manager, _ = containers
    (tmp_path / "hello").write_text("from the host\n")
    # In a user namespace the container's root is an unprivileged host uid (as under Docker's
    # userns-remap): it reads a host path only where others may. pytest makes tmp_path 0700.
    tmp_path.chmod(0o755)
    info = run(containers, command=("cat", "/mnt/hello"), volumes=(volumes.parse(f"{tmp_path}:/mnt:ro"),))
    assert output(manager, info.id) == "from the host"


@pytest.mark.parametrize("text, message", [
    ("../etc:/data", r"volume name '\.\./etc' must be .*\(no / or \.\.\)"), ("a/b:/data", "volume name 'a/b'"),
    ("data:relative", "must be an absolute path"), ("data:/", "other than /"), ("data:/x/../y", "without .."),
    ("data:/x:rx", "is not NAME:/PATH"), ("/etc/../root:/x", "must not contain .."),
])
def test_bad_volumes_are_refused_before_anything_starts(text, message):
    with pytest.raises(InvalidSpec, match=message):
        volumes.parse(text)


def test_cli_volume_ls_create_rm(runtime_config):
    cli = [sys.executable, "-m", "runtime", "--state-dir", str(runtime_config.state_dir),
           "--run-dir", str(runtime_config.run_dir)]
    subprocess.run(cli + ["volume", "create", "vt-cli"], check=True, capture_output=True)
    listed = subprocess.run(cli + ["volume", "ls"], check=True, capture_output=True, text=True).stdout
    assert "vt-cli" in listed
    bad = subprocess.run(cli + ["volume", "create", "no/slash"], capture_output=True, text=True)
    assert bad.returncode == 125 and "no / or .." in bad.stderr
    subprocess.run(cli + ["volume", "rm", "vt-cli"], check=True, capture_output=True)
    assert "vt-cli" not in subprocess.run(cli + ["volume", "ls"], capture_output=True, text=True).stdout
