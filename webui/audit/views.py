"""The audit log's pages: a team's for its owners (and admins), the whole fleet's for admins.
Others get 404, as for the hosts pages and a viewer's app settings: not told the page exists."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from webui.accounts.models import Team
from webui.core.access import managed_teams_of

from . import log

PAGE_SIZE = 50


def _page(request, team):
    action = request.GET.get("action", "")
    page = Paginator(log.entries(team, action), PAGE_SIZE).get_page(request.GET.get("page"))
    return {"page": page, "action": action, "actions": log.actions_in(team)}


@login_required
def team_audit(request, team_id):
    team = get_object_or_404(managed_teams_of(request.user), id=team_id)
    return render(request, "audit/audit_log.html", {"team": team, **_page(request, team)})


@login_required
def fleet_audit(request):
    if not request.user.is_staff:
        raise Http404("the fleet's audit log is for admins")
    team_id = request.GET.get("team", "")
    team = get_object_or_404(Team, id=team_id) if team_id.isdigit() else None
    return render(request, "audit/audit_log.html", {
        "fleet": True, "team": team, "teams": Team.objects.order_by("name"), **_page(request, team)})
