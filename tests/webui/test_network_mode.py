"""An app's network mode: bridge and none for anyone who may write, host for admins only,
in the pages and the API alike; ports and rate limits refused where they mean nothing."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from webui.accounts.models import Membership
from webui.api.models import ApiToken

HOST_REFUSED = "Only admins may choose network mode host"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api(user) -> Client:
    _, token = ApiToken.issue(user, "tests")
    return Client(headers={"Authorization": f"Bearer {token}"})


def settings(network_mode: str, **extra) -> dict:
    return {"ports": "", "memory_mb": "32", "cpus": "0.5", "restart_policy": "no", "network_mode": network_mode,
            **extra}


@pytest.fixture
def admin(team):
    user = get_user_model().objects.create_superuser("root-admin", password="pw-admin")
    Membership.objects.create(team=team, user=user, role=Membership.MEMBER)
    return user


def test_a_member_cannot_choose_host_and_an_admin_can(owner, admin, app):
    response = client_for(owner).post(f"/apps/{app.id}/settings/", settings("host"))
    assert response.status_code == 400 and HOST_REFUSED in response.content.decode()
    app.refresh_from_db()
    assert app.network_mode == "bridge"
    assert client_for(admin).post(f"/apps/{app.id}/settings/", settings("host")).status_code == 302
    app.refresh_from_db()
    assert app.network_mode == "host"
    # Its members may keep what an admin chose while changing other settings.
    assert client_for(owner).post(f"/apps/{app.id}/settings/", settings("host", memory_mb="48")).status_code == 302
    app.refresh_from_db()
    assert (app.network_mode, app.memory_mb) == ("host", 48)


def test_anyone_who_may_write_chooses_none_and_the_settings_page_offers_the_modes(teammate, app):
    page = client_for(teammate).get(f"/apps/{app.id}/settings/").content.decode()
    assert 'name="network_mode"' in page and 'value="host"' in page and 'value="bridge" selected' in page
    assert client_for(teammate).post(f"/apps/{app.id}/settings/", settings("none")).status_code == 302
    app.refresh_from_db()
    assert app.network_mode == "none"


def test_a_new_app_in_host_mode_is_refused_to_a_member(owner, team):
    form = {"name": "hosted", "team": str(team.id), "memory_mb": "32", "cpus": "0.5", "ports": "",
            "network_mode": "host", "dockerfile": SimpleUploadedFile("Dockerfile", b"FROM busybox\n")}
    response = client_for(owner).post("/apps/new/", form)
    assert response.status_code == 400 and HOST_REFUSED in response.content.decode()
    assert not team.apps.filter(name="hosted").exists()


@pytest.mark.parametrize("mode, extra, field_message", [
    ("host", {"ports": "18091:80"}, "Ports cannot be published with network mode host"),
    ("none", {"ports": "18091:80"}, "Ports cannot be published with network mode none: it has no network."),
    ("host", {"network_in_mb": "1"}, "Rate limits need network mode bridge, not host"),
])
def test_ports_and_rate_limits_are_refused_without_a_network_of_its_own(admin, app, mode, extra, field_message):
    response = client_for(admin).post(f"/apps/{app.id}/settings/", settings(mode, **extra))
    assert response.status_code == 400 and field_message in response.content.decode()
    app.refresh_from_db()
    assert app.network_mode == "bridge"


def test_the_api_holds_the_same_rule(owner, admin, app):
    response = api(owner).patch(f"/api/apps/{app.id}/", {"network_mode": "host"}, content_type="application/json")
    assert response.status_code == 400 and HOST_REFUSED in str(response.json()["network_mode"])
    response = api(owner).patch(f"/api/apps/{app.id}/", {"network_mode": "sideways"},
                                content_type="application/json")
    assert response.status_code == 400 and "sideways is not one of the available choices" in str(response.json())
    response = api(admin).patch(f"/api/apps/{app.id}/", {"network_mode": "host", "ports": []},
                                content_type="application/json")
    assert response.status_code == 200 and response.json()["network_mode"] == "host"
    # A member's change of something else keeps the admin's choice.
    response = api(owner).patch(f"/api/apps/{app.id}/", {"memory_mb": 40}, content_type="application/json")
    assert response.status_code == 200 and response.json()["network_mode"] == "host"
