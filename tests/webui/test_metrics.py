"""/metrics as Prometheus scrapes it: refused without a token, and with one the running
containers' newest figures under cAdvisor's names."""
from __future__ import annotations

import json
import time

import pytest
import redis
from django.conf import settings as django_settings
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from webui.containers.models import Container
from workers import contracts, streams

from .test_access import client_for

TOKEN = "scrape-me-0123456789"
SAMPLE = {"cpu": 12.5, "cpu_of_limit": 25.0, "mem": 41_943_040, "mem_limit": 67_108_864, "rss": 40_000_000,
          "cache": 1_000_000, "pids": 3, "pids_limit": 512, "net_rx": 10, "net_tx": 5, "io_read": 0, "io_write": 0,
          "throttled_periods": 1, "throttled_ms": 2.5, "oom_kills": 1, "cpu_seconds_total": 123.456,
          "net_rx_total": 9000, "net_tx_total": 4000, "io_read_total": 4096, "io_write_total": 8192,
          "throttled_periods_total": 77, "throttled_seconds_total": 1.5}


@pytest.fixture
def stats_of():
    client = redis.Redis.from_url(django_settings.REDIS_URL, decode_responses=True)
    written = []

    def write(container, sample, at_ms=None):
        key = streams.container_stats(container.id)
        client.delete(key)
        written.append(key)
        client.xadd(key, {"j": json.dumps(dict(sample, t=at_ms or int(time.time() * 1000)))},
                    id=f"{at_ms}-0" if at_ms else "*")

    yield write
    for key in written:
        client.delete(key)
    client.close()


def series(text: str) -> dict[tuple, float]:
    """{(sample name, name label): value} of an exposition."""
    return {(s.name, s.labels.get("name")): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(token: str | None = None, client: Client | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return (client or Client()).get("/metrics", **headers)


def test_metrics_without_a_token_is_refused(owner, container, settings, stats_of):
    settings.BERTH_METRICS_TOKEN = TOKEN
    stats_of(container, SAMPLE)
    assert scrape().status_code == 403
    assert scrape("wrong-token").status_code == 403
    assert scrape(TOKEN + "ü").status_code == 403
    assert scrape(client=client_for(owner)).status_code == 403  # a member, not staff
    settings.BERTH_METRICS_TOKEN = ""
    assert scrape("").status_code == 403  # no token configured: tokens open nothing


def test_metrics_lists_the_running_containers_series(container, settings, stats_of):
    settings.BERTH_METRICS_TOKEN = TOKEN
    stats_of(container, SAMPLE)
    response = scrape(TOKEN)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=")
    values = series(response.content.decode())
    name = container.name
    assert values[("container_cpu_usage_seconds_total", name)] == 123.456
    assert values[("container_memory_working_set_bytes", name)] == 41_943_040
    assert values[("container_memory_rss", name)] == 40_000_000
    assert values[("container_memory_cache", name)] == 1_000_000
    assert values[("container_spec_memory_limit_bytes", name)] == 67_108_864
    assert values[("container_network_receive_bytes_total", name)] == 9000
    assert values[("container_network_transmit_bytes_total", name)] == 4000
    assert values[("container_fs_reads_bytes_total", name)] == 4096
    assert values[("container_fs_writes_bytes_total", name)] == 8192
    assert values[("container_cpu_cfs_throttled_periods_total", name)] == 77
    assert values[("container_cpu_cfs_throttled_seconds_total", name)] == 1.5
    assert values[("container_oom_events_total", name)] == 1
    assert values[("container_processes", name)] == 3
    labels = next(s.labels for f in text_string_to_metric_families(response.content.decode())
                  for s in f.samples if s.name == "container_cpu_usage_seconds_total")
    assert labels == {"name": name, "id": container.runtime_id, "image": "team1/web:latest", "cpu": "total",
                      "team": container.team.name, "app": "web", "host": "test-host"}


def test_metrics_leave_out_stopped_and_silent_containers(container, settings, stats_of):
    settings.BERTH_METRICS_TOKEN = TOKEN
    stopped = Container.objects.create(app=container.app, build=container.build, host=container.host, ports=[],
                                       memory_mb=64, status=contracts.C_EXITED)
    silent = Container.objects.create(app=container.app, build=container.build, host=container.host, ports=[],
                                      memory_mb=64, status=contracts.C_RUNNING)
    stats_of(container, SAMPLE)
    stats_of(stopped, SAMPLE)
    stats_of(silent, SAMPLE, at_ms=int((time.time() - 600) * 1000))  # its agent stopped sampling
    names = {name for (_, name) in series(scrape(TOKEN).content.decode())}
    assert names == {container.name}


def test_staff_session_may_scrape(owner, container, stats_of):
    owner.is_staff = True
    owner.save()
    stats_of(container, SAMPLE)
    response = scrape(client=client_for(owner))
    assert response.status_code == 200
    assert series(response.content.decode())[("container_memory_working_set_bytes", container.name)] == 41_943_040


def test_the_token_may_come_from_a_file(tmp_path, monkeypatch):
    from workers.env import env_str

    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    monkeypatch.setenv("BERTH_METRICS_TOKEN_FILE", str(path))
    assert env_str("BERTH_METRICS_TOKEN", "") == TOKEN
