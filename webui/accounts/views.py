"""A team's page for its members: its quotas and their use, the live table of its running
containers and its history."""
from __future__ import annotations

import time

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from webui.containers.listing import team_state
from webui.core.access import teams_of

from . import quotas

# The history charts of a team page: (name in static/js/overview.js, title).
HISTORY = [("team_cpu", "CPU (sum)"), ("team_mem", "Memory (sum)"), ("team_net", "Network"),
           ("team_io", "Block IO"), ("team_containers", "Running containers")]


@login_required
def team_list(request):
    return render(request, "accounts/team_list.html", {"teams": teams_of(request.user).order_by("name")})


@login_required
def team_detail(request, team_id):
    team = get_object_or_404(teams_of(request.user), id=team_id)  # 404 for other teams
    return render(request, "accounts/team_detail.html", {
        "team": team, "state": team_state(team), "history": HISTORY, "server_ms": int(time.time() * 1000),
        "quota_use": quotas.usage(team)})
