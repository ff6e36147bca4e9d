"""The `berth` CLI against the real web server (Django's live server), through the JSON API."""
from __future__ import annotations

import base64
import json
import stat
import threading
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from webui.api import client
from webui.api.models import ApiToken
from webui.containers.actions import record_container_event
from webui.containers.models import Container
from webui.hosts.models import Host
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
    run.url, run.token, run.capsys = live_server.url, token, capsys
    return run


class StandInAgent(threading.Thread):
    """Plays the host agent's part in a thread (these tests are about the CLI and the API);
    its database connection is closed when it ends, so it holds no lock on SQLite's tables."""

    def __init__(self, work):
        super().__init__()
        self.work, self.failure = work, None

    def run(self):
        try:
            self.work()
        except BaseException as exc:  # re-raised in the test by finish()
            self.failure = exc
        finally:
            connection.close()

    def finish(self):
        self.join()
        if self.failure:
            raise self.failure


def build_started(app, r) -> Build:
    """As an agent starts the build the CLI asked for: its log stream new, the build running."""
    deadline = time.monotonic() + 10
    while not Build.objects.filter(app=app).exists():
        assert time.monotonic() < deadline, "the CLI made no build"
        time.sleep(0.05)
    build = Build.objects.get(app=app)
    r.delete(streams.build_log(build.id))
    record_build_event(build.id, {"status": contracts.BUILD_RUNNING})
    return build


def wait_for_container() -> Container:
    deadline = time.monotonic() + 10
    while not Container.objects.exists():
        assert time.monotonic() < deadline, "the CLI made no container"
        time.sleep(0.05)
    return Container.objects.get()


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

    def agent():
        build = build_started(app, r)
        for line in ("Step 1/2 : FROM busybox", " ---> Using cache"):
            r.xadd(streams.build_log(build.id), {"line": line})
        record_build_event(build.id, {"status": contracts.BUILD_SUCCEEDED, "image": app.image_name})
        r.xadd(streams.build_log(build.id), {"end": "succeeded"})
    helper = StandInAgent(agent)
    helper.start()
    code, out, err = berth("build", "web", "--build-arg", "V=1", "--no-cache")
    helper.finish()
    assert code == 0, err
    assert out.splitlines()[1:] == ["Step 1/2 : FROM busybox", " ---> Using cache", f"built {app.image_name}"]
    assert Build.objects.get(app=app).build_args == {"V": "1"}


def test_a_failed_build_is_told_with_its_reason_though_the_log_ends_first(berth, app, host):
    """The agent ends the log stream, then reports; the control worker records it a moment later."""
    berth("login", berth.url, "--token", berth.token)
    r = redis.Redis.from_url(settings.REDIS_URL)

    def agent():
        build = build_started(app, r)
        r.xadd(streams.build_log(build.id), {"line": "ERROR: no such file"})
        r.xadd(streams.build_log(build.id), {"end": "failed"})
        time.sleep(1.5)  # the report still on its way
        record_build_event(build.id, {"status": contracts.BUILD_FAILED,
                                      "error": contracts.error("dockerfile", "COPY: no such file: app.py")})
    helper = StandInAgent(agent)
    helper.start()
    code, out, err = berth("build", "web")
    helper.finish()
    assert code == 1
    assert "failed: COPY: no such file: app.py" in err, err


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


def test_help_reads_as_a_list_of_commands_with_examples(berth, capsys):
    with pytest.raises(SystemExit) as done:
        client.main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    for command in ("login", "apps", "app", "build", "run", "ps", "logs", "stats", "stop", "rm", "images", "hosts"):
        assert f"\n    {command} " in out, command
    assert "berth run -d -p 18080:80 -m 64m --cpus 0.5 -e GREETING=hi hello" in out
    with pytest.raises(SystemExit):
        client.main(["run", "--help"])
    out = capsys.readouterr().out
    assert "usage: berth run [-h] [-p HOST:CONTAINER] [-m SIZE] [--cpus N]" in out and "--restart POLICY" in out


def run_job(queue) -> dict:
    message = json.loads(queue.lindex("host.test-host", 0))
    assert message["headers"]["task"] == contracts.AGENT_RUN
    return json.loads(base64.b64decode(message["body"]))[0][0]


def test_run_takes_dockers_flags_and_the_container_keeps_them(berth, app, build, queue, monkeypatch):
    berth("login", berth.url, "--token", berth.token)
    app.env = ["A=app", "KEEP=1"]
    app.save()
    monkeypatch.setenv("FROM_SHELL", "shell value")
    monkeypatch.delenv("NOT_SET", raising=False)
    code, out, err = berth("run", "-d", "web", "-p", "18300:80", "-p", "127.0.0.1:18301:81/udp", "-m", "1g",
                           "--cpus", "0.5", "--pids-limit", "50", "-e", "A=run", "-e", "FROM_SHELL", "-e", "NOT_SET",
                           "--restart", "on-failure:2")
    assert code == 0, err
    container = Container.objects.get()
    assert out == f"{container.id}\n"  # as docker run -d prints the ID, for scripts
    assert (container.ports, container.memory_mb, container.cpus, container.pids_limit, container.restart_policy) == (
        ["18300:80/tcp", "127.0.0.1:18301:81/udp"], 1024, 0.5, 50, "on-failure:2")
    assert container.env == ["KEEP=1", "A=run", "FROM_SHELL=shell value"]
    job = run_job(queue)
    assert job["env"] == container.env and job["memory_bytes"] == 1 << 30 and job["pids_limit"] == 50
    code, out, _ = berth("ps")
    assert code == 0 and container.name in out and "18300:80/tcp" in out


@pytest.mark.parametrize("memory, mb, note", [
    ("64m", 64, ""), ("64M", 64, ""), ("64mb", 64, ""), ("64MiB", 64, ""), ("1.5g", 1536, ""),
    ("6291456", 6, ""),  # a bare number is bytes, as Docker reads it
    ("65536k", 64, ""),
    ("100000000", 96, "berth: 100000000 bytes of memory is not a whole number of MB: rounded up to 96 MB"),
    ("6.5m", 7, "rounded up to 7 MB"),
])
def test_memory_in_dockers_units_is_whole_mb(berth, app, build, queue, memory, mb, note):
    berth("login", berth.url, "--token", berth.token)
    code, _, err = berth("run", "-d", "-p", "18302:80", "-m", memory, "web")
    assert code == 0 and Container.objects.get().memory_mb == mb
    assert (note in err) if note else "rounded" not in err


@pytest.mark.parametrize("flags, message", [
    (["-m", "3x"], "argument -m/--memory: invalid size: '3x' (a number with an optional b, k, m or g suffix"),
    (["-m", "5m"], "argument -m/--memory: '5m': Minimum memory limit allowed is 6MB"),
    (["-m", "0"], "Minimum memory limit allowed is 6MB"),
    (["--memory=-64m"], "argument -m/--memory: invalid size: '-64m'"),
    (["--cpus", "abc"], "argument --cpus: invalid number of CPUs: 'abc' (a positive decimal number, e.g. 0.5 or 2)"),
    (["--cpus", "nan"], "invalid number of CPUs: 'nan'"),
    (["--cpus=-1"], "argument --cpus: invalid number of CPUs: '-1'"),
    (["--pids-limit", "many"], "argument --pids-limit: invalid int value: 'many'"),
    (["--detach=yes"], "argument -d/--detach: ignored explicit argument 'yes'"),
])
def test_a_flag_that_cannot_be_read_exits_2_as_argparse_does(berth, app, build, queue, flags, message):
    berth("login", berth.url, "--token", berth.token)
    with pytest.raises(SystemExit) as done:
        client.main(["run", "web", *flags])
    assert done.value.code == 2 and message in capsys_err(berth)
    assert not Container.objects.exists()


def capsys_err(berth) -> str:
    return berth.capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["-p", "99999:80"], "-p/--publish: Host port 99999 is outside the allowed range 1024-65535."),
    (["-p", "80"], "-p/--publish: “80” is not a port mapping like 8080:80"),
    (["--cpus", "0"], "--cpus: Ensure this value is greater than or equal to 0.01."),
    (["--cpus", "65"], "--cpus: Ensure this value is less than or equal to 64."),
    (["--cpus", "3"], "3 CPUs is more than any host has (the largest has 2)."),
    (["--pids-limit", "0"], "--pids-limit: Ensure this value is greater than or equal to 1."),
    (["-e", "1BAD=x"], "-e/--env: Line 1: “1BAD” is not a variable name"),
    (["-e", "A=1", "-e", "A=2"], "-e/--env: Line 2: A is already set on line 1."),
    (["--restart", "sometimes"], "--restart: Use no, on-failure, on-failure:N (at most N restarts), always or "
                                 "unless-stopped."),
])
def test_a_value_the_server_refuses_exits_1_with_its_reason(berth, app, build, queue, flags, message):
    berth("login", berth.url, "--token", berth.token)
    code, out, err = berth("run", "-d", "web", *flags)
    assert code == 1 and message in err and out == ""
    assert not Container.objects.exists() and queue.llen("host.test-host") == 0


def test_run_without_d_follows_the_log_and_exits_with_the_containers_code(berth, app, build, monkeypatch):
    berth("login", berth.url, "--token", berth.token)
    monkeypatch.setattr(client, "LOG_SETTLE_SECONDS", 0.3)
    r = redis.Redis.from_url(settings.REDIS_URL)

    def agent():
        container = wait_for_container()
        record_container_event(container.id, {"status": contracts.C_RUNNING})
        for n in range(3):
            r.xadd(streams.container_log(container.id), {"line": f"working {n}", "s": "stdout"})
            time.sleep(0.1)
        record_container_event(container.id, {"status": contracts.C_EXITED, "exit_code": 3})
        r.xadd(streams.container_log(container.id), {"line": "last words", "s": "stderr"})  # shipped late
    helper = StandInAgent(agent)
    helper.start()
    code, out, err = berth("run", "-p", "18303:80", "web")
    helper.finish()
    assert code == 3, err
    assert out.splitlines() == ["working 0", "working 1", "working 2", "last words"]
    assert "Ctrl-C leaves it running" in err


def test_run_without_d_of_a_container_that_fails_to_start_exits_125(berth, app, build, monkeypatch):
    berth("login", berth.url, "--token", berth.token)
    monkeypatch.setattr(client, "LOG_SETTLE_SECONDS", 0.1)

    def agent():
        record_container_event(wait_for_container().id, {
            "status": contracts.C_FAILED, "error": contracts.error("port_in_use", "host port 18304/tcp is in use")})
    helper = StandInAgent(agent)
    helper.start()
    code, _, err = berth("run", "-p", "18304:80", "web")
    helper.finish()
    assert code == 125 and "failed: host port 18304/tcp is in use" in err


def test_app_set_changes_the_settings_given(berth, app):
    berth("login", berth.url, "--token", berth.token)
    app.env = ["OLD=1"]
    app.save()
    code, out, err = berth("app", "set", "web", "-m", "128m", "--cpus", "1", "--restart", "always", "-e", "A=1",
                           "-e", "B=2", "--pids-limit", "99", "--cpuset-cpus", "0", "--network-in-rate", "2m",
                           "--network-out-rate", "512k", "--host-label", "disk=ssd")
    assert code == 0, err
    app.refresh_from_db()
    assert (app.memory_mb, app.cpus, app.restart_policy, app.env, app.pids_limit, app.cpuset_cpus) == (
        128, 1, "always", ["A=1", "B=2"], 99, "0")
    assert (app.network_in_mb, app.network_out_mb, app.host_labels, app.ports) == (2, 0.5, {"disk": "ssd"},
                                                                                  ["18090:80/tcp"])
    assert "always" in out and "128" in out
    assert berth("app", "set", "web", "--no-env", "--no-ports", "--network-in-rate", "0")[0] == 0
    app.refresh_from_db()
    assert (app.env, app.ports, app.network_in_mb, app.memory_mb) == ([], [], None, 128)


@pytest.mark.parametrize("flags, code, message", [
    ([], 1, "nothing to change: give the settings to set"),
    (["--no-env", "-e", "A=1"], 1, "--no-env and -e/--env contradict each other"),
    (["-p", "99999:80"], 1, "-p/--publish: Host port 99999 is outside the allowed range 1024-65535."),
    (["-m", "9999m"], 1, "-m/--memory: 9999 MB is over the team's memory quota of 2048 MB."),
    (["-v", "/etc:/etc"], 1, "-v/--volume: Mounting the host path /etc is for admins only"),
    (["--host-label", "disk"], 2, "argument --host-label: invalid label: 'disk' (write key=value, e.g. disk=ssd)"),
    (["--network-in-rate", "fast"], 2, "argument --network-in-rate: invalid size: 'fast'"),
])
def test_app_set_refuses_what_is_wrong_and_changes_nothing(berth, app, flags, code, message):
    berth("login", berth.url, "--token", berth.token)
    try:
        got, _, err = berth("app", "set", "web", *flags)
    except SystemExit as done:
        got, err = done.code, capsys_err(berth)
    assert got == code and message in err
    app.refresh_from_db()
    assert (app.memory_mb, app.ports, app.env, app.volumes) == (64, ["18090:80/tcp"], [], [])


def add_sample(container, **figures) -> None:
    r = redis.Redis.from_url(settings.REDIS_URL)
    r.delete(streams.container_stats(container.id))
    sample = {"t": int(time.time() * 1000), "cpu": 12.5, "mem": 10 << 20, "mem_limit": 64 << 20, "pids": 3,
              "net_rx_total": 1536, "net_tx_total": 2 << 20, "io_read_total": 0, "io_write_total": 5 << 30,
              **figures}
    r.xadd(streams.container_stats(container.id), {"j": json.dumps(sample)})


def cells(out: str, headings: list[str]) -> list[list[str]]:
    """A printed table's rows, cut where its headings start (cells may hold spaces)."""
    heading, *rows = out.splitlines()
    starts = [heading.index(h) for h in headings]
    assert starts == sorted(starts) and heading.split() == " ".join(headings).split(), heading
    return [[row[a:b].strip() for a, b in zip(starts, starts[1:] + [None])] for row in rows]


STATS_HEADINGS = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]


def test_stats_prints_a_docker_stats_table_in_binary_units(berth, app, container):
    berth("login", berth.url, "--token", berth.token)
    add_sample(container)
    code, out, err = berth("stats", "--no-stream")
    assert code == 0, err
    assert cells(out, STATS_HEADINGS) == [[str(container.id), container.name, "12.50%", "10MiB / 64MiB", "15.62%",
                                           "1.5KiB / 2MiB", "0B / 5GiB", "3"]]
    assert berth("stats", "--no-stream", container.name)[1] == out  # by name, as docker takes it


def test_stats_of_a_container_that_is_not_running_says_so(berth, app, build, host, container):
    berth("login", berth.url, "--token", berth.token)
    stopped = Container.objects.create(app=app, build=build, host=host, ports=[], memory_mb=64,
                                       status=contracts.C_EXITED)
    code, _, err = berth("stats", "--no-stream", str(container.id), stopped.name)
    assert code == 1 and f"not running: {stopped.name} (`berth ps` lists yours)" in err
    code, _, err = berth("stats", "nosuch-1")
    assert code == 1 and "no container 'nosuch-1' in your teams" in err


def test_stats_streams_a_table_a_second_until_interrupted(berth, app, container, monkeypatch):
    berth("login", berth.url, "--token", berth.token)
    add_sample(container, cpu=1.0)
    sleeps = []

    def sleep(seconds):  # the second sample arrives while the CLI waits, as the agent's would
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt
        add_sample(container, cpu=99.0)
    monkeypatch.setattr(client.time, "sleep", sleep)
    code, out, _ = berth("stats")
    assert code == 130 and sleeps == [client.STATS_SECONDS] * 2
    tables = [line for line in out.splitlines() if line.startswith(str(container.id))]
    assert len(tables) == 2 and "1.00%" in tables[0] and "99.00%" in tables[1]
    assert "\033[H" not in out  # not a terminal: tables one after the other, not redrawn in place


def test_images_lists_the_teams_images_as_the_images_page(berth, app, host):
    berth("login", berth.url, "--token", berth.token)
    older = Build.objects.create(app=app, host=host, status=contracts.BUILD_SUCCEEDED, image=app.image_name,
                                 image_id="sha256:" + "a" * 64, image_size=5 << 20, image_layers=[["d", 1]],
                                 finished=timezone.now() - timedelta(hours=2))
    Build.objects.create(app=app, host=host, status=contracts.BUILD_SUCCEEDED, image=app.image_name,
                         image_id="sha256:" + "b" * 64, image_size=int(6.5 * (1 << 20)), image_layers=[["d", 1]] * 3,
                         finished=timezone.now() - timedelta(minutes=5))
    code, out, err = berth("images")
    assert code == 0, err
    assert cells(out, ["TEAM", "APP", "IMAGE", "IMAGE ID", "SIZE", "LAYERS", "BUILT", "HOST"]) == [
        ["alice", "web", app.image_name, "b" * 12, "6.5MiB", "3", "5 minutes ago", "test-host"],
        ["alice", "web", f"<older build #{older.id}>", "a" * 12, "5MiB", "1", "2 hours ago", "test-host"]]


def test_containers_are_named_as_docker_names_them(berth, app, container, queue):
    berth("login", berth.url, "--token", berth.token)
    code, out, _ = berth("stop", container.name)
    assert code == 0 and out == f"{container.id} running (stop asked)\n"
    assert json.loads(queue.lindex("host.test-host", 0))["headers"]["task"] == contracts.AGENT_STOP


def test_hosts_lists_the_fleet_for_admins_and_says_why_to_others(berth, owner, host):
    berth("login", berth.url, "--token", berth.token)
    code, _, err = berth("hosts")
    assert code == 1 and "the hosts are for admins" in err
    Host.objects.filter(id=host.id).update(labels={"zone": "a", "disk": "ssd"}, cordoned=True)
    _, admin_token = ApiToken.issue(get_user_model().objects.create_superuser("root", password="pw"), "cli")
    berth("login", berth.url, "--token", admin_token)
    code, out, _ = berth("hosts")
    row = next(line for line in out.splitlines() if line.startswith("test-host"))
    assert code == 0 and "disk=ssd,zone=a" in row and "True" in row
