"""The whole stack as a user meets it: Redis, the ASGI web server, the control worker,
a host agent running real containers, and Debian's chromium driven by Playwright."""
from __future__ import annotations

import os
import signal
import sqlite3
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from runtime.container.manager import Containers

from ..conftest import REDIS_PORT, RUN_ID
from ..processes import ROOT, answers as _answers, free_port, manage as _manage, start as _start, \
    start_web as _start_web, stop as _stop, wait_for as _wait

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
PASSWORDS = {"admin": "admin-pw-1", "alice": "alice-pw-1", "bob": "bob-pw-1"}


@dataclass
class Stack:
    url: str
    env: dict
    db_path: Path
    host: str
    procs: dict
    logs: Path

    def kill_agent(self) -> None:
        """SIGKILL the host agent, as a crash would: no clean-up of its own."""
        agent = self.procs["agent"]
        os.killpg(agent.pid, signal.SIGKILL)
        agent.wait(10)

    def restart_web(self) -> None:
        """Stop the web server and start it again, as a deploy would: every websocket drops."""
        _stop(self.procs["web"])
        self.procs["web"] = _start_web(self.env, self.logs, int(self.url.rsplit(":", 1)[1]))
        _wait("the web server", lambda: _answers(self.url + "/login/"))

    def start_agent(self) -> None:
        self.procs["agent"] = _start("agent", [sys.executable, "-m", "workers.agent"], self.env, self.logs)

    def query(self, sql: str, *args):
        with sqlite3.connect(self.db_path) as db:
            return db.execute(sql, args).fetchall()


def _env(tmp: Path, config) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    env.update({
        "DJANGO_SETTINGS_MODULE": "webui.settings", "PYTHONPATH": str(ROOT),
        "BERTH_VAR_DIR": str(tmp / "var"), "BERTH_DB_PATH": str(tmp / "db.sqlite3"),
        # Its own Redis database, so jobs queued by the in-process web tests never reach this agent.
        "BERTH_REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/1", "BERTH_HOST_NAME": f"e2e-{RUN_ID}",
        "BERTH_STATE_DIR": str(config.state_dir), "BERTH_RUN_DIR": str(config.run_dir),
        "BERTH_BRIDGE": config.bridge, "BERTH_SUBNET": config.subnet, "BERTH_NFT_TABLE": config.nft_table,
        "BERTH_CGROUP_PARENT": config.cgroup_parent, "BERTH_NETNS_PREFIX": config.netns_prefix,
        "BERTH_SECRET_KEY": "e2e-only-secret",
    })
    return env


SEED_USERS = """
from django.contrib.auth import get_user_model
User = get_user_model()
User.objects.create_superuser("admin", password="{admin}")
User.objects.create_user("alice", password="{alice}")
User.objects.create_user("bob", password="{bob}")
""".format(**PASSWORDS)


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory, runtime_config, store, redis_server):
    """A test module's STACK_SETTINGS (BERTH_ variables) apply to every process of its stack."""
    tmp = tmp_path_factory.mktemp("e2e")
    logs = tmp / "logs"
    logs.mkdir()
    env = {**_env(tmp, runtime_config), **getattr(request.module, "STACK_SETTINGS", {})}
    # Each module's stack has a new database, whose IDs start again at 1: streams a previous
    # stack left under the same IDs (a build's log and its end) must not be read as this one's.
    redis.Redis(port=REDIS_PORT, db=1).flushdb()
    _manage(env, "migrate", "--noinput")
    _manage(env, "collectstatic", "--noinput")
    _manage(env, "shell", "-c", SEED_USERS)
    _manage(env, "berth_join_token", "--file", str(tmp / "join_token"))
    env["BERTH_JOIN_TOKEN_FILE"] = str(tmp / "join_token")
    port = free_port()
    procs = {
        "web": _start_web(env, logs, port),
        "control": _start("control", [sys.executable, "-m", "workers.control"], env, logs),
    }
    stack = Stack(f"http://127.0.0.1:{port}", env, tmp / "db.sqlite3", env["BERTH_HOST_NAME"], procs, logs)
    stack.start_agent()
    try:
        _wait("the web server", lambda: _answers(stack.url + "/login/"))
        _wait("the agent's first heartbeat",
              lambda: stack.query("SELECT count(*) FROM hosts_host WHERE name = ?", stack.host)[0][0] == 1)
        yield stack
    finally:
        for proc in reversed(list(procs.values())):
            _stop(proc)
        # Playwright's sync API keeps an event loop running in this thread, and pyroute2 (which
        # removes a team's bridge with its last container) runs one of its own: another thread.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(_remove_all, Containers(runtime_config, store)).result()
        for name in ("web", "control", "agent"):
            print(f"----- {name} log (last lines)")
            print("\n".join((logs / f"{name}.log").read_text(errors="replace").splitlines()[-15:]))


def _remove_all(manager: Containers) -> None:
    for info in manager.list():
        manager.remove(info.id, force=True)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing: `make test` installs it")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, headless=True,
                                                       args=CHROMIUM_ARGS)
        yield context
        context.close()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    page.set_default_timeout(30_000)
    yield page
    page.close()
