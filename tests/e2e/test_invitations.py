"""The invitation flow in a real browser: the owner invites bob as a viewer; bob logs in, sees
the invitation in the menu, accepts, finds the team's running app, and can watch but not stop it."""
from __future__ import annotations

import re

import pytest

from .pages import built_app, log_in

pytestmark = pytest.mark.e2e

SLEEPER = 'FROM busybox\nCMD ["sleep", "600"]\n'


def test_a_viewer_invited_by_the_owner_watches_but_cannot_stop(page, stack, tmp_path):
    log_in(page, stack, "alice")
    app_url = built_app(page, stack, tmp_path, "watched", SLEEPER, "")
    page.click("button:text-is('Run')")
    page.wait_for_selector("#status >> text=running")
    container_url = page.url

    page.goto(stack.url + "/teams/")
    page.click("a:text-is('alice')")
    page.click("a:text-is('Members')")
    page.fill("#invite input[name=who]", "bob")
    page.select_option("#invite select[name=role]", "viewer")
    page.click("#invite button[type=submit]")
    page.wait_for_selector(".flash >> text=Invited bob as viewer")
    assert page.inner_text("#pending-invitations").count("bob") == 1

    log_in(page, stack, "bob")
    assert page.inner_text("#nav-invitations") == "Invitations 1"
    page.click("#nav-invitations")
    page.click("tr[data-team=alice] button:text-is('Accept')")
    page.wait_for_selector(".flash >> text=You joined alice as viewer.")
    assert "nav-invitations" not in page.content()

    page.goto(stack.url + "/")
    page.click("a:text-is('watched')")
    assert page.url == app_url and page.locator("button:text-is('Run')").count() == 0
    page.click(f"a[href='{container_url.removeprefix(stack.url)}']")
    page.wait_for_selector("#status >> text=running")
    assert page.locator("button:text-is('Stop')").count() == 0  # no Stop, Kill, Remove or terminal for a viewer
    assert page.locator("#terminal-open").count() == 0

    # A stop sent anyway, with the session's own CSRF token, as a crafted form would: refused.
    page.evaluate("""url => {
        const form = document.createElement('form');
        form.method = 'post'; form.action = url;
        form.appendChild(document.querySelector('input[name=csrfmiddlewaretoken]').cloneNode());
        document.body.appendChild(form); form.submit();
    }""", container_url + "stop/")
    page.wait_for_selector(".flash >> text=Viewers cannot stop or remove containers.")
    assert re.fullmatch(r"running", page.inner_text("#status"))
    container_id = int(container_url.rstrip("/").rsplit("/", 1)[1])
    assert stack.query("SELECT status FROM containers_container WHERE id = ?", container_id) == [("running",)]
    assert stack.query("SELECT username, action FROM audit_auditentry WHERE action LIKE 'invitation.%' "
                       "ORDER BY id") == [("alice", "invitation.create"), ("bob", "invitation.accept")]
