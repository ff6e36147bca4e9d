"""`berth`, run as users run it (``python -m webui.api.client``), against the whole stack: an
app's environment and a run's own flags reach a real container on the real agent, which
prints them from inside; its limits show in `berth stats`; an attached run ends with the
container's exit code."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest

from .conftest import ROOT, _manage

pytestmark = pytest.mark.e2e

PRINTS_ITS_ENV = 'FROM busybox\nCMD ["sh", "-c", "echo \\"G=$GREETING O=$OVERRIDE E=$EXTRA\\"; sleep 600"]\n'
EXITS_3 = 'FROM busybox\nCMD ["sh", "-c", "echo \\"said $GREETING\\"; exit 3"]\n'


@pytest.fixture(scope="module")
def berth(stack, tmp_path_factory):
    """Runs the CLI in a process of its own, logged in as alice; returns (exit code, stdout, stderr)."""
    token_file = tmp_path_factory.mktemp("token") / "token"
    _manage(stack.env, "shell", "-c", "from django.contrib.auth import get_user_model\n"
                                      "from webui.api.models import ApiToken\n"
                                      f"open({str(token_file)!r}, 'w').write(ApiToken.issue("
                                      "get_user_model().objects.get(username='alice'), 'e2e')[1])")
    env = {**stack.env, "XDG_CONFIG_HOME": str(tmp_path_factory.mktemp("config"))}

    def run(*argv, timeout=120):
        done = subprocess.run([sys.executable, "-m", "webui.api.client", *argv], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout)
        return done.returncode, done.stdout, done.stderr
    code, _, err = run("login", stack.url, "--token", token_file.read_text())
    assert code == 0, err
    run.token = token_file.read_text()
    return run


def create_app(stack, token: str, name: str, dockerfile: str, **settings) -> dict:
    """An app of the token's first team, made through the API; ``settings``: more of its fields."""
    team = api_get(stack, token, "teams/")[0]["id"]
    body = json.dumps({"name": name, "team": team, "dockerfile": dockerfile, "memory_mb": 64, "cpus": 0.5,
                       **settings}).encode()
    request = urllib.request.Request(f"{stack.url}/api/apps/", data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        return json.loads(response.read())


def api_get(stack, token: str, path: str):
    request = urllib.request.Request(f"{stack.url}/api/{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wait_for(what: str, check, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_the_env_and_the_runs_flags_reach_the_container(stack, berth):
    create_app(stack, berth.token, "printenv", PRINTS_ITS_ENV, env=["GREETING=hello from the app", "OVERRIDE=app"])
    code, out, err = berth("build", "printenv")
    assert code == 0, out + err
    code, out, err = berth("run", "-d", "-m", "96m", "--pids-limit", "64", "-e", "EXTRA=from the cli",
                           "-e", "OVERRIDE=cli", "printenv")
    assert code == 0, err
    cid = out.strip()
    try:
        wait_for("the container's line", lambda: "G=hello from the app O=cli E=from the cli"
                 in berth("logs", cid)[1])
        # The memory limit the kernel applies, as the agent's sampler read it from the cgroup.
        row = wait_for("a stats sample", lambda: [line for line in berth("stats", "--no-stream", cid)[1].splitlines()
                                                  if line.startswith(cid) and "/ 96MiB" in line])
        assert "printenv-" in row[0]
        shown = api_get(stack, berth.token, f"containers/{cid}/")
        assert (shown["memory_mb"], shown["pids_limit"], shown["env"]) == (
            96, 64, ["GREETING=hello from the app", "EXTRA=from the cli", "OVERRIDE=cli"])
    finally:
        assert berth("rm", "-f", cid)[0] == 0
    wait_for("the removal", lambda: api_get(stack, berth.token, f"containers/{cid}/")["status"] == "removed")


def test_an_attached_run_prints_the_log_and_exits_with_the_containers_code(stack, berth):
    create_app(stack, berth.token, "exits", EXITS_3, env=["GREETING=goodbye"])
    assert berth("build", "exits")[0] == 0
    code, out, err = berth("run", "exits")
    assert code == 3, err
    assert out.splitlines() == ["said goodbye"]
    cid = err.split("(ID ")[1].split(")")[0]
    assert berth("rm", cid)[0] == 0
