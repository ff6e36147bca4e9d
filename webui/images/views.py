from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from webui.containers.models import Container
from webui.core import downloads
from webui.core.access import can_write, get_visible_or_404, visible
from webui.core.errors import UserError
from workers import streams

from . import actions, build_queue, kept_uploads
from .forms import AppSettingsPageForm, BuildOptionsForm, NewAppPageForm
from .models import App, Build


@login_required
def dashboard(request):
    apps = visible(App.objects.select_related("team"), request.user, "team")
    containers = visible(Container.objects.select_related("app", "host"), request.user, "app__team")
    return render(request, "images/dashboard.html", {
        "apps": apps, "containers": containers.exclude(status="removed")[:20]})


@login_required
def app_new(request):
    form = NewAppPageForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        app = actions.create_app(request.user, form.cleaned_data)
        kept_uploads.discard(request.user)
        messages.success(request, f"App {app.name} created. Build it to make its image.")
        return redirect("app", app_id=app.id)
    if form.errors:
        form.keep_for_retry()
    return render(request, "images/app_new.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def app_detail(request, app_id):
    app = get_visible_or_404(App.objects.select_related("team"), request.user, "team", id=app_id)
    return render(request, "images/app_detail.html", {
        "app": app, "builds": app.builds.all()[:20],
        "containers": app.containers.exclude(status="removed").select_related("host"),
        "can_write": can_write(request.user, app.team), "build_form": BuildOptionsForm()})


def _writable_app(request, app_id) -> App:
    app = get_visible_or_404(App.objects.select_related("team"), request.user, "team", id=app_id)
    if not can_write(request.user, app.team):
        raise UserError("Viewers cannot build or run.")
    return app


@login_required
def app_settings(request, app_id):
    app = _writable_app_or_404(request, app_id)
    form = AppSettingsPageForm(request.POST or None, initial=AppSettingsPageForm.values_of(app), team=app.team,
                           user=request.user, kept_volumes=tuple(app.volumes), kept_network_mode=app.network_mode)
    if request.method == "POST" and form.is_valid():
        dockerfile_changed = form.cleaned_data.get("dockerfile", app.dockerfile) != app.dockerfile
        actions.update_app(request.user, app, form.cleaned_data)
        messages.success(request, "Saved: the next build uses the new Dockerfile, the next run these settings."
                         if dockerfile_changed else "Saved: the next run uses these settings.")
        return redirect("app", app_id=app.id)
    return render(request, "images/app_settings.html", {"app": app, "form": form},
                  status=400 if form.errors else 200)


@login_required
@require_POST
def app_delete(request, app_id):
    app = _writable_app_or_404(request, app_id)
    try:
        actions.delete_app(request.user, app)
    except UserError as exc:
        messages.error(request, str(exc))
        return redirect("app", app_id=app.id)
    messages.success(request, f"App {app.name} deleted.")
    return redirect("dashboard")


def _writable_app_or_404(request, app_id) -> App:
    app = get_visible_or_404(App.objects.select_related("team"), request.user, "team", id=app_id)
    if not can_write(request.user, app.team):
        raise Http404("viewers cannot change apps")
    return app


@login_required
@require_POST
def app_build(request, app_id):
    form = BuildOptionsForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label or field.replace('_', ' ').capitalize()}: "
                                    f"{' '.join(errors)}")
        return redirect("app", app_id=app_id)
    try:
        build = actions.start_build(request.user, _writable_app(request, app_id), **form.cleaned_data)
    except UserError as exc:
        messages.error(request, str(exc))
        return redirect("app", app_id=app_id)
    return redirect("build", build_id=build.id)


@login_required
@require_POST
def app_run(request, app_id):
    from webui.containers.actions import run_app

    try:
        container = run_app(request.user, _writable_app(request, app_id))
    except UserError as exc:
        messages.error(request, str(exc))
        return redirect("app", app_id=app_id)
    return redirect("container", container_id=container.id)


@login_required
def build_detail(request, build_id):
    build = get_visible_or_404(Build.objects.select_related("app", "host"), request.user, "app__team",
                               id=build_id)
    return render(request, "images/build_detail.html", {
        "build": build, "app": build.app, "state": build_queue.page_state(build),
        "initial_log": build.log if build.done else "",
        "download_url": reverse("build_log", args=[build.id]), "can_write": can_write(request.user, build.app.team)})


@login_required
@require_POST
def build_cancel(request, build_id):
    build = get_visible_or_404(Build.objects.select_related("app__team"), request.user, "app__team", id=build_id)
    try:
        actions.cancel_build(request.user, build)
    except UserError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, "Cancelling: the running step is stopped, and nothing it made is kept.")
    return redirect("build", build_id=build.id)


@login_required
def build_log(request, build_id):
    build = get_visible_or_404(Build.objects.select_related("app"), request.user, "app__team", id=build_id)
    name = f"{build.app.name}-build-{build.id}.log"
    if build.done:
        return downloads.log_file(name, text=build.log)
    return downloads.log_file(name, key=streams.build_log(build.id))
