"""A Dockerfile the builder would refuse at its first lines is refused where it is given: the
new-app form, the settings page and the API, with the builder's own message naming the line.

The web's check (webui/images/dockerfile_check.py) is a small copy of the builder's first
checks, since the web may not import the runtime; these tests hold the copy to the builder:
the same keywords, the same messages, and never a refusal of what the builder takes.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import given, settings, strategies as st

from runtime.build import dockerfile as builder
from runtime.errors import DockerfileError
from webui.images import dockerfile_check
from webui.images.models import App

from .conftest import DOCKERFILE
from .test_api import api

CASES = sorted(p for p in (Path(__file__).resolve().parents[1] / "testdata" / "dockerfile").iterdir() if p.is_dir())
# The golden cases whose problem is one the web's check looks for.
REFUSED_BY_THE_WEB = {"error-duplicate-directive", "error-empty", "error-from-empty", "error-instruction-before-from",
                      "error-invalid-escape-directive", "error-no-from", "error-only-comments",
                      "error-unknown-instruction"}


def builder_says(text: str) -> str | None:
    """The builder's refusal as the web shows it (its detail, "did you mean", in brackets)."""
    try:
        builder.parse(text)
    except DockerfileError as exc:
        return str(exc) + (f" ({exc.detail})" if exc.detail else "")
    return None


def web_says(text: str) -> str | None:
    try:
        dockerfile_check.check(text)
    except ValidationError as exc:
        return exc.messages[0]
    return None


def test_the_web_knows_the_builders_instructions():
    assert set(dockerfile_check.INSTRUCTIONS) == set(builder._PARSERS)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_golden_case_is_refused_with_the_builders_words_or_left_to_the_builder(case):
    text = (case / "Dockerfile").read_bytes().decode("utf-8")
    web = web_says(text)
    if case.name in REFUSED_BY_THE_WEB:
        assert web == builder_says(text)
        assert web.startswith((case / "error.txt").read_text().strip())
    elif case.name.startswith("error-"):
        assert web is None, f"the web refused what it leaves to the builder: {web}"
    else:
        assert web is None and builder_says(text) is None


@pytest.mark.parametrize("text, message", [
    ("FRM busybox\nRUN true\n", "Dockerfile line 1: unknown instruction: FRM (did you mean FROM?)"),
    ("FROM busybox\nRUN echo a \\\n  b\nCOPPY x /x\n",
     "Dockerfile line 4: unknown instruction: COPPY (did you mean COPY?)"),
    ("FROM busybox\nRUN echo a \\\n  && BOGUS\n", None),  # a continuation: BOGUS is RUN's
    ("# escape=`\nFROM busybox\nRUN echo a `\n  b\n", None),
    ("ARG V=1\nFROM busybox:$V\n", None),
    ("ARG V=1\nENV A=b\nFROM busybox\n", "Dockerfile line 2: ENV cannot come before the first FROM (only ARG can)"),
    ("from busybox\nrun true\n", None),  # keywords in any case, as the builder takes them
    ("\ufeffFROM busybox\r\nCMD [\"sh\"]\r\n", None),
])
def test_the_web_and_the_builder_agree(text, message):
    assert web_says(text) == message
    assert builder_says(text) == message


LINES = st.sampled_from(["FROM busybox", "FROM", "FROM a AS b", "ARG V=1", "RUN true", "RUN", "COPY a /b", "COPY a",
                         "CMD [\"sh\"]", "ENV A=1", "ENV", "EXPOSE 80", "WORKDIR /w", "FRM x", "RUNN x", "# comment",
                         "", "   ", "RUN echo \\", "  continued", "# escape=`", "# escape=x", "USER 1", "ONBUILD RUN x",
                         "HEALTHCHECK NONE", "LABEL a=b", "copy a b", "MAINTAINER me"])


@settings(max_examples=400, deadline=None)
@given(st.lists(LINES, max_size=8))
def test_the_web_never_refuses_what_the_builder_takes(lines):
    text = "\n".join(lines)
    web, built = web_says(text), builder_says(text)
    if web is None:
        return
    assert built is not None, f"the web refused {text!r} ({web}), the builder takes it"
    # The builder may stop earlier, at arguments the web leaves to it, but never later.
    assert line_of(built) <= line_of(web), f"{text!r}: the web said {web}, the builder {built}"


def line_of(message: str) -> float:
    """The first line a refusal names; one about the whole file names its end."""
    found = re.match(r"Dockerfile lines? (\d+)", message)
    return int(found.group(1)) if found else math.inf


def post_app(user, team, **data):
    client = Client()
    client.force_login(user)
    return client.post("/apps/new/", {"name": "site", "team": team.id, "memory_mb": "64", "cpus": "0.5", **data})


@pytest.mark.parametrize("dockerfile, message", [
    (b"RUN echo no base\n", "Dockerfile line 1: RUN cannot come before the first FROM (only ARG can)"),
    (b"# nothing but a comment\n", "Dockerfile has no instructions"),
    (b"ARG V=1\n", "Dockerfile has no FROM instruction"),
    (b"FROM busybox\nRUN true\nCOPPY index.html /www/\n",
     "Dockerfile line 3: unknown instruction: COPPY (did you mean COPY?)"),
])
def test_the_new_app_form_refuses_it_naming_the_line(owner, team, dockerfile, message):
    response = post_app(owner, team, dockerfile=SimpleUploadedFile("Dockerfile", dockerfile))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not App.objects.exists()


def test_the_settings_page_edits_the_dockerfile_and_refuses_a_bad_one(owner, app):
    client = Client()
    client.force_login(owner)
    page = client.get(f"/apps/{app.id}/settings/").content.decode()
    assert "CMD [&quot;sleep&quot;, &quot;600&quot;]" in page  # the app's Dockerfile, to edit
    form = {"ports": "18090:80", "memory_mb": "64", "cpus": "0.5", "restart_policy": "no", "pids_limit": "1024"}
    refused = client.post(f"/apps/{app.id}/settings/", {**form, "dockerfile": "FORM busybox\nCMD [\"sh\"]\n"})
    assert refused.status_code == 400
    assert "Dockerfile line 1: unknown instruction: FORM (did you mean FROM?)" in refused.content.decode()
    app.refresh_from_db()
    assert app.dockerfile == DOCKERFILE
    saved = client.post(f"/apps/{app.id}/settings/", {**form, "dockerfile": "FROM busybox\nCMD [\"true\"]\n"})
    assert saved.status_code == 302
    app.refresh_from_db()
    assert app.dockerfile == "FROM busybox\nCMD [\"true\"]\n"


def test_the_api_refuses_it_naming_the_line(owner, team):
    response = api(owner).post("/api/apps/", {"name": "api-app", "team": team.id, "memory_mb": 64, "cpus": 0.5,
                                              "dockerfile": "FROM busybox\nEXPOSE 80\nRUNN true\n"},
                               content_type="application/json")
    assert response.status_code == 400
    assert response.json()["dockerfile"] == ["Dockerfile line 3: unknown instruction: RUNN (did you mean RUN?)"]
    assert not App.objects.exists()
