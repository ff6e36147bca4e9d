"""The per-minute history: what agents report is kept, once, after the container is gone,
and pruned when it is older than BERTH_HISTORY_DAYS; bad reports disturb nothing."""
from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from webui.containers.actions import record_container_event
from webui.containers.models import Container
from webui.history import actions as history
from webui.history.models import ContainerMinute, HostMinute
from webui.hosts.actions import record_heartbeat
from webui.hosts.models import Host
from workers import contracts
from workers.control.tasks import stats_minute

from .test_access import client_for


def this_minute() -> int:
    now = int(time.time())
    return now - now % 60


def figures(**overrides) -> dict:
    base = {"samples": 60.0, "cpu": 50.0, "cpu_max": 80.0, "mem": 40e6, "mem_max": 42e6, "mem_limit": 64e6,
            "pids": 3.0, "net_rx": 100.0, "net_tx": 50.0, "io_read": 0.0, "io_write": 4096.0,
            "throttled_periods": 12.0, "throttled_ms": 300.0, "oom_kills": 0.0}
    base.update(overrides)
    return base


def second_container(container) -> Container:
    return Container.objects.create(app=container.app, build=container.build, host=container.host, ports=[],
                                    memory_mb=64, status=contracts.C_RUNNING)


def test_a_minute_is_stored_and_a_second_delivery_doubles_nothing(owner, container):
    minute = this_minute()
    for _ in range(2):  # the task delivered twice, as acks_late allows
        stats_minute("test-host", minute, {str(container.id): figures()})
    rows = ContainerMinute.objects.filter(container=container)
    assert rows.count() == 1
    assert rows.get().cpu == 50.0 and rows.get().mem == 40e6 and rows.get().team == container.team
    data = client_for(owner).get(f"/containers/{container.id}/history/").json()
    assert data["t"] == [minute] and data["cpu"] == [50.0] and data["mem_max"] == [42e6]
    team = client_for(owner).get(f"/teams/{container.team.id}/history/").json()
    assert team["cpu"] == [50.0] and team["containers"] == [1]


def test_team_history_sums_its_containers(owner, container):
    other = second_container(container)
    minute = this_minute()
    stats_minute("test-host", minute, {str(container.id): figures(), str(other.id): figures(cpu=25.0, mem=10e6)})
    team = client_for(owner).get(f"/teams/{container.team.id}/history/").json()
    assert team["t"] == [minute] and team["cpu"] == [75.0] and team["mem"] == [50e6] and team["containers"] == [2]


def test_history_is_kept_after_the_container_is_removed(owner, container):
    stats_minute("test-host", this_minute(), {str(container.id): figures()})
    record_container_event(container.id, {"status": contracts.C_REMOVED})
    assert Container.objects.get(id=container.id).status == contracts.C_REMOVED
    assert client_for(owner).get(f"/containers/{container.id}/history/").json()["cpu"] == [50.0]
    container.app.delete()  # the team's history outlives even the app
    assert client_for(owner).get(f"/teams/{container.team.id}/history/").json()["cpu"] == [50.0]


def test_bad_minute_reports_are_logged_and_skipped_alone(container, caplog):
    other_host = Host.objects.create(name="elsewhere", last_seen=timezone.now())
    foreign = Container.objects.create(app=container.app, build=container.build, host=other_host, ports=[],
                                       memory_mb=64, status=contracts.C_RUNNING)
    minute = this_minute()
    with caplog.at_level(logging.WARNING, logger="webui.history.actions"):
        stats_minute("test-host", minute, {
            str(container.id): figures(),
            "999999": figures(),                           # no such container
            "abc": figures(),                              # not an ID
            str(foreign.id): figures(),                    # another host's container
            str(second_container(container).id): figures(cpu="lots"),  # not a number
        })
        stats_minute("test-host", minute, {str(container.id): figures(mem=float("nan"))})
        stats_minute("test-host", "soon", {str(container.id): figures(cpu=1.0)})
        stats_minute("test-host", minute + 86400, {str(container.id): figures(cpu=1.0)})  # the future
        stats_minute("no-such-host", minute, {str(container.id): figures(cpu=1.0)})
        stats_minute("test-host", minute, ["not", "a", "dict"])
    assert [(r.container_id, r.cpu) for r in ContainerMinute.objects.all()] == [(container.id, 50.0)]
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "'999999'" in messages and "'abc'" in messages and "not numbers" in messages
    assert "no-such-host" in messages and "'soon'" in messages


def test_heartbeats_fold_into_one_row_a_minute(host):
    sent = time.time()
    for cpu in (10.0, 20.0, 30.0):
        record_heartbeat({"name": host.name, "cpus": 2, "cpu_percent": cpu, "memory_bytes": 8e9,
                          "memory_used_bytes": 2e9, "disk_free_bytes": 5e10, "disk_total_bytes": 1e11,
                          "load": 0.5, "containers": 1, "time": sent})
    row = HostMinute.objects.get(host=host)
    assert row.beats == 3 and row.cpu_percent == pytest.approx(20.0) and row.cpu_max == 30.0
    assert row.memory_used_bytes == 2e9 and row.disk_total_bytes == 1e11
    host.refresh_from_db()
    assert host.memory_used_bytes == 2e9 and host.disk_total_bytes == 1e11


def _old_and_new_rows(container):
    now = timezone.now()
    for at in (now - timedelta(days=8), now - timedelta(hours=1)):
        ContainerMinute.objects.create(container=container, team=container.team, host=container.host, at=at)
        HostMinute.objects.create(host=container.host, at=at)


def test_rows_older_than_the_setting_are_pruned(container, settings):
    settings.BERTH_HISTORY_DAYS = 7
    _old_and_new_rows(container)
    assert history.prune_history() == 2
    assert ContainerMinute.objects.count() == 1 and HostMinute.objects.count() == 1
    assert ContainerMinute.objects.get().at > timezone.now() - timedelta(days=1)


def test_heartbeats_prune_at_most_once_an_hour(container, monkeypatch):
    monkeypatch.setattr(history, "_last_prune", [float("-inf")])
    _old_and_new_rows(container)
    record_heartbeat({"name": container.host.name, "cpu_percent": 1.0})
    assert not ContainerMinute.objects.filter(at__lt=timezone.now() - timedelta(days=7)).exists()
    _old_and_new_rows(container)
    record_heartbeat({"name": container.host.name, "cpu_percent": 1.0})  # within the hour: left for later
    assert ContainerMinute.objects.filter(at__lt=timezone.now() - timedelta(days=7)).count() == 1


def test_history_is_for_members_and_host_history_for_admins(owner, outsider, container, host):
    stats_minute("test-host", this_minute(), {str(container.id): figures()})
    client = client_for(outsider)
    assert client.get(f"/containers/{container.id}/history/").status_code == 404
    assert client.get(f"/teams/{container.team.id}/history/").status_code == 404
    assert client_for(owner).get(f"/hosts/{host.id}/history/").status_code == 404
    owner.is_staff = True
    owner.save()
    assert client_for(owner).get(f"/hosts/{host.id}/history/").status_code == 200
    assert client_for(owner).get(f"/containers/{container.id}/history/?hours=abc").status_code == 400


def test_a_heartbeat_figure_that_is_not_a_number_leaves_the_minute_alone(host):
    sent = time.time()
    record_heartbeat({"name": host.name, "cpu_percent": 10.0, "load": 1.0, "time": sent})
    history.record_host_beat(host, {"name": host.name, "cpu_percent": 30.0, "load": "high", "time": sent})
    row = HostMinute.objects.get(host=host)
    assert row.beats == 2 and row.cpu_percent == pytest.approx(20.0) and row.load == pytest.approx(1.0)


def test_history_days_below_one_is_refused_at_start_up():
    import os
    import subprocess
    import sys

    env = dict(os.environ, BERTH_HISTORY_DAYS="0")
    result = subprocess.run([sys.executable, "-c", "import webui.settings"], env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "BERTH_HISTORY_DAYS=0" in result.stderr
