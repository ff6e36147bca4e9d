"""The Hosts pages for admins: join tokens (shown once, revoked), cordon, drain, labels, remove."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from webui.hosts.models import Host, JoinToken, token_digest
from workers import contracts

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db):
    get_user_model().objects.create_superuser("root", password="pw-root")
    client = Client()
    client.login(username="root", password="pw-root")
    return client


def _flashes(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_others_are_not_told_the_pages_exist(owner, host):
    client = Client()
    client.login(username="alice", password="pw-alice")
    for url in ("/hosts/", f"/hosts/{host.id}/"):
        assert client.get(url).status_code == 404
    for url in (f"/hosts/{host.id}/cordon/", f"/hosts/{host.id}/drain/", f"/hosts/{host.id}/remove/",
                "/hosts/join-tokens/"):
        assert client.post(url, {"cordon": "1", "name": "x"}).status_code == 404
    host.refresh_from_db()
    assert not host.cordoned and not JoinToken.objects.exists()


def test_a_join_token_is_shown_once_and_can_be_revoked(admin_client):
    page = admin_client.post("/hosts/join-tokens/", {"name": "rack 2"}, follow=True)
    token = page.context["new_token"]
    assert token.startswith("berthjoin_") and token in page.content.decode()
    row = JoinToken.objects.get(name="rack 2")
    assert row.key_digest == token_digest(token) and token not in row.key_digest
    assert token not in admin_client.get("/hosts/").content.decode(), "shown once only"
    admin_client.post(f"/hosts/join-tokens/{row.id}/revoke/")
    assert JoinToken.valid(token) is None


def test_a_join_token_needs_a_name(admin_client):
    page = admin_client.post("/hosts/join-tokens/", {"name": "  "}, follow=True)
    assert any("Give the join token a name" in m for m in _flashes(page))
    assert not JoinToken.objects.exists()


def test_cordon_labels_and_their_bad_input(admin_client, host):
    admin_client.post(f"/hosts/{host.id}/cordon/", {"cordon": "1"})
    host.refresh_from_db()
    assert host.cordoned
    assert "cordoned" in admin_client.get("/hosts/").content.decode()
    admin_client.post(f"/hosts/{host.id}/labels/", {"labels": "disk=ssd\nzone=a"})
    host.refresh_from_db()
    assert host.labels == {"disk": "ssd", "zone": "a"}
    page = admin_client.post(f"/hosts/{host.id}/labels/", {"labels": "disk=ssd\nno label here"}, follow=True)
    assert any("Line 2 “no label here” is not a label" in m for m in _flashes(page))
    host.refresh_from_db()
    assert host.labels == {"disk": "ssd", "zone": "a"}, "the old labels are kept"
    assert "disk=ssd\nno label here</textarea>" in page.content.decode(), "the refused text comes back to mend"
    assert "no label here" not in admin_client.get(f"/hosts/{host.id}/").content.decode(), "once"


def test_drain_then_remove(admin_client, container, queue):
    page = admin_client.post(f"/hosts/{container.host_id}/remove/", follow=True)
    assert any("still has 1 container(s)" in m for m in _flashes(page))
    page = admin_client.post(f"/hosts/{container.host_id}/drain/", follow=True)
    assert any("0 container(s) moving to other hosts, 1 stopping" in m for m in _flashes(page))
    assert Host.objects.get(id=container.host_id).cordoned
    container.status = contracts.C_REMOVED
    container.save()
    page = admin_client.post(f"/hosts/{container.host_id}/remove/", follow=True)
    assert "test-host" not in page.content.decode().split("Join tokens")[0]
    assert admin_client.get(f"/hosts/{container.host_id}/").status_code == 404


def test_what_admins_do_to_hosts_is_in_the_fleet_audit_log(admin_client, container, queue):
    from webui.audit.models import AuditEntry

    host_id = container.host_id
    admin_client.post("/hosts/join-tokens/", {"name": "rack 3"})
    admin_client.post(f"/hosts/{host_id}/labels/", {"labels": "disk=ssd"})
    admin_client.post(f"/hosts/{host_id}/cordon/", {"cordon": "1"})
    admin_client.post(f"/hosts/{host_id}/drain/")
    admin_client.post(f"/hosts/{host_id}/labels/", {"labels": "bad label"})  # refused: not recorded
    entries = list(AuditEntry.objects.filter(team=None).exclude(action__startswith="team.").order_by("id")
                   .values_list("username", "action", "object_name"))
    assert entries == [("root", "join_token.create", "rack 3 (" + JoinToken.objects.get().hint + "…)"),
                       ("root", "host.labels", "test-host"), ("root", "host.cordon", "test-host"),
                       ("root", "host.drain", "test-host")]
    assert AuditEntry.objects.get(action="host.drain").details == {"moved": 0, "stopped": 1}
