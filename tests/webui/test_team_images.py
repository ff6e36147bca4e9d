"""A team's images page: sizes, layers and history; remove and prune go to the image's host."""
from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from webui.images.actions import record_build_event
from webui.images.models import Build
from workers import contracts

pytestmark = pytest.mark.django_db
INFO = {"size": 3 << 20, "layers": [["sha256:" + "a" * 64, 2 << 20], ["sha256:" + "b" * 64, 1 << 20]],
        "history": [{"created_by": "berth bootstrap busybox"}, {"created_by": "/bin/sh -c echo hi > /x"},
                    {"created_by": "/bin/sh -c #(nop) CMD [\"sh\"]", "empty_layer": True}]}


def built(app, host, image_id: str) -> Build:
    build = Build.objects.create(app=app, host=host)
    record_build_event(build.id, {"status": contracts.BUILD_RUNNING})
    record_build_event(build.id, {"status": contracts.BUILD_SUCCEEDED, "image": app.image_name,
                                  "image_id": image_id, "image_info": INFO})
    return Build.objects.get(id=build.id)


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def queued(queue) -> list[list]:
    return [json.loads(base64.b64decode(json.loads(raw)["body"]))[0]
            for raw in queue.lrange("host.test-host", 0, -1)]


def test_the_page_shows_each_image_with_its_size_layers_and_history(owner, team, app, host):
    old, new = built(app, host, "sha256:" + "1" * 64), built(app, host, "sha256:" + "2" * 64)
    page = client_of(owner).get(f"/teams/{team.id}/images/").content.decode()
    assert f"<code>{app.image_name}</code>" in page  # the newest build carries the name...
    assert f"older build #{old.id}" in page  # ...the older one is shown as such
    assert "3.0\xa0MB" in page and "222222222222" in page and "/bin/sh -c echo hi &gt; /x" in page
    assert "(no layer)" in page and new.image_layers == INFO["layers"]


def test_another_team_gets_404_and_a_viewer_cannot_remove(owner, outsider, viewer, team, app, host, queue):
    build = built(app, host, "sha256:" + "1" * 64)
    assert client_of(outsider).get(f"/teams/{team.id}/images/").status_code == 404
    assert client_of(outsider).post(f"/builds/{build.id}/image/remove/").status_code == 404
    page = client_of(viewer).get(f"/teams/{team.id}/images/").content.decode()
    assert "Remove</button>" not in page
    response = client_of(viewer).post(f"/builds/{build.id}/image/remove/", follow=True)
    assert "Viewers cannot remove images." in response.content.decode()
    assert queued(queue) == []


def test_remove_asks_the_host_and_the_answer_is_shown(owner, team, app, host, queue,
                                                       django_capture_on_commit_callbacks):
    build = built(app, host, "sha256:" + "1" * 64)
    with django_capture_on_commit_callbacks(execute=True):
        client_of(owner).post(f"/builds/{build.id}/image/remove/")
    assert queued(queue) == [[build.id, "sha256:" + "1" * 64, app.image_name]]
    record_build_event(build.id, {"image_error": contracts.error(
        "invalid_state", "image 111111111111 is used by container(s) web-1: remove them first")})
    page = client_of(owner).get(f"/teams/{team.id}/images/").content.decode()
    assert "is used by container(s) web-1" in page
    record_build_event(build.id, {"image_removed": True, "freed_bytes": 1024})
    assert f"image-{build.id}" not in client_of(owner).get(f"/teams/{team.id}/images/").content.decode()
    assert app.last_good_build() is None  # nothing left to run


def test_prune_removes_all_but_each_apps_current_image(owner, team, app, host, queue,
                                                       django_capture_on_commit_callbacks):
    first, second, current = (built(app, host, f"sha256:{n}" + "0" * 63) for n in "123")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_of(owner).post(f"/teams/{team.id}/images/prune/", follow=True)
    assert "Removing 2 older image(s)" in response.content.decode()
    assert sorted(job[0] for job in queued(queue)) == [first.id, second.id]


def test_a_cached_rebuild_of_the_same_image_is_one_row_and_removes_as_one(owner, team, app, host, queue,
                                                                          django_capture_on_commit_callbacks):
    first, again = built(app, host, "sha256:" + "7" * 64), built(app, host, "sha256:" + "7" * 64)
    page = client_of(owner).get(f"/teams/{team.id}/images/").content.decode()
    assert f"image-{again.id}" in page and f"image-{first.id}" not in page
    refused = client_of(owner).post(f"/builds/{first.id}/image/remove/", follow=True).content.decode()
    assert f"Build #{again.id} made the same image: remove it there." in refused
    with django_capture_on_commit_callbacks(execute=True):
        response = client_of(owner).post(f"/teams/{team.id}/images/prune/", follow=True)
    assert "Removing 0 older image(s)" in response.content.decode()  # the only image is the current one
    record_build_event(again.id, {"image_removed": True})
    assert Build.objects.filter(app=app, image_removed=False).count() == 0
