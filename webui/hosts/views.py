"""Hosts for admins: the list, and a host's live figures, history and containers."""
from __future__ import annotations

import time

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from webui.containers.listing import host_state

from .models import Host

# The history charts of a host page: (name in static/js/overview.js, title).
HISTORY = [("host_cpu", "CPU"), ("host_mem", "Memory used"), ("host_disk", "Disk free"), ("host_load", "Load"),
           ("host_containers", "Running containers")]


def _staff_only(request) -> None:
    if not request.user.is_staff:
        raise Http404("hosts are for admins")  # 404: others are not told the page exists


@login_required
def host_list(request):
    _staff_only(request)
    return render(request, "hosts/host_list.html", {"hosts": Host.objects.order_by("name")})


@login_required
def host_detail(request, host_id):
    _staff_only(request)
    host = get_object_or_404(Host, id=host_id)
    return render(request, "hosts/host_detail.html", {
        "host": host, "state": host_state(host), "history": HISTORY, "server_ms": int(time.time() * 1000)})
