"""The audit log: each write a user makes records who did what to which object, once it has
succeeded; a team's owners (and admins) read the team's log, admins the whole fleet's."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from webui.accounts.models import Team
from webui.api.models import ApiToken
from webui.audit.log import record
from webui.audit.models import AuditEntry
from webui.containers import actions as containers
from webui.core.errors import UserError
from webui.images import actions as images
from webui.images.models import Build
from webui.volumes import actions as volumes
from workers import contracts

pytestmark = pytest.mark.django_db
DOCKERFILE = 'FROM busybox\nCMD ["sleep", "600"]\n'


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin(db):
    return get_user_model().objects.create_superuser("root", password="pw-root")


def last_entry() -> AuditEntry:
    return AuditEntry.objects.order_by("-id").first()


def entry_of(user, action: str) -> tuple:
    entry = last_entry()
    assert entry.action == action
    assert AuditEntry.objects.filter(action=action).count() == 1, f"{action} was recorded more than once"
    return entry.username, entry.team, entry.object_type, entry.object_id, entry.object_name, entry.details


def test_app_and_build_writes_are_recorded(owner, team, app, build, host, queue):
    made = images.create_app(owner, {"team": team, "name": "api", "dockerfile": SimpleUploadedFile(
        "Dockerfile", DOCKERFILE.encode()), "ports": [], "memory_mb": 32, "cpus": 0.5})
    assert entry_of(owner, "app.create") == ("alice", team, "app", str(made.id), "api", {})
    images.update_app(owner, made, {"ports": ["18091:80/tcp"], "memory_mb": 48, "cpus": 0.5})
    assert entry_of(owner, "app.update")[:5] == ("alice", team, "app", str(made.id), "api")
    made_id = made.id
    images.delete_app(owner, made)
    assert entry_of(owner, "app.delete")[:5] == ("alice", team, "app", str(made_id), "api")

    started = images.start_build(owner, app, no_cache=True, target="final")
    assert entry_of(owner, "build.start") == ("alice", team, "build", str(started.id), str(started),
                                              {"no_cache": True, "target": "final"})
    images.cancel_build(owner, started)
    assert entry_of(owner, "build.cancel")[3] == str(started.id)
    images.remove_build_image(owner, build)
    assert entry_of(owner, "image.remove")[3:] == (str(build.id), str(build), {"image": "team1/web:latest"})


def test_container_writes_are_recorded_with_what_tells_them_apart(owner, team, app, build, container, queue):
    containers.stop_container(owner, container)
    assert entry_of(owner, "container.stop") == ("alice", team, "container", str(container.id), container.name, {})
    containers.kill_container(owner, container, "HUP")
    assert entry_of(owner, "container.kill")[5] == {"signal": "HUP"}
    containers.restart_container(owner, container)
    assert entry_of(owner, "container.restart")[3] == str(container.id)
    containers.open_terminal(owner, container, 80, 24)
    assert entry_of(owner, "container.exec")[5] == {"command": ["sh"]}
    containers.remove_container(owner, container, force=True)
    assert entry_of(owner, "container.remove")[5] == {"force": True}
    container.status = contracts.C_EXITED
    container.save()
    ran = containers.run_app(owner, app)
    assert entry_of(owner, "container.run") == ("alice", team, "container", str(ran.id), ran.name,
                                                {"build": build.id, "host": "test-host"})


def test_volume_writes_and_a_new_users_team_are_recorded(owner, team, outsider):
    volume = volumes.create_volume(owner, team, "data")
    assert entry_of(owner, "volume.create") == ("alice", team, "volume", str(volume.id), str(volume), {})
    volume_id = volume.id
    assert volumes.remove_volume(owner, volume) is True  # on no host yet: gone at once
    assert entry_of(owner, "volume.remove")[3:] == (str(volume_id), str(volume), {"host": None})
    # The personal team made with each account is Berth's doing, not the user's.
    entry = AuditEntry.objects.get(action="team.create", team=outsider.teams.get())
    assert (entry.user, entry.username, entry.details) == (None, "", {"personal": True, "owner": "bob"})


def test_token_writes_are_recorded_for_admins_only(owner):
    browser = client_for(owner)
    browser.post("/account/tokens/", {"name": "laptop"})
    token = owner.api_tokens.get()
    assert entry_of(owner, "token.create") == ("alice", None, "apitoken", str(token.id), str(token), {})
    browser.post(f"/account/tokens/{token.id}/revoke/")
    assert entry_of(owner, "token.revoke")[3] == str(token.id)


def test_a_refused_action_records_nothing(owner, viewer, team, app, container, queue):
    before = AuditEntry.objects.count()
    client_for(viewer).post(f"/containers/{container.id}/stop/")  # a viewer
    with pytest.raises(UserError):
        containers.kill_container(owner, container, "NOPE")  # a bad signal
    container.status = contracts.C_EXITED
    container.save()
    with pytest.raises(UserError):
        containers.stop_container(owner, container)  # not running
    with pytest.raises(UserError):
        images.delete_app(owner, app)  # it still has a container
    with pytest.raises(UserError):
        volumes.create_volume(viewer, team, "data")
    with pytest.raises(UserError):
        images.remove_build_image(viewer, Build.objects.get())
    assert AuditEntry.objects.count() == before


def test_an_entry_keeps_its_names_when_the_user_and_team_are_gone(owner, outsider):
    team = outsider.teams.get()
    record(outsider, team, "volume.create", None, note="kept")
    outsider.delete()
    Team.objects.filter(id=team.id).delete()  # a user's personal team outlives them: deleted by hand
    entry = AuditEntry.objects.get(action="volume.create")
    assert (entry.user, entry.username, entry.team, entry.team_name) == (None, "bob", None, "bob")


@pytest.fixture
def sixty_entries(owner, team):
    """60 entries of the team a minute apart, after its creation, the newest a stop; and, newer
    still, one of another team."""
    now = timezone.now()
    for n in range(60):
        entry = record(owner, team, "container.stop" if n % 2 else "container.kill", None, n=n)
        AuditEntry.objects.filter(id=entry.id).update(when=now + timedelta(minutes=n + 1))
    other = Team.objects.create(name="others")
    entry = record(None, other, "app.create", None)
    AuditEntry.objects.filter(id=entry.id).update(when=now + timedelta(hours=2))


def rows(page: str) -> list[str]:
    return [part.split('"', 1)[0] for part in page.split('<tr data-action="')[1:]]


def test_owners_read_the_team_log_newest_first_by_pages_and_filtered(owner, team, sixty_entries):
    first = client_for(owner).get(f"/teams/{team.id}/audit/").content.decode()
    team_entries = AuditEntry.objects.filter(team=team).count()  # the sixty and the team's creation
    assert len(rows(first)) == 50 and f"page 1 of 2 ({team_entries} entries)" in first
    assert rows(first)[0] == "container.stop" and "n=59" in first and "n=9<" not in first
    second = client_for(owner).get(f"/teams/{team.id}/audit/?page=2").content.decode()
    assert rows(second)[-1] == "team.create" and "n=0<" in second and "app.create" not in rows(second)
    assert len(rows(second)) == team_entries - 50
    kills = client_for(owner).get(f"/teams/{team.id}/audit/?action=container.kill").content.decode()
    assert set(rows(kills)) == {"container.kill"} and len(rows(kills)) == 30


def test_members_viewers_and_other_teams_get_404_for_the_team_log(teammate, viewer, outsider, team, sixty_entries):
    for user in (teammate, viewer, outsider):
        assert client_for(user).get(f"/teams/{team.id}/audit/").status_code == 404
        assert client_for(user).get("/audit/").status_code == 404


def test_admins_read_every_teams_log_and_the_fleets(admin, team, sixty_entries):
    assert len(rows(client_for(admin).get(f"/teams/{team.id}/audit/").content.decode())) == 50
    fleet = client_for(admin).get("/audit/").content.decode()
    assert rows(fleet)[0] == "app.create" and ">others</a>" in fleet  # the other team's, newest
    only_others = client_for(admin).get(f"/audit/?team={Team.objects.get(name='others').id}").content.decode()
    assert rows(only_others) == ["app.create"]


def api(user) -> Client:
    _, token = ApiToken.issue(user, "tests")
    return Client(headers={"Authorization": f"Bearer {token}"})


def test_the_api_serves_the_same_logs_to_the_same_people(admin, owner, teammate, outsider, team, sixty_entries):
    page = api(owner).get(f"/api/teams/{team.id}/audit/?action=container.stop").json()
    assert page["count"] == 30 and len(page["results"]) == 30 and page["next"] is None
    assert page["results"][0]["details"] == {"n": 59} and page["results"][0]["username"] == "alice"
    everything = api(owner).get(f"/api/teams/{team.id}/audit/").json()
    assert len(everything["results"]) == 50 and everything["next"].endswith("page=2")
    assert api(teammate).get(f"/api/teams/{team.id}/audit/").status_code == 403
    assert api(outsider).get(f"/api/teams/{team.id}/audit/").status_code == 404
    assert api(owner).get("/api/audit/").status_code == 404
    assert api(admin).get("/api/audit/").json()["results"][0]["team_name"] == "others"
    refused = api(admin).get("/api/audit/?team=others")
    assert refused.status_code == 400 and "team's ID" in refused.json()["team"]
