"""A team's volumes: the list, and create and remove for its owners and members."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from webui.core.access import can_write, get_visible_or_404, teams_of
from webui.core.errors import UserError

from . import actions
from .forms import VolumeForm
from .models import Volume


@login_required
def volume_list(request, team_id):
    team = get_object_or_404(teams_of(request.user), id=team_id)  # 404 for other teams
    form = VolumeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            volume = actions.create_volume(request.user, team, form.cleaned_data["name"])
        except UserError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Volume {volume.name} created: mount it as {volume.name}:/PATH in an "
                                      "app's settings.")
            return redirect("volumes", team_id=team.id)
    volumes = actions.team_volumes(team)
    return render(request, "volumes/volume_list.html", {
        "team": team, "volumes": volumes, "form": form, "can_write": can_write(request.user, team),
        "waiting": any(volume.removing for volume, _ in volumes)}, status=400 if request.method == "POST" else 200)


@login_required
@require_POST
def volume_remove(request, volume_id):
    volume = get_visible_or_404(Volume.objects.select_related("team", "host"), request.user, "team",
                                id=volume_id)
    try:
        removed = actions.remove_volume(request.user, volume)
    except UserError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, f"Volume {volume.name} removed." if removed else
                      f"Removing volume {volume.name} from {volume.host.name}…")
    return redirect("volumes", team_id=volume.team_id)
