"""A fleet on this machine: the web and the control worker here, three host agents each in
its own network namespace (tests/fleet/hosts.py), a Redis and Debian's docker-registry they
all reach over a test bridge. Used by tests/fleet (conftest.py) and bench/fleet.py."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from webui.api.client import Api

from ..processes import answers, free_port, manage, start, start_web, stop, wait_for
from ..runtime.registry_server import RegistryServer
from .hosts import Lan, TestHost

ADMIN_TOKEN_SCRIPT = """
from django.contrib.auth import get_user_model
from webui.api.models import ApiToken
User = get_user_model()
admin = User.objects.create_superuser("admin", password="admin-pw-1")
alice = User.objects.create_user("alice", password="alice-pw-1")
print(ApiToken.issue(admin, "fleet test")[1], ApiToken.issue(alice, "fleet test")[1])
"""


@dataclass
class Fleet:
    url: str
    admin: Api | None
    alice: Api | None
    lan: Lan
    hosts: list[TestHost]
    registry: RegistryServer | None
    procs: dict
    logs: Path
    db_path: Path

    def host(self, name: str) -> TestHost:
        return next(h for h in self.hosts if h.name == name)

    def built_app(self, name: str, dockerfile: str, memory_mb: int, cpus: float) -> tuple[dict, dict]:
        """An app of alice's team, built once through the API: (the app, its finished build)."""
        team = self.alice.call("GET", "teams/")[0]["id"]
        app = self.alice.call("POST", "apps/", {"team": team, "name": name, "dockerfile": dockerfile,
                                                "memory_mb": memory_mb, "cpus": cpus, "ports": ""})
        build = self.alice.call("POST", f"apps/{app['id']}/build/", {})
        done = self.wait("the build", lambda: (b := self.alice.call("GET", f"builds/{build['id']}/"))["status"]
                         in ("succeeded", "failed") and b, 120)
        assert done["status"] == "succeeded", done
        return app, done

    def wait(self, what: str, check, timeout: float = 60):
        """Poll ``check`` until it returns something true; that value."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.2)


def _redis(tmp: Path, lan: Lan, port: int) -> subprocess.Popen:
    # Bound to loopback and the test bridge only; protected mode would refuse the hosts.
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", f"127.0.0.1 {lan.address}",
                             "--protected-mode", "no", "--save", "", "--appendonly", "no", "--dir", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for("the fleet's Redis", lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"],
                                                         capture_output=True).returncode == 0, 10)
    return proc


def _env(tmp: Path, redis_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    env.update({"DJANGO_SETTINGS_MODULE": "webui.settings", "PYTHONPATH": str(Path(__file__).parents[2]),
                "BERTH_VAR_DIR": str(tmp / "var"), "BERTH_DB_PATH": str(tmp / "db.sqlite3"),
                "BERTH_REDIS_URL": redis_url, "BERTH_SECRET_KEY": "fleet-test-only",
                "BERTH_DEFAULT_MAX_CONTAINERS": "2000", "BERTH_DEFAULT_MAX_MEMORY_MB": "200000",
                "BERTH_DEFAULT_MAX_CPUS": "2000"})
    return env


def start_fleet(tmp: Path, run_id: str, count: int = 3, env: dict | None = None) -> Fleet:
    """Everything up, every host joined; stop_fleet() takes it all down again (also after a
    start that failed half-way)."""
    logs = tmp / "logs"
    logs.mkdir()
    (tmp / "registry").mkdir()
    lan = Lan(run_id)
    fleet = Fleet("", None, None, lan, [], None, {}, logs, tmp / "db.sqlite3")
    try:
        lan.up()
        redis_port = free_port()
        fleet.procs["redis"] = _redis(tmp, lan, redis_port)
        fleet.registry = RegistryServer(tmp / "registry", with_login=False, address=lan.address)
        env = _env(tmp, f"redis://127.0.0.1:{redis_port}/0") | (env or {})
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput")
        printed = subprocess.run([sys.executable, "manage.py", "shell", "-c", ADMIN_TOKEN_SCRIPT], env=env,
                                 check=True, capture_output=True, text=True, cwd=env["PYTHONPATH"]).stdout
        admin_token, alice_token = printed.split()[-2:]
        manage(env, "berth_join_token", "--name", "fleet test", "--file", str(tmp / "join_token"))
        port = free_port()
        fleet.url = f"http://127.0.0.1:{port}"
        fleet.admin, fleet.alice = Api(fleet.url, admin_token), Api(fleet.url, alice_token)
        fleet.procs["web"] = start_web(env, logs, port)
        fleet.procs["control"] = start("control", [sys.executable, "-m", "workers.control"], env, logs)
        agent_env = {**env, "BERTH_REDIS_URL": f"redis://{lan.address}:{redis_port}/0",
                     "BERTH_SHARED_REGISTRY": fleet.registry.url(),
                     "BERTH_JOIN_TOKEN_FILE": str(tmp / "join_token")}
        fleet.hosts = [TestHost(lan, i, tmp, agent_env) for i in range(count)]
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(TestHost.up, fleet.hosts))
        for host in fleet.hosts:
            host.start_agent()
        wait_for("the web server", lambda: answers(fleet.url + "/login/"))
        fleet.wait("every host to join", lambda: len([h for h in fleet.admin.call("GET", "hosts/")
                                                      if h["is_up"]]) == count)
    except BaseException:
        stop_fleet(fleet)
        raise
    return fleet


def stop_fleet(fleet: Fleet) -> dict:
    """Down in reverse; what each host's leak check found, by host (empty when clean)."""
    left = {}
    for host in fleet.hosts:
        found = host.down()
        if found:
            left[host.name] = found
    for name in ("control", "web"):
        if name in fleet.procs:
            stop(fleet.procs[name])
    if fleet.registry is not None:
        fleet.registry.stop()
    if "redis" in fleet.procs:
        fleet.procs["redis"].terminate()
        fleet.procs["redis"].wait(10)
    fleet.lan.down()
    return left


