"""An admin's per-app log cap: set in the admin, carried to the host in the run job; users cannot set it."""
from __future__ import annotations

import base64
import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db


def _run_job(owner, app, queue, django_capture_on_commit_callbacks) -> dict:
    client = Client()
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/apps/{app.id}/run/")
    return json.loads(base64.b64decode(json.loads(queue.lindex("host.test-host", 0))["body"]))[0][0]


def test_an_admin_sets_the_cap_and_the_run_job_carries_it(owner, app, build, queue,
                                                          django_capture_on_commit_callbacks):
    admin = get_user_model().objects.create_superuser("root-admin", password="pw-admin")
    client = Client()
    client.force_login(admin)
    page = client.get(f"/admin/images/app/{app.id}/change/").content.decode()
    assert 'name="log_size_max_mb"' in page
    app.log_size_max_mb = 3
    app.save()
    assert _run_job(owner, app, queue, django_capture_on_commit_callbacks)["log_size_max"] == 3 << 20


def test_without_a_cap_the_host_default_applies_and_users_cannot_set_one(owner, app, build, queue,
                                                                          django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(owner)
    assert "log_size_max" not in client.get(f"/apps/{app.id}/settings/").content.decode()
    assert _run_job(owner, app, queue, django_capture_on_commit_callbacks)["log_size_max"] == 0
