"""The `berth` CLI against the real web server (Django's live server), through the JSON API."""
from __future__ import annotations

import stat
import threading
import time

import pytest
import redis
from django.conf import settings

from webui.api import client
from webui.api.models import ApiToken
from webui.images.actions import record_build_event
from webui.images.models import Build
from workers import contracts, streams

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def berth(live_server, owner, monkeypatch, tmp_path, capsys):
    """Runs the CLI as ``owner``; returns (exit code, stdout, stderr)."""
    _, token = ApiToken.issue(owner, "cli tests")
    monkeypatch.setattr(client, "CONFIG", tmp_path / "berth" / "config.json")
    monkeypatch.setattr(client, "FOLLOW_SECONDS", 0.05)
    monkeypatch.delenv("BERTH_URL", raising=False)
    monkeypatch.delenv("BERTH_TOKEN", raising=False)

    def run(*argv):
        code = client.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err
    run.url, run.token = live_server.url, token
    return run


def test_login_keeps_a_working_token_only(berth, app):
    code, _, err = berth("login", berth.url, "--token", "berth_wrong")
    assert code == 1 and "unknown or was revoked" in err and not client.CONFIG.exists()
    assert berth("login", berth.url, "--token", berth.token)[0] == 0
    assert stat.S_IMODE(client.CONFIG.stat().st_mode) == 0o600
    code, out, _ = berth("apps")
    assert code == 0 and "web" in out and "18090:80/tcp" in out


def test_build_follows_the_log_to_the_end(berth, app, host):
    berth("login", berth.url, "--token", berth.token)
    r = redis.Redis.from_url(settings.REDIS_URL)

    def agent():  # stands in for the host agent: this test is about the CLI and the API
        deadline = time.monotonic() + 10
        while not Build.objects.filter(app=app).exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        build = Build.objects.get(app=app)
        r.delete(streams.build_log(build.id))
        record_build_event(build.id, {"status": contracts.BUILD_RUNNING})
        for line in ("Step 1/2 : FROM busybox", " ---> Using cache"):
            r.xadd(streams.build_log(build.id), {"line": line})
        record_build_event(build.id, {"status": contracts.BUILD_SUCCEEDED, "image": app.image_name})
        r.xadd(streams.build_log(build.id), {"end": "succeeded"})
    helper = threading.Thread(target=agent)
    helper.start()
    code, out, err = berth("build", "web", "--build-arg", "V=1", "--no-cache")
    helper.join()
    assert code == 0, err
    assert out.splitlines()[1:] == ["Step 1/2 : FROM busybox", " ---> Using cache", f"built {app.image_name}"]
    assert Build.objects.get(app=app).build_args == {"V": "1"}


def test_ps_logs_and_clear_errors(berth, app, container, monkeypatch):
    berth("login", berth.url, "--token", berth.token)
    r = redis.Redis.from_url(settings.REDIS_URL)
    r.delete(streams.container_log(container.id))
    for n in range(4):
        r.xadd(streams.container_log(container.id), {"line": f"line {n}", "s": "stdout"})
    code, out, _ = berth("ps")
    assert code == 0 and container.name in out
    assert berth("logs", "--tail", "2", str(container.id))[1].splitlines() == ["line 2", "line 3"]
    code, _, err = berth("build", "nosuchapp")
    assert code == 1 and "no app 'nosuchapp' in your teams (yours: web)" in err
    code, _, err = berth("rm", str(container.id))
    assert code == 1 and "running" in err
    monkeypatch.setenv("BERTH_URL", "http://127.0.0.1:9")  # nothing listens there
    code, _, err = berth("apps")
    assert code == 1 and "cannot reach Berth at http://127.0.0.1:9" in err
