"""Bad input gets a clear message on the page, and nothing is stored or queued."""
from __future__ import annotations

import io
import tarfile
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from webui.containers.models import Container
from webui.images.models import App
from workers import contracts

from .conftest import DOCKERFILE


def tar_of(**files) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name.replace("__", "/"))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def evil_tar(name: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    return buf.getvalue()


def hardlink_tar(target: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("innocent")
        info.type, info.linkname = tarfile.LNKTYPE, target
        tar.addfile(info)
    return buf.getvalue()


def zip_with_symlink() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("link")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "/etc/passwd")
    return buf.getvalue()


def evil_zip(name: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, "x")
    return buf.getvalue()


def post_app(user, team, dockerfile=DOCKERFILE.encode(), context=None, **fields):
    client = Client()
    client.force_login(user)
    data = {"name": "site", "team": team.id, "ports": "18080:80", "memory_mb": "64", "cpus": "0.5",
            "dockerfile": SimpleUploadedFile("Dockerfile", dockerfile), **fields}
    if context:
        data["context"] = SimpleUploadedFile(*context)
    return client.post("/apps/new/", data)


def test_good_upload_creates_the_app(owner, team):
    response = post_app(owner, team, context=("ctx.tar", tar_of(**{"index.html": b"<h1>hi</h1>"})))
    assert response.status_code == 302
    app = App.objects.get(name="site")
    assert app.ports == ["18080:80/tcp"] and app.memory_mb == 64 and app.cpus == 0.5 and app.context


@pytest.mark.parametrize("kwargs, message", [
    ({"dockerfile": b""}, "The Dockerfile is empty."),
    ({"dockerfile": b"   \n\n"}, "The Dockerfile is empty."),
    ({"dockerfile": b"\x7fELF\x02\x01\x01\x00\x00\x00"}, "The Dockerfile is not a text file: it contains binary data."),
    ({"dockerfile": b"FROM busybox\n\xff\xfe RUN x"}, "The Dockerfile is not a text file: it is not UTF-8"),
    ({"context": ("ctx.tar", evil_tar("../../etc/cron.d/evil"))}, "climbs out of the context with &#x27;..&#x27;: ../../etc/cron.d/evil"),
    ({"context": ("ctx.tar", evil_tar("/etc/passwd"))}, "an entry with an absolute path: /etc/passwd"),
    ({"context": ("ctx.zip", evil_zip("../evil"))}, "climbs out of the context"),
    ({"context": ("ctx.rar", b"Rar!")}, "The context must be a .tar, .tar.gz or .zip archive."),
    ({"context": ("ctx.tar", b"not a tar at all")}, "The context archive is damaged or incomplete"),
    ({"context": ("ctx.tar", tar_of(**{"index.html": b"x" * 5000})[:3000])}, "damaged or incomplete"),
    ({"context": ("ctx.tar", hardlink_tar("../../etc/shadow"))}, "a hard link to a file outside the context"),
    ({"context": ("ctx.zip", zip_with_symlink())}, "The zip archive has a symbolic link (link)"),
    ({"memory_mb": "4096"}, "4096 MB is over the team&#x27;s memory quota of 2048 MB."),
    ({"memory_mb": "2"}, "Ensure this value is greater than or equal to 6."),
    ({"cpus": "10"}, "10 CPUs is over the team&#x27;s CPU quota of 4."),
    ({"cpus": "0"}, "Ensure this value is greater than or equal to 0.01."),
    ({"cpus": ""}, "This field is required."),
    ({"ports": "80"}, "is not a port mapping like 8080:80"),
    ({"ports": "80:80"}, "Host port 80 is outside the allowed range 1024-65535."),
    ({"ports": "18080:80, 18080:81"}, "Host port 18080/tcp is mapped twice."),
    ({"name": "no spaces allowed"}, "Use lowercase letters, digits, and . _ -"),
    ({"name": "UPPER"}, "Use lowercase letters, digits, and . _ -"),
    ({"name": "-leading"}, "starting with a letter or a digit"),
])
def test_bad_upload_is_named_on_the_form_and_nothing_is_stored(owner, team, kwargs, message):
    response = post_app(owner, team, **kwargs)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not App.objects.exists()


def _run(user, app, follow=True):
    client = Client()
    client.force_login(user)
    return client.post(f"/apps/{app.id}/run/", follow=follow)


def test_run_over_the_memory_quota_is_refused(owner, team, app, build, queue, django_capture_on_commit_callbacks):
    team.quota.max_memory_mb = 100
    team.quota.save()
    Container.objects.create(app=app, build=build, host=build.host, ports=[], memory_mb=64,
                             status=contracts.C_RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        response = _run(owner, app)
    assert ("Quota exceeded: total memory — the team&#x27;s containers hold 64 MB of its 100 MB; this one asks for "
            "64 MB more.") in response.content.decode()
    assert Container.objects.count() == 1 and queue.llen("host.test-host") == 0


def test_run_over_the_container_count_quota_is_refused(owner, team, app, build, queue):
    team.quota.max_containers = 0
    team.quota.save()
    assert "Quota exceeded: running containers — the team runs 0 of its 0 containers." in _run(owner, app).content.decode()
    assert not Container.objects.exists()


def test_host_port_already_published_on_the_host_is_refused(owner, app, build, container, queue):
    response = _run(owner, app)
    assert "Host port 18090/tcp is already published by another container on test-host." in response.content.decode()
    assert Container.objects.count() == 1


def test_run_without_a_build_is_refused(owner, app):
    assert "The app has no successful build yet: build it first." in _run(owner, app).content.decode()


def test_build_with_no_host_up_is_refused(owner, app):
    client = Client()
    client.force_login(owner)
    response = client.post(f"/apps/{app.id}/build/", follow=True)
    assert "No host is up to take it: ask an admin to start or uncordon a host agent." in response.content.decode()
    assert not app.builds.exists()


def test_build_and_run_queue_one_job_each_on_the_host(owner, app, host, queue, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/apps/{app.id}/build/")
    build = app.builds.get()
    assert response["Location"] == f"/builds/{build.id}/"
    assert queue.llen("host.test-host") == 1
    build.status = contracts.BUILD_SUCCEEDED
    build.save()
    with django_capture_on_commit_callbacks(execute=True):
        _run(owner, app, follow=False)
    assert queue.llen("host.test-host") == 2
    assert Container.objects.get().status == contracts.C_PENDING


def test_second_build_while_one_is_running_is_refused(owner, app, host, queue, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/apps/{app.id}/build/")
        response = client.post(f"/apps/{app.id}/build/", follow=True)
    first = app.builds.get()
    assert f"Build #{first.id} of this app is still queued: wait for it to finish." in response.content.decode()
    assert queue.llen("host.test-host") == 1
