"""Pull and push through a real distribution registry on loopback, with and without a login."""
from __future__ import annotations

import dataclasses

import pytest

from runtime.build.builder import BuildOptions, build
from runtime.container.manager import Containers, RunRequest
from runtime.errors import DockerfileError, InvalidSpec, RegistryError
from runtime.image import transfer
from runtime.image.registry import parse_registry
from runtime.image.store import ImageStore

from .registry_server import PASSWORD, RegistryServer, free_port
from .test_containers import output

MB = 1024 * 1024
HELLO = 'FROM busybox\nRUN echo "made on host A" > /made\nCMD ["cat", "/made"]\n'


@pytest.fixture(scope="module")
def open_registry(tmp_path_factory):
    server = RegistryServer(tmp_path_factory.mktemp("registry-open"), with_login=False)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def locked_registry(tmp_path_factory):
    server = RegistryServer(tmp_path_factory.mktemp("registry-locked"), with_login=True)
    yield server
    server.stop()


@pytest.fixture
def other_host_store(runtime_config, tmp_path):
    """The image store of a second host: nothing in it but what it pulls."""
    return ImageStore(dataclasses.replace(runtime_config, state_dir=tmp_path / "host-b"))


def _build(store, runtime_config, tmp_path, text, tag=None, registries=()):
    context = tmp_path / "context"
    context.mkdir(exist_ok=True)
    lines = []
    image = build(runtime_config, store, text, context,
                  BuildOptions(tag=tag, memory_bytes=128 * MB, registries=registries), lines.append)
    return image, lines


def _run_output(runtime_config, store, image: str) -> str:
    manager = Containers(runtime_config, store)
    info = manager.run(RunRequest(image=image, memory_bytes=64 * MB, network="none"))
    try:
        return output(manager, info.id)
    finally:
        manager.remove(info.id, force=True)


def test_an_image_built_on_one_host_runs_on_another_through_the_registry(
        open_registry, runtime_config, store, other_host_store, tmp_path, no_leaks):
    made, _ = _build(store, runtime_config, tmp_path, HELLO, tag="hello-registry:1")
    remote = f"{open_registry.host}/team/hello:1"
    registries = (parse_registry(open_registry.url()),)
    transfer.push(store, "hello-registry:1", remote, registries)

    # Host B builds FROM the pushed image: the store lacks it, so the builder pulls it.
    image, lines = _build(other_host_store, runtime_config, tmp_path,
                          f"FROM {remote}\nLABEL pulled=yes\n", tag="hello-b", registries=registries)
    assert any(line == f"Pulling {remote}" for line in lines)
    pulled = other_host_store.resolve(remote)
    assert pulled.id == made.id  # the same image, byte for byte: same config digest
    assert image.layers == made.layers
    assert _run_output(runtime_config, other_host_store, "hello-b") == "made on host A"


def test_a_bare_name_is_pulled_from_the_configured_registry(open_registry, store, other_host_store,
                                                            runtime_config, tmp_path):
    _build(store, runtime_config, tmp_path, HELLO, tag="hello-bare:1")
    registries = (parse_registry(open_registry.url()),)
    transfer.push(store, "hello-bare:1", f"{open_registry.host}/tools/hello-bare:1", registries)
    image = transfer.pull(other_host_store, "tools/hello-bare:1", registries)
    assert image.name == f"{open_registry.host}/tools/hello-bare:1"


def test_a_registry_with_a_login_refuses_without_it_and_accepts_with_it(
        locked_registry, store, other_host_store, runtime_config, tmp_path):
    _build(store, runtime_config, tmp_path, HELLO, tag="hello-locked:1")
    remote = f"{locked_registry.host}/team/locked:1"
    with pytest.raises(RegistryError, match=f"registry {locked_registry.host} refused access .* needs a login"):
        transfer.push(store, "hello-locked:1", remote, (parse_registry(locked_registry.url()),))
    wrong = (parse_registry(locked_registry.url(login=True, password="not-" + PASSWORD)),)
    with pytest.raises(RegistryError, match="wrong user name or password"):
        transfer.push(store, "hello-locked:1", remote, wrong)
    right = (parse_registry(locked_registry.url(login=True)),)
    transfer.push(store, "hello-locked:1", remote, right)
    assert transfer.pull(other_host_store, remote, right).name == remote
    with pytest.raises(RegistryError, match="needs a login"):
        transfer.pull(other_host_store, remote, (parse_registry(locked_registry.url()),))


def test_a_plain_http_registry_not_configured_as_such_is_explained(open_registry, other_host_store):
    with pytest.raises(RegistryError, match=f"answers in plain HTTP.*configure it as http://{open_registry.host}"):
        transfer.pull(other_host_store, f"{open_registry.host}/team/hello:1", ())


def test_an_unreachable_registry_fails_the_build_naming_the_image_and_the_registry(store, runtime_config, tmp_path):
    nowhere = f"127.0.0.1:{free_port()}"
    with pytest.raises(DockerfileError) as caught:
        _build(store, runtime_config, tmp_path, f"FROM {nowhere}/team/app:1\n",
               registries=(parse_registry(f"http://{nowhere}"),))
    message = str(caught.value)
    assert message.startswith("Dockerfile line 1: ")
    assert f"{nowhere}/team/app:1" in message and f"registry {nowhere} is unreachable" in message


def test_a_missing_image_fails_the_build_naming_it_and_the_registry(open_registry, store, runtime_config, tmp_path):
    with pytest.raises(DockerfileError, match=f"image {open_registry.host}/team/nothing:1 is not in registry "
                                              f"{open_registry.host}"):
        _build(store, runtime_config, tmp_path, f"FROM {open_registry.host}/team/nothing:1\n",
               registries=(parse_registry(open_registry.url()),))


def test_a_bare_name_missing_everywhere_says_no_registry_is_configured(store, runtime_config, tmp_path):
    with pytest.raises(DockerfileError, match="'nosuchbase:1' is not in the local store .* no registry is configured"):
        _build(store, runtime_config, tmp_path, "FROM nosuchbase:1\n")


@pytest.mark.parametrize("url, message", [
    ("127.0.0.1:5000", "must be a URL"),
    ("ftp://registry.example", "must be a URL"),
    ("http://registry.example/v2/", "only a host and port"),
    ("http://registry.example:port", "bad port"),
    ("http://user:hunter2@registry.example/x", "only a host and port"),
])
def test_a_malformed_registry_is_refused_without_showing_its_password(url, message):
    with pytest.raises(InvalidSpec, match=message) as caught:
        parse_registry(url)
    assert "hunter2" not in str(caught.value)


def test_push_needs_a_registry_in_the_destination(store):
    with pytest.raises(InvalidSpec, match="names no registry"):
        transfer.push(store, "busybox", "team/app:1", ())
