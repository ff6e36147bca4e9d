"""The fleet through the API, for admins: list, cordon, uncordon, labels, drain, remove.
Anyone else is told the hosts do not exist (404), as on the pages."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from webui.hosts.models import Host
from workers import contracts

from .test_api import api

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db):
    return get_user_model().objects.create_superuser("root", password="pw-root")


def test_hosts_are_for_admins_only(owner, host):
    assert api().get("/api/hosts/").status_code == 401
    assert api(owner).get("/api/hosts/").status_code == 404
    assert api(owner).post(f"/api/hosts/{host.id}/cordon/").status_code == 404
    host.refresh_from_db()
    assert not host.cordoned


def test_an_admin_cordons_labels_and_uncordons(admin, host):
    client = api(admin)
    listed = client.get("/api/hosts/").json()
    assert [h["name"] for h in listed] == ["test-host"] and listed[0]["is_up"]
    assert client.post(f"/api/hosts/{host.id}/cordon/").json()["cordoned"] is True
    assert not Host.objects.up().exists()
    answer = client.put(f"/api/hosts/{host.id}/labels/", {"labels": {"disk": "ssd"}}, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["labels"] == {"disk": "ssd"}
    assert client.post(f"/api/hosts/{host.id}/uncordon/").json()["cordoned"] is False


@pytest.mark.parametrize("body, message", [
    ({"labels": {"bad key": "x"}}, "is not a label"),
    ({"labels": "disk=ssd"}, "dictionary"),
    ({}, "required"),
])
def test_bad_labels_are_refused_and_the_old_ones_kept(admin, host, body, message):
    Host.objects.filter(id=host.id).update(labels={"zone": "a"})
    answer = api(admin).put(f"/api/hosts/{host.id}/labels/", body, content_type="application/json")
    assert answer.status_code == 400 and message in str(answer.json())
    host.refresh_from_db()
    assert host.labels == {"zone": "a"}


def test_a_host_with_containers_is_not_removed(admin, container, queue):
    client = api(admin)
    answer = client.delete(f"/api/hosts/{container.host_id}/")
    assert answer.status_code == 400 and "still has 1 container(s)" in answer.json()["detail"]
    assert client.post(f"/api/hosts/{container.host_id}/drain/").json() == {"moved": 0, "stopped": 1}
    container.status = contracts.C_REMOVED
    container.save()
    assert client.delete(f"/api/hosts/{container.host_id}/").status_code == 204
    assert client.get("/api/hosts/").json() == []
