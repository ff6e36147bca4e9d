"""The builder on real runc: the example builds, layers hold exactly each step's change,
and bad Dockerfiles fail naming their line with nothing left in the store."""
from __future__ import annotations

import os
import tarfile
import time

import pytest

from runtime.build.builder import BuildOptions, build
from runtime.errors import DockerfileError

from ..conftest import EXAMPLES


@pytest.fixture
def builder(no_leaks, runtime_config, store):
    def run(text: str, context, tag: str | None = None):
        lines: list[str] = []
        # Without the cache: these tests watch the steps run (tests/runtime/test_build_cache.py has the cache).
        options = BuildOptions(tag=tag, memory_bytes=256 << 20, no_cache=True)
        image = build(runtime_config, store, text, context, options, lines.append)
        return image, lines
    return run


def layer_names(store, digest: str) -> list[str]:
    with tarfile.open(store.blob_path(digest)) as tar:
        return tar.getnames()


def test_hello_web_builds_with_run_output_and_one_layer_per_step(builder, store):
    text = (EXAMPLES / "hello-web" / "Dockerfile").read_text()
    image, lines = builder(text, EXAMPLES / "hello-web", tag="hello-test")
    assert "wrote /www/built.txt" in lines
    assert image.name == "hello-test:latest"
    config = image.config["config"]
    assert config["Cmd"] == ["httpd", "-f", "-v", "-p", "80", "-h", "/www"]
    assert config["WorkingDir"] == "/www"
    assert config["ExposedPorts"] == {"80/tcp": {}}
    base = store.resolve("busybox")
    run_layer, copy_layer = image.layers[len(base.layers):]
    assert layer_names(store, run_layer) == ["www", "www/built.txt"]  # no runc mountpoints
    assert layer_names(store, copy_layer) == ["www", "www/index.html"]
    assert sum(1 for h in image.config["history"] if not h.get("empty_layer")) == len(image.layers)


def test_deleting_a_file_is_a_whiteout_in_the_layer(builder, store, tmp_path):
    image, _ = builder("FROM busybox\nRUN rm /etc/group\n", tmp_path)
    assert layer_names(store, image.layers[-1]) == ["etc", "etc/.wh.group"]


def test_metadata_instructions_land_in_the_image_config(builder, tmp_path):
    text = ("FROM busybox\nLABEL team=web version=\"1.0\"\nUSER www-data\nVOLUME /data\nSTOPSIGNAL SIGINT\n"
            "HEALTHCHECK --interval=5s --retries=2 CMD wget -q -O- http://localhost/ || exit 1\n"
            "ONBUILD RUN echo child\nENTRYPOINT [\"httpd\"]\n")
    image, _ = builder(text, tmp_path)
    config = image.config["config"]
    assert config["Labels"] == {"team": "web", "version": "1.0"}
    assert config["User"] == "www-data" and config["Volumes"] == {"/data": {}}
    assert config["StopSignal"] == "SIGINT" and config["OnBuild"] == ["RUN echo child"]
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q -O- http://localhost/ || exit 1"],
                                     "Interval": 5_000_000_000, "Retries": 2}
    assert config["Entrypoint"] == ["httpd"] and config["Cmd"] is None  # ENTRYPOINT drops the base's CMD


def test_env_and_build_args_reach_run(builder, tmp_path):
    _, lines = builder("FROM busybox\nARG WHO=world\nENV GREETING=hello\nRUN echo \"$GREETING $WHO\"\n", tmp_path)
    assert "hello world" in lines


def test_a_step_past_the_time_limit_is_stopped_and_named(no_leaks, runtime_config, store, tmp_path):
    options = BuildOptions(memory_bytes=64 << 20, timeout_seconds=1, no_cache=True)
    started = time.monotonic()
    with pytest.raises(DockerfileError, match="line 2: the build ran past its time limit of 1 s"):
        build(runtime_config, store, "FROM busybox\nRUN sleep 600\n", tmp_path, options, lambda line: None)
    assert time.monotonic() - started < 10


def _store_state(runtime_config, store):
    return ({i.id for i in store.images()}, sorted(os.listdir(runtime_config.tmp_dir)))


@pytest.mark.parametrize("text, message", [
    ("# only a comment\n", "has no instructions"),
    ("RUN echo hi\n", "RUN cannot come before the first FROM"),
    ("FROM busybox\nRUN true\nCOPPY a b\n", "line 3: unknown instruction: COPPY"),
    ("FROM busybox\nCOPY missing.txt /x\n", "line 2: COPY source 'missing.txt' is not in the build context"),
    ("FROM busybox\nCOPY ../secret /x\n", "line 2: COPY source '../secret' is outside the build context"),
    ("FROM busybox\nRUN echo partial > /f && exit 7\n", "line 2: the command '/bin/sh -c echo partial > /f && exit 7' returned a non-zero code: 7"),
    ("FROM nosuchbase:1\n", "line 1: base image 'nosuchbase:1' is not in the local store"),
])
def test_bad_dockerfile_names_the_line_and_leaves_the_store_alone(builder, runtime_config, store, tmp_path, text, message):
    before = _store_state(runtime_config, store)
    with pytest.raises(DockerfileError) as caught:
        builder(text, tmp_path, tag="broken")
    assert message in caught.value.message
    assert _store_state(runtime_config, store) == before
