"""The app's network and limit settings: port forms, bandwidth, pids and cpuset,
each bad input named on the form, and the run job that carries them to the host."""
from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from webui.images.models import App
from workers import contracts

from .test_bad_input import post_app

SETTINGS = {"ports": "", "memory_mb": "64", "cpus": "0.5"}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_udp_and_address_bound_ports_are_kept(owner, team):
    response = post_app(owner, team, ports="8053:53/udp, 127.0.0.1:8080:80")
    assert response.status_code == 302
    assert App.objects.get().ports == ["8053:53/udp", "127.0.0.1:8080:80/tcp"]


@pytest.mark.parametrize("ports, message", [
    ("127.0.0.1:80:80", "Host port 80 is outside the allowed range 1024-65535."),
    ("8053:53/sctp", "“8053:53/sctp” is not a port mapping like 8080:80, 5353:53/udp or 127.0.0.1:8080:80."),
    ("300.0.0.1:8080:80", "“300.0.0.1” in “300.0.0.1:8080:80” is not an IPv4 address."),
    ("localhost:8080:80", "“localhost:8080:80” is not a port mapping"),
    ("127.0.0.1:8080:80, 8080:81", "Host port 8080/tcp is mapped twice."),
])
def test_bad_port_is_named_on_the_form(owner, team, ports, message):
    response = post_app(owner, team, ports=ports)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not App.objects.exists()


@pytest.mark.parametrize("ports, message", [("2000:80", "Host port 2000 is outside the allowed range 3000-4000.")])
def test_the_range_comes_from_the_settings(owner, team, settings, ports, message):
    settings.BERTH_PORT_MIN, settings.BERTH_PORT_MAX = 3000, 4000
    response = post_app(owner, team, ports=ports)
    assert message in response.content.decode()


def test_owner_sets_bandwidth_pids_and_cpuset(owner, app):
    response = client_for(owner).post(f"/apps/{app.id}/settings/", {
        **SETTINGS, "network_in_mb": "1", "network_out_mb": "0.5", "pids_limit": "20", "cpuset_cpus": "0-1"})
    assert response.status_code == 302
    app.refresh_from_db()
    assert (app.network_in_mb, app.network_out_mb, app.pids_limit, app.cpuset_cpus) == (1, 0.5, 20, "0-1")


def test_empty_limits_mean_none_and_the_default_pids_limit(owner, app):
    client_for(owner).post(f"/apps/{app.id}/settings/", {**SETTINGS, "network_in_mb": "", "pids_limit": ""})
    app.refresh_from_db()
    assert app.network_in_mb is None and app.network_out_mb is None and app.pids_limit == 1024


@pytest.mark.parametrize("field, value, message", [
    ("cpuset_cpus", "0-", "Use CPU numbers and ranges like 0, 0-1 or 0,2."),
    ("cpuset_cpus", "all", "Use CPU numbers and ranges like 0, 0-1 or 0,2."),
    ("network_in_mb", "0", "Ensure this value is greater than or equal to 0.01."),
    ("network_out_mb", "fast", "Enter a number."),
    ("pids_limit", "0", "Ensure this value is greater than or equal to 1."),
])
def test_bad_limit_is_named_and_nothing_changes(owner, app, field, value, message):
    response = client_for(owner).post(f"/apps/{app.id}/settings/", {**SETTINGS, field: value})
    assert response.status_code == 400
    assert message in response.content.decode()
    app.refresh_from_db()
    assert (app.pids_limit, app.cpuset_cpus, app.network_in_mb) == (1024, "", None)


def test_run_job_carries_the_team_and_the_limits_in_bytes(owner, app, build, queue,
                                                          django_capture_on_commit_callbacks):
    app.network_in_mb, app.network_out_mb, app.pids_limit, app.cpuset_cpus = 1, 2.5, 20, "0"
    app.ports = ["127.0.0.1:18080:80/tcp"]
    app.save()
    with django_capture_on_commit_callbacks(execute=True):
        client_for(owner).post(f"/apps/{app.id}/run/")
    message = json.loads(queue.lindex("host.test-host", 0))
    args, _, _ = json.loads(base64.b64decode(message["body"]))
    job = args[0]
    assert message["headers"]["task"] == contracts.AGENT_RUN
    assert job["team"] == str(app.team_id) and job["pids_limit"] == 20 and job["cpuset_cpus"] == "0"
    assert job["network_receive_bps"] == 1024 * 1024 and job["network_send_bps"] == int(2.5 * 1024 * 1024)
    assert job["ports"] == ["127.0.0.1:18080:80/tcp"]
