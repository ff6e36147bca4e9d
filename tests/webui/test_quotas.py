"""Each quota lets the job that reaches its limit through and refuses the next, saying which
quota, its limit and the team's use; the team sees its use of each; admins cannot set a
port range that is no range."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from webui.accounts.models import Membership, Quota, Team
from webui.api.models import ApiToken
from webui.containers.models import Container
from webui.images.actions import record_build_event
from webui.images.models import App, Build
from workers import contracts

pytestmark = pytest.mark.django_db
DOCKERFILE = 'FROM busybox\nCMD ["sleep", "600"]\n'
MB = 1 << 20


def api(user) -> Client:
    return Client(headers={"Authorization": f"Bearer {ApiToken.issue(user, 'quota tests')[1]}"})


def set_quota(team, **limits) -> None:
    for name, value in limits.items():
        setattr(team.quota, name, value)
    team.quota.save()


def running(app, build, host, memory_mb=64, cpus=0.5, ports=()) -> Container:
    return Container.objects.create(app=app, build=build, host=host, ports=list(ports), memory_mb=memory_mb,
                                    cpus=cpus, status=contracts.C_RUNNING)


@pytest.fixture
def portless(app):
    """The app without published ports, so runs never clash on a host port."""
    App.objects.filter(id=app.id).update(ports=[])
    app.refresh_from_db()
    return app


@pytest.mark.parametrize("limits, held, message", [
    ({"max_containers": 2}, {},
     "Quota exceeded: running containers — the team runs 2 of its 2 containers."),
    ({"max_memory_mb": 128}, {"memory_mb": 64},
     "Quota exceeded: total memory — the team's containers hold 128 MB of its 128 MB; this one asks for 64 MB more."),
    ({"max_cpus": 0.8}, {"cpus": 0.3},
     "Quota exceeded: total CPUs — the team's containers hold 0.8 of its 0.8 CPUs; this one asks for 0.5 more."),
])
def test_a_run_quota_lets_the_run_that_reaches_it_start_and_refuses_the_next(owner, portless, build, host, queue,
                                                                             limits, held, message,
                                                                             django_capture_on_commit_callbacks):
    set_quota(portless.team, **limits)
    running(portless, build, host, **held)
    client = api(owner)
    with django_capture_on_commit_callbacks(execute=True):
        reaches = client.post(f"/api/apps/{portless.id}/run/")
    assert reaches.status_code == 202, reaches.json()
    refused = client.post(f"/api/apps/{portless.id}/run/")
    assert refused.status_code == 400 and refused.json()["detail"] == message
    assert Container.objects.filter(app=portless).count() == 2 and queue.llen("host.test-host") == 1


def test_a_run_publishing_a_port_outside_the_teams_range_is_refused(owner, app, build, host, queue):
    set_quota(app.team, port_min=20000, port_max=20999)
    refused = api(owner).post(f"/api/apps/{app.id}/run/")  # the app publishes 18090
    assert refused.status_code == 400
    assert refused.json()["detail"] == ("Quota exceeded: host port range — host port 18090/tcp is outside the team's "
                                        "range 20000-20999.")
    assert not Container.objects.exists()
    set_quota(app.team, port_min=18090, port_max=18090)  # the range's ends are in it
    assert api(owner).post(f"/api/apps/{app.id}/run/").status_code == 202


def _form_data(**fields) -> dict:
    return {"name": "ranged", "memory_mb": "64", "cpus": "0.5", "restart_policy": "no", "pids_limit": "1024",
            "ports": "", **fields}


def test_an_app_saved_with_a_port_outside_the_teams_range_is_refused(owner, team, app):
    set_quota(team, port_min=20000, port_max=20999)
    client = Client()
    client.force_login(owner)
    message = "Quota exceeded: host port range — host port 18080/tcp is outside the team&#x27;s range 20000-20999."
    dockerfile = ("Dockerfile", DOCKERFILE.encode(), "text/plain")
    created = client.post("/apps/new/", _form_data(team=team.id, ports="20000:80, 18080:81",
                                                   dockerfile=SimpleUploadedFile(*dockerfile)))
    assert created.status_code == 400 and message in created.content.decode()
    assert not team.apps.filter(name="ranged").exists()
    saved = client.post(f"/apps/{app.id}/settings/", _form_data(ports="18080:80"))
    assert saved.status_code == 400 and message in saved.content.decode()
    app.refresh_from_db()
    assert app.ports == ["18090:80/tcp"]
    assert client.post(f"/apps/{app.id}/settings/", _form_data(ports="20999:80")).status_code == 302


def _queue_build(client, app) -> dict:
    response = client.post(f"/api/apps/{app.id}/build/", {}, content_type="application/json")
    return {**response.json(), "http": response.status_code}


def test_the_build_quota_counts_queued_and_running_builds(owner, team, host, queue, settings,
                                                          django_capture_on_commit_callbacks):
    settings.BERTH_BUILD_SLOTS = 1
    set_quota(team, max_builds=2)
    apps = [App.objects.create(team=team, name=f"b{n}", dockerfile=DOCKERFILE, created_by=owner) for n in range(3)]
    client = api(owner)
    with django_capture_on_commit_callbacks(execute=True):
        first, second = _queue_build(client, apps[0]), _queue_build(client, apps[1])
    assert (first["http"], second["http"]) == (202, 202)
    assert Build.objects.get(id=first["id"]).dispatched and not Build.objects.get(id=second["id"]).dispatched
    record_build_event(first["id"], {"status": contracts.BUILD_RUNNING})
    refused = _queue_build(client, apps[2])
    assert refused["http"] == 400 and refused["detail"] == (
        "Quota exceeded: concurrent builds — the team has 2 of its 2 builds queued or running.")
    with django_capture_on_commit_callbacks(execute=True):
        record_build_event(first["id"], {"status": contracts.BUILD_SUCCEEDED, "image": "x", "image_id": "sha256:1"})
    assert _queue_build(client, apps[2])["http"] == 202


def _succeeded(app, host, image_id: str, size_mb: float) -> Build:
    build = Build.objects.create(app=app, host=host, status=contracts.BUILD_RUNNING)
    record_build_event(build.id, {"status": contracts.BUILD_SUCCEEDED, "image": app.image_name, "image_id": image_id,
                                  "image_info": {"size": int(size_mb * MB), "layers": [], "history": []}})
    return Build.objects.get(id=build.id)


def test_image_storage_refuses_builds_once_the_team_is_at_its_limit_and_says_so_on_the_build(
        owner, team, app, host, queue, django_capture_on_commit_callbacks):
    set_quota(team, max_image_storage_mb=10)
    _succeeded(app, host, "sha256:a", 6)
    _succeeded(app, host, "sha256:a", 6)  # a cached rebuild: the same image, stored once
    client = api(owner)
    with django_capture_on_commit_callbacks(execute=True):
        allowed = _queue_build(client, app)  # 6 of 10 MB: the build's own size is not known yet
    assert allowed["http"] == 202
    record_build_event(allowed["id"], {"status": contracts.BUILD_RUNNING})
    record_build_event(allowed["id"], {"status": contracts.BUILD_SUCCEEDED, "image": app.image_name,
                                       "image_id": "sha256:b", "image_info": {"size": 5 * MB}})
    page = Client()
    page.force_login(owner)
    notice = ("The team&#x27;s images now take 11 MB of its 10 MB image storage quota: this image is kept, but new "
              "builds are refused until images are removed on the team&#x27;s Images page.")
    assert notice in page.get(f"/builds/{allowed['id']}/").content.decode()
    assert Build.objects.get(id=allowed["id"]).image_removed is False  # kept
    refused = _queue_build(client, app)
    assert refused["http"] == 400 and refused["detail"] == (
        "Quota exceeded: image storage — the team's images take 11 MB of its 10 MB. A build's size is known only once "
        "it is built, so builds are refused once the team is at its limit: remove images on the team's Images page.")
    record_build_event(allowed["id"], {"image_removed": True})
    with django_capture_on_commit_callbacks(execute=True):
        assert _queue_build(client, app)["http"] == 202  # 6 MB again
    assert notice not in page.get(f"/builds/{allowed['id']}/").content.decode()


def _quota_table(html: str) -> dict[str, tuple[str, str]]:
    table = html.split('<table class="list" id="quotas">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr data-quota=\"\w+\"><td>(.*?)</td><td>(.*?)</td>\s*<td>(.*?)</td></tr>", table, re.S)
    return {name: (limit, re.sub(r"<[^>]+>", "", use).strip()) for name, limit, use in rows}


def test_the_team_page_and_the_api_show_each_quota_with_its_use(owner, outsider, team, app, build, host):
    set_quota(team, max_containers=2, max_memory_mb=512, max_cpus=1.5, max_builds=3, max_image_storage_mb=100,
              port_min=18000, port_max=18999)
    running(app, build, host, memory_mb=64, cpus=0.5, ports=["18090:80/tcp"])
    running(app, build, host, memory_mb=128, cpus=0.25, ports=["127.0.0.1:18091:53/udp"])
    Build.objects.create(app=app)  # queued
    _succeeded(app, host, "sha256:c", 2.5)
    client = Client()
    client.force_login(owner)
    assert _quota_table(client.get(f"/teams/{team.id}/").content.decode()) == {
        "running containers": ("2", "2 full"),
        "total memory": ("512 MB", "192 MB"),
        "total CPUs": ("1.5 CPUs", "0.75 CPUs"),
        "concurrent builds": ("3", "1 queued or running"),
        "image storage": ("100 MB", "2.5 MB"),
        "host port range": ("18000-18999", "18090, 18091"),
    }
    answer = api(owner).get(f"/api/teams/{team.id}/quota/").json()
    assert answer["team"] == team.id
    assert {q["quota"]: (q["limit"], q["in_use"], q["full"]) for q in answer["quotas"]} == {
        "running containers": (2, 2, True), "total memory": (512, 192, False), "total CPUs": (1.5, 0.75, False),
        "concurrent builds": (3, 1, False), "image storage": (100, 2.5, False),
        "host port range": ([18000, 18999], [18090, 18091], False)}
    assert api(outsider).get(f"/api/teams/{team.id}/quota/").status_code == 404


@pytest.fixture
def admin_client(db) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-root"))
    return client


def _quota_fields(quota, **changes) -> dict:
    fields = {name: getattr(quota, name) for name in ("max_containers", "max_memory_mb", "max_cpus", "max_builds",
                                                      "max_image_storage_mb", "port_min", "port_max")}
    return {"team": quota.team_id, **fields, **changes}


@pytest.mark.parametrize("changes, message", [
    ({"port_min": 30000, "port_max": 20000},
     "The range 30000-20000 is empty: the highest port must be at least the lowest (30000)."),
    ({"port_min": 0}, "0 is not a port: ports are 1-65535."),
    ({"port_max": 70000}, "70000 is not a port: ports are 1-65535."),
    ({"max_cpus": -1}, "A CPU quota cannot be below 0."),
])
def test_an_admin_cannot_set_a_quota_that_is_no_limit(admin_client, team, changes, message):
    before = _quota_fields(team.quota)
    page = admin_client.post(f"/admin/accounts/quota/{team.quota.id}/change/", _quota_fields(team.quota, **changes))
    assert page.status_code == 200 and message in page.content.decode()
    team.quota.refresh_from_db()
    assert _quota_fields(team.quota) == before


def test_an_admin_sets_the_new_quotas_in_the_admin_and_the_list_checks_the_range_too(admin_client, team):
    quota = team.quota
    saved = admin_client.post(f"/admin/accounts/quota/{quota.id}/change/",
                              _quota_fields(quota, max_builds=7, max_image_storage_mb=500, port_min=20000,
                                            port_max=20100))
    assert saved.status_code == 302
    quota.refresh_from_db()
    assert (quota.max_builds, quota.max_image_storage_mb, quota.port_min, quota.port_max) == (7, 500, 20000, 20100)
    listing = admin_client.get("/admin/accounts/quota/").content.decode()
    assert "form-0-port_min" in listing and "form-0-max_builds" in listing
    row = {f"form-0-{name}": value for name, value in _quota_fields(quota, port_min=20200).items() if name != "team"}
    edited = admin_client.post("/admin/accounts/quota/", {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": quota.id, "_save": "Save", **row})
    assert edited.status_code == 200
    assert "The range 20200-20100 is empty" in edited.content.decode()
    quota.refresh_from_db()
    assert quota.port_min == 20000


def test_a_team_made_without_a_quota_gets_the_defaults_for_new_teams(owner, settings):
    settings.BERTH_DEFAULT_MAX_CONTAINERS, settings.BERTH_DEFAULT_MAX_BUILDS = 3, 4
    team = Team.objects.create(name="made-in-the-admin")  # as the admin leaves it when its quota is untouched
    Membership.objects.create(team=team, user=owner, role=Membership.OWNER)
    answer = api(owner).get(f"/api/teams/{team.id}/quota/").json()
    limits = {q["quota"]: q["limit"] for q in answer["quotas"]}
    assert limits["running containers"] == 3 and limits["concurrent builds"] == 4
    assert limits["host port range"] == [settings.BERTH_PORT_MIN, settings.BERTH_PORT_MAX]
    assert Quota.objects.get(team=team).max_containers == 3


def test_the_team_pages_quota_in_the_admin_checks_the_range_too(admin_client, owner, team):
    membership, before = team.memberships.get(), (team.quota.port_min, team.quota.port_max)
    reversed_range = _quota_fields(team.quota, port_min=9000, port_max=8000)
    quota = {f"quota-0-{name}": value for name, value in reversed_range.items()}
    page = admin_client.post(f"/admin/accounts/team/{team.id}/change/", {
        "name": team.name, "personal": "on",
        "quota-TOTAL_FORMS": "1", "quota-INITIAL_FORMS": "1", "quota-0-id": team.quota.id, **quota,
        "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "1", "memberships-0-id": membership.id,
        "memberships-0-team": team.id, "memberships-0-user": owner.id, "memberships-0-role": membership.role})
    assert page.status_code == 200 and "The range 9000-8000 is empty" in page.content.decode()
    team.quota.refresh_from_db()
    assert (team.quota.port_min, team.quota.port_max) == before
