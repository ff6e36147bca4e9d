"""debian:bookworm-slim from debootstrap, and examples/flask-app built FROM it, answering on its port."""
from __future__ import annotations

import shutil
import time
import urllib.request

import pytest

from runtime.build.builder import BuildOptions, build
from runtime.container.manager import Containers, RunRequest
from runtime.errors import MissingKernelFeature
from runtime.image.bootstrap import bootstrap_debian
from runtime.network.ports import parse as parse_port

from ..conftest import EXAMPLES
from .registry_server import free_port

MB = 1024 * 1024


@pytest.fixture(scope="module")
def debian(store):
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is not installed: `make test` installs it")
    try:
        return bootstrap_debian(store)
    except MissingKernelFeature as exc:
        if "mirror" in exc.message:  # the one thing this machine may lack: a way to the Debian mirror
            pytest.skip(f"debian cannot be bootstrapped here: {exc.message}")
        raise


def test_the_slim_image_has_apt_and_no_documentation(debian, store):
    assert debian.name == "debian:bookworm-slim"
    root = store.layer_dir(debian.layers[0])
    assert (root / "usr/bin/apt-get").exists() and (root / "bin/bash").exists()
    assert not any((root / "usr/share/man").iterdir())
    assert (root / "etc/dpkg/dpkg.cfg.d/berth-slim").exists()


def test_the_flask_example_builds_and_answers_on_its_port(debian, store, runtime_config, no_leaks):
    lines: list[str] = []
    build(runtime_config, store, (EXAMPLES / "flask-app" / "Dockerfile").read_text(), EXAMPLES / "flask-app",
          BuildOptions(tag="flask-example", memory_bytes=512 * MB, timeout_seconds=900), lines.append)
    manager = Containers(runtime_config, store)
    port = free_port()
    info = manager.run(RunRequest(image="flask-example", memory_bytes=128 * MB, ports=(parse_port(f"{port}:5000"),)))
    try:
        deadline, body = time.monotonic() + 30, ""
        while time.monotonic() < deadline:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.3)
        assert body.startswith("Hello from Flask ") and "in a Berth container" in body
    finally:
        manager.remove(info.id, force=True)
