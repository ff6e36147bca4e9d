"""An app's environment and host labels on its forms and page, and the run job that carries
the environment to the host; one set of rules for the pages, the API and one run's own."""
from __future__ import annotations

import base64
import html
import json

import pytest
from django.test import Client

from webui.containers.actions import RUN_SETTINGS
from webui.images.models import App
from webui.images.run_settings import RunSettingsForm, merge_env
from workers import contracts

from .test_bad_input import post_app

SETTINGS = {"ports": "", "memory_mb": "64", "cpus": "0.5"}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def test_env_given_at_creation_is_kept_and_shown_on_the_app_page(owner, team):
    response = post_app(owner, team, env="GREETING=hello world\r\n\r\nEMPTY=\nURL=http://x/?a=b=c\n")
    assert response.status_code == 302
    app = App.objects.get()
    assert app.env == ["GREETING=hello world", "EMPTY=", "URL=http://x/?a=b=c"]
    shown = page_text(client_for(owner).get(f"/apps/{app.id}/"))
    assert "GREETING=hello world" in shown and "URL=http://x/?a=b=c" in shown


def test_settings_page_shows_the_env_and_changes_it(owner, app):
    app.env, app.host_labels = ["A=1", "B=2"], {"disk": "ssd"}
    app.save()
    client = client_for(owner)
    form = page_text(client.get(f"/apps/{app.id}/settings/"))
    assert "A=1\nB=2</textarea>" in form and "disk=ssd</textarea>" in form
    response = client.post(f"/apps/{app.id}/settings/", {**SETTINGS, "env": "B=3\nC=", "host_labels": ""})
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.env == ["B=3", "C="] and app.host_labels == {}


@pytest.mark.parametrize("env, message", [
    ("GOOD=1\n1FOO=bar", "Line 2: “1FOO” is not a variable name: use letters, digits and _, not starting "
                         "with a digit (no spaces)."),
    ("MY VAR=x", "Line 1: “MY VAR” is not a variable name"),
    ("=value", "Line 1: “” is not a variable name"),
    ("A-B=1", "Line 1: “A-B” is not a variable name"),
    ("JUSTANAME", "Line 1: “JUSTANAME” is not KEY=value."),
    ("A=1\n\nA=2", "Line 3: A is already set on line 1."),
    ("A=x\x00y", "Line 1: “A=xy” holds a NUL character, which no environment variable can."),
    ("BIG=" + "x" * 140_000, "The environment is 140005 bytes; at most 131072 fit."),
])
def test_bad_env_line_is_named_on_both_forms_and_nothing_changes(owner, team, app, env, message):
    created = post_app(owner, team, name="other", env=env)
    assert created.status_code == 400 and message in page_text(created)
    assert not App.objects.filter(name="other").exists()
    changed = client_for(owner).post(f"/apps/{app.id}/settings/", {**SETTINGS, "env": env})
    assert changed.status_code == 400 and message in page_text(changed)
    app.refresh_from_db()
    assert app.env == []


@pytest.mark.parametrize("labels, message", [
    ("disk", "Line 1 “disk” is not a label"),
    ("disk=ssd\ndisk=hdd", "Line 2: the label disk is given twice."),
    ("zone=eu west", "Line 1 “zone=eu west” is not a label"),
])
def test_bad_host_label_is_named(owner, app, labels, message):
    response = client_for(owner).post(f"/apps/{app.id}/settings/", {**SETTINGS, "host_labels": labels})
    assert response.status_code == 400 and message in page_text(response)


def test_the_run_job_carries_the_apps_env(owner, app, build, queue, django_capture_on_commit_callbacks):
    app.env = ["GREETING=hi", "EMPTY="]
    app.save()
    with django_capture_on_commit_callbacks(execute=True):
        client_for(owner).post(f"/apps/{app.id}/run/")
    message = json.loads(queue.lindex("host.test-host", 0))
    job = json.loads(base64.b64decode(message["body"]))[0][0]
    assert message["headers"]["task"] == contracts.AGENT_RUN and job["env"] == ["GREETING=hi", "EMPTY="]
    assert app.containers.get().env == ["GREETING=hi", "EMPTY="]


def test_what_a_run_may_set_is_what_the_run_settings_form_checks():
    assert set(RunSettingsForm.base_fields) == set(RUN_SETTINGS)


def test_a_runs_env_goes_on_top_of_the_apps():
    assert merge_env(["A=1", "B=2"], ["B=3", "C=4"]) == ["A=1", "B=3", "C=4"]


def test_saving_a_new_dockerfile_says_the_next_build_uses_it(owner, app):
    client = client_for(owner)
    same = client.post(f"/apps/{app.id}/settings/", {**SETTINGS, "dockerfile": app.dockerfile}, follow=True)
    assert "Saved: the next run uses these settings." in page_text(same)
    new = 'FROM busybox\nCMD ["sleep", "5"]\n'
    changed = client.post(f"/apps/{app.id}/settings/", {**SETTINGS, "dockerfile": new}, follow=True)
    assert "the next build uses the new Dockerfile" in page_text(changed)
    app.refresh_from_db()
    assert app.dockerfile == new
