"""Debian's docker-registry (the distribution registry) on a loopback port, for the tests."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

USER, PASSWORD = "berth-test", "s3cret-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1)
        return True
    except urllib.error.HTTPError:
        return True  # 401 from a registry with a login: up
    except OSError:
        return False


class RegistryServer:
    def __init__(self, tmp: Path, with_login: bool, address: str = "127.0.0.1"):
        for tool in ("docker-registry", "htpasswd", "skopeo"):
            if shutil.which(tool) is None:
                pytest.fail(f"{tool} is not installed: `make test` installs it")
        self.port = free_port()
        self.host = f"{address}:{self.port}"
        auth = ""
        if with_login:
            htpasswd = tmp / "htpasswd"
            subprocess.run(["htpasswd", "-Bbc", str(htpasswd), USER, PASSWORD], check=True, capture_output=True)
            auth = f"auth:\n  htpasswd:\n    realm: berth-test\n    path: {htpasswd}\n"
        config = tmp / "config.yml"
        config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp / 'data'}\n"
                          f"http:\n  addr: {self.host}\n{auth}log:\n  level: warn\n")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(config)],
                                     stdout=subprocess.DEVNULL, stderr=open(tmp / "registry.log", "wb"))
        deadline = time.monotonic() + 15
        while not _answers(f"http://{self.host}/v2/"):
            assert self.proc.poll() is None, (tmp / "registry.log").read_text()
            assert time.monotonic() < deadline, "the registry did not start"
            time.sleep(0.1)

    def url(self, login: bool = False, password: str = PASSWORD) -> str:
        return f"http://{USER}:{password}@{self.host}" if login else f"http://{self.host}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
