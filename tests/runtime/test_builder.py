"""The builder on real runc: the example builds, layers hold exactly each step's change,
and bad Dockerfiles fail naming their line with nothing left in the store."""
from __future__ import annotations

import email.utils
import http.server
import io
import os
import socket
import tarfile
import threading
import time

import pytest

from runtime.build.builder import BuildOptions, build
from runtime.errors import DockerfileError

from ..conformance.harness import apply_layers, listing
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


# ADD of a URL, from an HTTP server on loopback started by the test

LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"


class _Files(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/missing":
            self.send_error(404)
            return
        if self.path == "/undeclared":  # no Content-Length: the builder must count what it reads
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"z" * 5000)
            return
        body = {"/file.txt": b"fetched\n", "/big": b"b" * 5000, "/archive.tar": _tar_bytes()}[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", LAST_MODIFIED)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _tar_bytes() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("inside.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"x\n"))
    return buf.getvalue()


@pytest.fixture
def web():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def image_files(store, image, tmp_path, paths):
    root = tmp_path / "rootfs"
    root.mkdir()
    apply_layers([store.blob_path(layer) for layer in image.layers], root)
    return {e["path"]: e for e in listing(root, paths, mtimes=paths)}


def test_add_url_fetches_with_mode_0600_and_the_servers_mtime_and_never_unpacks(builder, store, tmp_path, web):
    text = (f"FROM busybox\nADD {web}/file.txt /dl/\nADD {web}/file.txt /dl/renamed\n"
            f"ADD {web}/archive.tar /dl/\n")
    image, _ = builder(text, tmp_path / "ctx")
    files = image_files(store, image, tmp_path, ["/dl/file.txt", "/dl/renamed", "/dl/archive.tar"])
    fetched = files["/dl/file.txt"]
    assert fetched["mode"] == "0600" and fetched["size"] == 8
    assert fetched["mtime"] == int(email.utils.parsedate_to_datetime(LAST_MODIFIED).timestamp())
    assert files["/dl/renamed"]["sha256"] == fetched["sha256"]
    assert files["/dl/archive.tar"]["type"] == "file"  # a fetched archive stays an archive, as in Docker


@pytest.mark.parametrize("path, message", [
    ("/missing", "line 2: ADD {web}/missing: the server answered 404 Not Found"),
    ("/big", "line 2: ADD {web}/big: the file is 5000 bytes, over the limit of 1024 bytes"),
    ("/undeclared", "line 2: ADD {web}/undeclared: the download passed the limit of 1024 bytes"),
])
def test_add_url_failures_name_the_url_and_line(no_leaks, runtime_config, store, tmp_path, web, path, message):
    options = BuildOptions(memory_bytes=64 << 20, add_limit_bytes=1024)
    with pytest.raises(DockerfileError) as caught:
        build(runtime_config, store, f"FROM busybox\nADD {web}{path} /dl/\n", tmp_path, options, lambda line: None)
    assert message.format(web=web) in caught.value.message


def test_add_url_of_a_closed_port_and_copy_of_a_url_are_refused(builder, tmp_path, web):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(DockerfileError, match=rf"line 2: ADD http://127.0.0.1:{port}/x: cannot fetch it"):
        builder(f"FROM busybox\nADD http://127.0.0.1:{port}/x /x\n", tmp_path)
    with pytest.raises(DockerfileError, match="line 2: COPY cannot fetch .*: use ADD for a URL"):
        builder(f"FROM busybox\nCOPY {web}/file.txt /x\n", tmp_path)
