"""Restart policies in an app's settings, and the lifecycle actions on a container's page."""
from __future__ import annotations

import base64
import json

from django.test import Client

from webui.containers.actions import record_container_event
from webui.containers.models import Container
from workers import contracts


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _jobs(queue) -> list[tuple[str, list]]:
    """The (task name, arguments) of each job queued for the test host, oldest first."""
    jobs = []
    for raw in reversed(queue.lrange("host.test-host", 0, -1)):
        message = json.loads(raw)
        body = json.loads(base64.b64decode(message["body"]))
        jobs.append((message["headers"]["task"], body[0]))
    return jobs


def test_restart_policy_is_saved_and_travels_in_the_run_job(owner, app, build, queue,
                                                            django_capture_on_commit_callbacks):
    client = client_for(owner)
    response = client.post(f"/apps/{app.id}/settings/", {"ports": "", "memory_mb": "64", "cpus": "0.5",
                                                          "restart_policy": "on-failure:3"})
    assert response.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/apps/{app.id}/run/")
    [(task, args)] = _jobs(queue)
    assert task == contracts.AGENT_RUN and args[0]["restart"] == "on-failure:3"
    assert Container.objects.get().restart_policy == "on-failure:3"


def test_a_bad_restart_policy_is_refused_and_nothing_changes(owner, app):
    response = client_for(owner).post(f"/apps/{app.id}/settings/", {"ports": "", "memory_mb": "64", "cpus": "0.5",
                                                                     "restart_policy": "sometimes"})
    assert response.status_code == 400
    assert "Use no, on-failure, on-failure:N (at most N restarts), always or unless-stopped." in \
        response.content.decode()
    app.refresh_from_db()
    assert app.restart_policy == "no"


def test_remove_of_a_running_container_is_refused_without_force(owner, container, queue,
                                                                 django_capture_on_commit_callbacks):
    client = client_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/containers/{container.id}/remove/", follow=True)
    assert "The container is running: stop it first, or confirm to remove it anyway" in response.content.decode()
    assert _jobs(queue) == []
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/containers/{container.id}/remove/", {"force": "1"})
    assert _jobs(queue) == [(contracts.AGENT_REMOVE, [container.id, container.runtime_id, True])]


def test_kill_sends_the_chosen_signal_and_refuses_others(owner, container, queue, django_capture_on_commit_callbacks):
    client = client_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/containers/{container.id}/kill/", {"signal": "NOPE"}, follow=True)
    assert "“NOPE” is not one of the signals offered" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/containers/{container.id}/kill/", {"signal": "HUP"})
    assert _jobs(queue) == [(contracts.AGENT_KILL, [container.id, container.runtime_id, "HUP"])]


def test_restart_is_queued_and_a_viewer_cannot(owner, viewer, container, queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(viewer).post(f"/containers/{container.id}/restart/", follow=True)
    assert b"Viewers cannot stop or remove containers." in response.content and _jobs(queue) == []
    with django_capture_on_commit_callbacks(execute=True):
        client_for(owner).post(f"/containers/{container.id}/restart/")
    assert _jobs(queue) == [(contracts.AGENT_RESTART, [container.id, container.runtime_id])]


def test_a_restart_by_policy_shows_the_count_and_clears_the_exit(owner, container):
    record_container_event(container.id, {"status": contracts.C_EXITED, "exit_code": 1})
    record_container_event(container.id, {"status": contracts.C_RUNNING, "restart_count": 1, "ip": "10.0.0.5"})
    container.refresh_from_db()
    assert container.status == contracts.C_RUNNING and container.restart_count == 1
    assert container.exit_code is None and container.finished is None
    page = client_for(owner).get(f"/containers/{container.id}/").content.decode()
    assert '<span id="restarts">1</span>' in page
