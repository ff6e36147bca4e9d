"""The main job end to end in a real browser: upload, build, run, watch, stop, remove."""
from __future__ import annotations

import socket
import tarfile
import time
import urllib.request

import pytest

from ..conftest import EXAMPLES
from ..processes import free_port
from .pages import built_app, create_app, fetch, log_in
from tests.processes import port_for

pytestmark = pytest.mark.e2e


def context_tar(tmp_path) -> str:
    path = tmp_path / "hello-web.tar"
    with tarfile.open(path, "w") as tar:
        for item in sorted((EXAMPLES / "hello-web").iterdir()):
            tar.add(item, arcname=item.name)
    return str(path)


def stats_text(page) -> tuple[str, str, str]:
    return tuple(page.inner_text(f"[data-chart={k}] .value") for k in ("cpu", "mem", "pids"))


def test_upload_build_run_watch_stop_remove(page, stack, tmp_path):
    log_in(page, stack, "alice")
    # A free port, not the README's 18080: a Berth someone runs beside the suite may publish that.
    port = free_port()
    create_app(page, stack, "hello", str(EXAMPLES / "hello-web" / "Dockerfile"), context_tar(tmp_path), f"{port}:80")
    app_url = page.url

    page.click("button:text-is('Build')")
    page.wait_for_selector("#log >> text=wrote /www/built.txt")  # the RUN step's own output
    page.wait_for_selector("#status >> text=succeeded")

    page.goto(app_url)
    page.click("button:text-is('Run')")
    page.wait_for_selector("#status >> text=running")
    assert "Hello from Berth" in fetch(f"http://127.0.0.1:{port}/")
    page.wait_for_selector("#log >> text=response:200")  # httpd -v logged our request

    page.wait_for_function("document.querySelector('[data-chart=mem] .value').textContent.includes('/ 64.0 MB')")
    first = stats_text(page)
    deadline = time.monotonic() + 20
    while stats_text(page) == first:
        assert time.monotonic() < deadline, f"the stats never changed from {first}"
        for _ in range(20):  # some requests, so httpd forks and uses CPU and memory
            fetch(f"http://127.0.0.1:{port}/built.txt")
        time.sleep(0.5)

    page.click("button:text-is('Stop')")
    page.wait_for_selector("#status >> text=exited")
    page.click("button:text-is('Remove')")
    page.wait_for_selector("#status >> text=removed")
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)


# A Dockerfile refused at its first lines is refused on the form (tests/e2e/test_pages.py); these
# the builder alone can tell.
@pytest.mark.parametrize("dockerfile, message", [
    ("FROM busybox\nCOPY missing.txt /www/\n", "Dockerfile line 2: COPY source 'missing.txt' is not in the build context"),
    ("FROM busybox\nRUN --mount=type=cache,target=/c true\n", "Dockerfile line 2: RUN --mount is not supported"),
])
def test_bad_dockerfile_fails_the_build_with_its_line_on_the_page(page, stack, tmp_path, dockerfile, message):
    log_in(page, stack, "alice")
    path = tmp_path / "Dockerfile"
    path.write_text(dockerfile)
    create_app(page, stack, f"bad{abs(hash(dockerfile)) % 10**6}", str(path), None, "")
    page.click("button:text-is('Build')")
    page.wait_for_selector("#status >> text=failed")
    assert message in page.inner_text("#error")


def test_host_port_in_use_fails_the_run_with_a_clear_message(page, stack, tmp_path):
    log_in(page, stack, "alice")
    built_app(page, stack, tmp_path, "porttaken", 'FROM busybox\nCMD ["httpd", "-f", "-p", "80"]\n', f"{port_for(18095)}:80")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port_for(18095)))
        holder.listen()
        page.reload()
        page.click("button:text-is('Run')")
        page.wait_for_selector("#status >> text=failed")
    assert f"host port {port_for(18095)}/tcp is already in use on this host" in page.inner_text("#error")
