"""Hosts for admins: the list with join tokens, a host's live figures, history and
containers, and what admins do to a host (cordon, drain, labels, remove)."""
from __future__ import annotations

import time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from webui.containers.listing import host_state
from webui.core.errors import UserError

from . import actions
from .models import Host, JoinToken

# The history charts of a host page: (name in static/js/overview.js, title).
HISTORY = [("host_cpu", "CPU"), ("host_mem", "Memory used"), ("host_disk", "Disk free"), ("host_load", "Load"),
           ("host_containers", "Running containers")]


def _staff_only(request) -> None:
    if not request.user.is_staff:
        raise Http404("hosts are for admins")  # 404: others are not told the page exists


@login_required
def host_list(request):
    _staff_only(request)
    return render(request, "hosts/host_list.html", {
        "hosts": Host.objects.filter(removed=None).order_by("name"),
        "tokens": JoinToken.objects.filter(revoked=None).order_by("-created"),
        # Shown once, right after it was made: only its digest is kept.
        "new_token": request.session.pop("new_join_token", None)})


@login_required
def host_detail(request, host_id):
    _staff_only(request)
    host = get_object_or_404(Host, id=host_id, removed=None)
    return render(request, "hosts/host_detail.html", {
        "host": host, "state": host_state(host), "history": HISTORY, "server_ms": int(time.time() * 1000),
        # A refused text comes back as it was typed, to be mended (kept for one page view).
        "labels_text": request.session.pop("refused_labels", None)
        or "\n".join(f"{k}={v}" for k, v in sorted(host.labels.items()))})


@login_required
@require_POST
def join_token_create(request):
    _staff_only(request)
    try:
        request.session["new_join_token"] = actions.create_join_token(request.user, request.POST.get("name", ""))
    except UserError as exc:
        messages.error(request, str(exc))
    return redirect("hosts")


@login_required
@require_POST
def join_token_revoke(request, token_id):
    _staff_only(request)
    token = get_object_or_404(JoinToken, id=token_id)
    actions.revoke_join_token(request.user, token)
    messages.info(request, f"Join token “{token.name}” revoked: hosts that joined with it stay.")
    return redirect("hosts")


def _act(request, host_id, do, done) -> object:
    _staff_only(request)
    host = get_object_or_404(Host, id=host_id, removed=None)
    try:
        result = do(request.user, host)
    except UserError as exc:
        messages.error(request, str(exc))
        return redirect("host", host_id=host.id)
    messages.info(request, done(result) if callable(done) else done)
    return redirect("hosts") if do is actions.remove_host else redirect("host", host_id=host.id)


@login_required
@require_POST
def host_cordon(request, host_id):
    cordon = request.POST.get("cordon") == "1"
    return _act(request, host_id, lambda user, host: actions.set_cordoned(user, host, cordon),
                "Cordoned: no new work goes to it." if cordon else "Uncordoned: it takes new work again.")


@login_required
@require_POST
def host_drain(request, host_id):
    return _act(request, host_id, actions.drain_host,
                lambda counts: f"Draining: {counts[0]} container(s) moving to other hosts, {counts[1]} stopping.")


@login_required
@require_POST
def host_labels(request, host_id):
    text = request.POST.get("labels", "")

    def save(user, host):
        try:
            labels = actions.parse_labels(text)
        except UserError:
            request.session["refused_labels"] = text
            raise
        actions.set_labels(user, host, labels)
    return _act(request, host_id, save, "Labels saved.")


@login_required
@require_POST
def host_remove(request, host_id):
    return _act(request, host_id, actions.remove_host, "Host removed. Its agent must join again with a token.")
