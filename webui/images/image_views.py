"""A team's images: what its builds left in the hosts' stores, with remove and prune."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from webui.core.access import can_write, get_visible_or_404, teams_of
from webui.core.errors import UserError

from . import actions
from .models import Build


def _team(request, team_id):
    return get_object_or_404(teams_of(request.user), id=team_id)  # 404 for other teams


@login_required
def team_images(request, team_id):
    team = _team(request, team_id)
    images = actions.team_images(team)
    return render(request, "images/team_images.html", {
        "team": team, "images": images, "can_write": can_write(request.user, team),
        "total": sum(build.image_size or 0 for build, _ in images)})


@login_required
@require_POST
def image_remove(request, build_id):
    build = get_visible_or_404(Build.objects.select_related("app__team", "host"), request.user, "app__team",
                               id=build_id)
    try:
        actions.remove_build_image(request.user, build)
    except UserError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, f"Removing the image of build #{build.id} from {build.host}: "
                               "the page shows it gone once the host has done it.")
    return redirect("team_images", team_id=build.app.team_id)


@login_required
@require_POST
def images_prune(request, team_id):
    team = _team(request, team_id)
    try:
        count = len(actions.prune_team_images(request.user, team))
    except UserError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, f"Removing {count} older image(s); each app keeps its current one.")
    return redirect("team_images", team_id=team.id)
