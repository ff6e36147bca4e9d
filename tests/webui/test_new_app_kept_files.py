"""The new-app form keeps what the user chose when it comes back with an error in another
field: the Dockerfile's text in the box, the context archive on the server under a token."""
from __future__ import annotations

import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from webui.images.models import App

from .conftest import DOCKERFILE
from .test_bad_input import tar_of

CONTEXT = tar_of(**{"index.html": b"<h1>kept</h1>"})


@pytest.fixture(autouse=True)
def no_kept_uploads():
    """The tests' storage lives as long as the test run: each test starts with nothing kept."""
    yield
    for name in kept_files(with_folders=True):
        default_storage.delete(name)


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def fields(team, **more) -> dict:
    return {"name": "site", "team": team.id, "ports": "18080:80", "memory_mb": "64", "cpus": "0.5", **more}


def kept_token(page: str) -> str:
    found = re.search(r'name="kept_context" value="([^"]+)"', page)
    assert found, "no kept archive in the re-shown form"
    return found.group(1)


def textarea(page: str) -> str:
    found = re.search(r'<textarea name="dockerfile_text"[^>]*>\n?(.*?)</textarea>', page, re.S)
    return found.group(1)


def kept_files(with_folders: bool = False) -> list[str]:
    if not default_storage.exists("kept-uploads"):
        return []
    out = []
    for user in default_storage.listdir("kept-uploads")[0]:
        for token in default_storage.listdir(f"kept-uploads/{user}")[0]:
            folder = f"kept-uploads/{user}/{token}"
            out += [f"{folder}/{name}" if with_folders else name for name in default_storage.listdir(folder)[1]]
    return out


def test_an_error_elsewhere_keeps_both_files_and_the_next_try_uses_them(owner, team):
    client = client_of(owner)
    first = client.post("/apps/new/", fields(team, ports="bad", dockerfile=SimpleUploadedFile(
        "Dockerfile.web", DOCKERFILE.encode()), context=SimpleUploadedFile("site.tar", CONTEXT)))
    assert first.status_code == 400
    page = first.content.decode()
    assert "“bad” is not a port mapping" in page
    assert "from your file <code>Dockerfile.web</code> is in this box" in page
    assert textarea(page) == DOCKERFILE.replace('"', "&quot;")
    assert "Kept: <code>site.tar</code>" in page and "the archive you chose" in page

    # The browser sends no files now: the box and the token stand for them.
    second = client.post("/apps/new/", fields(team, dockerfile_text=DOCKERFILE, kept_context=kept_token(page)))
    assert second.status_code == 302
    app = App.objects.get(name="site")
    assert app.dockerfile == DOCKERFILE and app.context_filename == "site.tar"
    with app.context.open() as stored:
        assert stored.read() == CONTEXT
    assert kept_files() == []  # the app holds its own copy now


def test_a_refused_dockerfile_is_kept_in_the_box_to_be_mended(owner, team):
    client = client_of(owner)
    bad = "FROM busybox\nRUNN true\n"
    page = client.post("/apps/new/", fields(team, dockerfile=SimpleUploadedFile("Dockerfile", bad.encode()))
                       ).content.decode()
    assert "Dockerfile line 2: unknown instruction: RUNN (did you mean RUN?)" in page
    assert textarea(page) == bad
    mended = client.post("/apps/new/", fields(team, dockerfile_text="FROM busybox\nRUN true\n"))
    assert mended.status_code == 302
    assert App.objects.get().dockerfile == "FROM busybox\nRUN true\n"


def test_the_box_alone_makes_an_app_and_an_empty_form_says_what_is_missing(owner, team):
    client = client_of(owner)
    missing = client.post("/apps/new/", fields(team))
    assert missing.status_code == 400
    assert "Choose a Dockerfile, or write it in the box below." in missing.content.decode()
    written = client.post("/apps/new/", fields(team, dockerfile_text="ARG V=1\nfrom busybox\n"))
    assert written.status_code == 302 and App.objects.get().dockerfile == "ARG V=1\nfrom busybox\n"


def test_a_refused_dockerfile_in_the_box_is_named_there(owner, team):
    page = client_of(owner).post("/apps/new/", fields(team, dockerfile_text="CMD [\"sh\"]\n")).content.decode()
    box = page[page.index('name="dockerfile_text"'):]
    assert box.index("Dockerfile line 1: CMD cannot come before the first FROM (only ARG can)") < box.index(
        'name="context"')
    assert not App.objects.exists()


def test_a_file_chosen_again_replaces_the_kept_one(owner, team):
    client = client_of(owner)
    page = client.post("/apps/new/", fields(team, ports="bad", dockerfile_text=DOCKERFILE,
                                            context=SimpleUploadedFile("old.tar", CONTEXT))).content.decode()
    newer = tar_of(**{"index.html": b"<h1>newer</h1>"})
    created = client.post("/apps/new/", fields(team, dockerfile_text=DOCKERFILE, kept_context=kept_token(page),
                                               context=SimpleUploadedFile("new.tar", newer)))
    assert created.status_code == 302
    app = App.objects.get()
    assert app.context_filename == "new.tar"
    with app.context.open() as stored:
        assert stored.read() == newer


def test_dont_use_it_drops_the_kept_archive(owner, team):
    client = client_of(owner)
    page = client.post("/apps/new/", fields(team, ports="bad", dockerfile_text=DOCKERFILE,
                                            context=SimpleUploadedFile("site.tar", CONTEXT))).content.decode()
    created = client.post("/apps/new/", fields(team, dockerfile_text=DOCKERFILE, kept_context=kept_token(page),
                                               drop_kept_context="on"))
    assert created.status_code == 302 and not App.objects.get().context


def test_a_bad_archive_is_not_kept(owner, team):
    page = client_of(owner).post("/apps/new/", fields(team, dockerfile_text=DOCKERFILE, context=SimpleUploadedFile(
        "site.tar", b"not a tar at all"))).content.decode()
    assert "The context archive is damaged or incomplete" in page
    assert 'name="kept_context" value=' not in page and "Kept: <code>" not in page and kept_files() == []


def test_a_token_is_of_no_use_to_another_user_nor_when_guessed(owner, team, outsider):
    page = client_of(owner).post("/apps/new/", fields(team, ports="bad", dockerfile_text=DOCKERFILE,
                                                      context=SimpleUploadedFile("site.tar", CONTEXT))).content.decode()
    token = kept_token(page)
    theirs = outsider.teams.get(personal=True)
    for who, their_team, guess in ((outsider, theirs, token), (owner, team, "../../1/" + token), (owner, team, "x")):
        refused = client_of(who).post("/apps/new/", fields(their_team, dockerfile_text=DOCKERFILE, kept_context=guess))
        assert refused.status_code == 400
        assert "The build context kept from your last try is no longer here" in refused.content.decode()
    assert not App.objects.exists()


def test_a_user_keeps_one_archive_at_most(owner, team):
    client = client_of(owner)
    pages = [client.post("/apps/new/", fields(team, ports="bad", dockerfile_text=DOCKERFILE, context=SimpleUploadedFile(
        f"try{n}.tar", CONTEXT))).content.decode() for n in (1, 2)]
    assert kept_files() == ["try2.tar"]
    stale = client.post("/apps/new/", fields(team, dockerfile_text=DOCKERFILE, kept_context=kept_token(pages[0])))
    assert "no longer here (another new-app form kept one since)" in stale.content.decode()
