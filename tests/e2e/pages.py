"""What a user does on the pages, as steps the end-to-end tests share."""
from __future__ import annotations

import re
import time
import urllib.request

from .conftest import PASSWORDS, Stack


def log_in(page, stack: Stack, user: str) -> None:
    page.context.clear_cookies()
    page.goto(stack.url + "/login/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORDS[user])
    page.click("button[type=submit]")
    page.wait_for_url(stack.url + "/")


def create_app(page, stack, name: str, dockerfile: str, context: str | None, ports: str,
               memory: str = "64", cpus: str = "0.5") -> None:
    page.goto(stack.url + "/apps/new/")
    page.fill("input[name=name]", name)
    page.set_input_files("input[name=dockerfile]", dockerfile)
    if context:
        page.set_input_files("input[name=context]", context)
    page.fill("input[name=ports]", ports)
    page.fill("input[name=memory_mb]", memory)
    page.fill("input[name=cpus]", cpus)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/apps/\d+/$"))


def fetch(url: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urllib.request.urlopen(url, timeout=2).read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def built_app(page, stack: Stack, tmp_path, name: str, dockerfile: str, ports: str) -> str:
    """Create an app from Dockerfile text, build it, and return its page's URL."""
    path = tmp_path / "Dockerfile"
    path.write_text(dockerfile)
    create_app(page, stack, name, str(path), None, ports)
    app_url = page.url
    page.click("button:text-is('Build')")
    page.wait_for_selector("#status >> text=succeeded")
    page.goto(app_url)
    return app_url
