"""Changing how an app runs, and deleting it."""
from __future__ import annotations

from django.test import Client

from webui.images.models import App
from workers import contracts


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_owner_changes_ports_and_limits(owner, app):
    response = client_for(owner).post(f"/apps/{app.id}/settings/", {"ports": "18100 : 80, 5353:53/udp",
                                                                     "memory_mb": "128", "cpus": "0.25"})
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.ports == ["18100:80/tcp", "5353:53/udp"] and app.memory_mb == 128 and app.cpus == 0.25


def test_settings_over_quota_are_refused_and_nothing_changes(owner, app):
    response = client_for(owner).post(f"/apps/{app.id}/settings/", {"ports": "", "memory_mb": "9999", "cpus": "9"})
    content = response.content.decode()
    assert response.status_code == 400
    assert "9999 MB is over the team&#x27;s memory quota of 2048 MB." in content
    assert "9 CPUs is over the team&#x27;s CPU quota of 4." in content
    app.refresh_from_db()
    assert app.memory_mb == 64


def test_viewer_cannot_change_settings(viewer, app):
    assert client_for(viewer).get(f"/apps/{app.id}/settings/").status_code == 404


def test_app_with_a_running_container_is_not_deleted(owner, app, container):
    response = client_for(owner).post(f"/apps/{app.id}/delete/", follow=True)
    assert "The app still has 1 container(s): remove them first." in response.content.decode()
    assert App.objects.filter(id=app.id).exists()


def test_app_without_containers_is_deleted_with_its_history(owner, app, container):
    container.status = contracts.C_REMOVED
    container.save()
    response = client_for(owner).post(f"/apps/{app.id}/delete/", follow=True)
    assert f"App {app.name} deleted." in response.content.decode()
    assert not App.objects.filter(id=app.id).exists()
