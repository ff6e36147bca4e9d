"""The JSON API: everything the pages do, for scripts and the `berth` CLI.

Thin like the pages: each write validates with the page's own form and calls the
same action, so a rule holds in the browser and the API alike. Other teams'
objects are 404; a viewer's write is 403; a refused action is 400 with its reason.
"""
from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from webui.containers import actions as container_actions
from webui.containers.models import Container
from webui.core.access import can_write, team_of_user, teams_of, visible
from webui.core.errors import UserError
from webui.images import actions as image_actions
from webui.images.forms import AppForm, AppSettingsForm, BuildOptionsForm
from webui.images.models import App, Build
from webui.images.run_settings import RunOverridesForm, merge_env
from webui.metrics.exposition import newest_samples
from workers import contracts, streams

from . import params
from . import serializers as s
from .logs import log_entries


def _refused(exc: UserError) -> ValidationError:
    return ValidationError({"detail": str(exc)})


def _writable(user, team) -> None:
    if not can_write(user, team):
        raise PermissionDenied("Viewers can look but not change anything.")


def _body(request, allowed, what: str) -> dict:
    """The request's fields (a JSON object, or a form's fields), refused with the names of
    any the write does not take: a misspelt setting must not be dropped without a word."""
    if not hasattr(request.data, "keys"):
        raise ValidationError({"detail": "The body must be a JSON object of fields."})
    data = {key: request.data[key] for key in request.data.keys()}
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError({"detail": f"Unknown field(s): {', '.join(unknown)}. {what}: "
                                         f"{', '.join(allowed)}."})
    return data


def _form_data(request) -> tuple[dict, dict]:
    """The new-app form's fields and files from multipart or JSON; a JSON Dockerfile is its text.
    JSON lists and objects go to the form as they are: its fields take them."""
    data = _body(request, AppForm.base_fields, "An app's fields are")
    files = dict(request.FILES.items())
    data = {key: value for key, value in data.items() if key not in files}
    if isinstance(data.get("dockerfile"), str):
        files["dockerfile"] = SimpleUploadedFile("Dockerfile", data.pop("dockerfile").encode())
    return data, files


def _checked(form):
    if not form.is_valid():
        raise ValidationError(form.errors)
    return form.cleaned_data


class AppViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = s.AppSerializer

    def get_queryset(self):
        return visible(App.objects.select_related("team"), self.request.user, "team").order_by("id")

    @extend_schema(request={"multipart/form-data": {"type": "object"},
                            "application/json": s.AppCreateRequestSerializer},
                   responses={201: s.AppSerializer},
                   description="The new-app form's fields: name, team (its ID), dockerfile (a file, or its text in "
                               "JSON), context (an archive file, in multipart), and the app's settings.")
    def create(self, request):
        data, files = _form_data(request)
        team = team_of_user(request.user, data.get("team"))
        if team is not None:  # a viewer's team: 403, as their other writes; another team's: the form's 400
            _writable(request.user, team)
        app = image_actions.create_app(request.user, _checked(AppForm(data, files, user=request.user)))
        return Response(s.AppSerializer(app).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.AppSettingsRequestSerializer, responses={200: s.AppSerializer},
                   description="Sets all of the app's settings, as its Settings page does: those left out are "
                               "emptied or take their defaults. The next run uses them.")
    def update(self, request, pk=None, partial=False):
        app = self.get_object()
        _writable(request.user, app.team)
        body = _body(request, AppSettingsForm.base_fields, "An app's settings are")
        data = (AppSettingsForm.values_of(app) if partial else {}) | body
        form = AppSettingsForm(data, team=app.team, user=request.user, kept_volumes=tuple(app.volumes),
                               kept_network_mode=app.network_mode)
        app = image_actions.update_app(request.user, app, _checked(form))
        return Response(s.AppSerializer(app).data)

    @extend_schema(request=s.AppSettingsRequestSerializer, responses={200: s.AppSerializer},
                   description="Changes the settings given and keeps the others; the next run uses them.")
    def partial_update(self, request, pk=None):
        return self.update(request, pk, partial=True)

    def perform_destroy(self, app):
        _writable(self.request.user, app.team)
        try:
            image_actions.delete_app(self.request.user, app)
        except UserError as exc:
            raise _refused(exc) from None

    @extend_schema(request=s.BuildRequestSerializer, responses={202: s.BuildSerializer})
    @action(detail=True, methods=["post"])
    def build(self, request, pk=None):
        app = self.get_object()
        _writable(request.user, app.team)
        body = s.BuildRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        args = body.validated_data.get("build_args", {})
        form = BuildOptionsForm({"build_args": "\n".join(f"{k}={v}" for k, v in args.items()),
                                 "target": body.validated_data.get("target", ""),
                                 "no_cache": body.validated_data.get("no_cache", False)})
        if not form.is_valid():
            raise ValidationError(form.errors)
        try:
            build = image_actions.start_build(request.user, app, **form.cleaned_data)
        except UserError as exc:
            raise _refused(exc) from None
        return Response(s.BuildSerializer(build).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=s.RunSettingsRequestSerializer, responses={202: s.ContainerSerializer},
                   description="Starts a container of the app's newest good build, with the app's settings but "
                               "those given here, checked as the app's are; the container keeps what it ran with.")
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        app = self.get_object()
        _writable(request.user, app.team)
        form = RunOverridesForm(_body(request, RunOverridesForm.base_fields, "A run may set"))
        _checked(form)
        overrides = form.overrides()
        if "env" in overrides:
            overrides["env"] = merge_env(app.env, overrides["env"])
        try:
            container = container_actions.run_app(request.user, app, overrides)
        except UserError as exc:
            raise _refused(exc) from None
        return Response(s.ContainerSerializer(container).data, status=status.HTTP_202_ACCEPTED)


class BuildViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.BuildSerializer

    def get_queryset(self):
        return visible(Build.objects.select_related("app__team", "host"), self.request.user, "app__team").order_by("id")

    @extend_schema(request=None, responses={202: s.BuildSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        build = self.get_object()
        _writable(request.user, build.app.team)
        try:
            image_actions.cancel_build(request.user, build)
        except UserError as exc:
            raise _refused(exc) from None
        build.refresh_from_db()
        return Response(s.BuildSerializer(build).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(parameters=[OpenApiParameter("after", str, description="the last entry ID you have")],
                   responses={200: {"type": "object"}})
    @action(detail=True, methods=["get"])
    def log(self, request, pk=None):
        build = self.get_object()
        return Response(log_entries(streams.build_log(build.id), request.query_params.get("after")))


class ContainerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                       viewsets.GenericViewSet):
    serializer_class = s.ContainerSerializer

    def get_queryset(self):
        return visible(Container.objects.select_related("app__team", "host"), self.request.user,
                       "app__team").order_by("id")

    def _act(self, request, do, *args, **kwargs):
        container = self.get_object()
        _writable(request.user, container.app.team)
        try:
            do(request.user, container, *args, **kwargs)
        except UserError as exc:
            raise _refused(exc) from None
        container.refresh_from_db()
        return Response(s.ContainerSerializer(container).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(parameters=[OpenApiParameter("force", bool, description="kill it first if it runs")])
    def destroy(self, request, pk=None):
        force = request.query_params.get("force", "").lower() in ("1", "true", "yes")
        return self._act(request, container_actions.remove_container, force=force)

    @extend_schema(request=None, responses={202: s.ContainerSerializer})
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        return self._act(request, container_actions.stop_container)

    @extend_schema(request=s.KillRequestSerializer, responses={202: s.ContainerSerializer})
    @action(detail=True, methods=["post"])
    def kill(self, request, pk=None):
        body = s.KillRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._act(request, container_actions.kill_container, body.validated_data["signal"])

    @extend_schema(request=None, responses={202: s.ContainerSerializer})
    @action(detail=True, methods=["post"])
    def restart(self, request, pk=None):
        return self._act(request, container_actions.restart_container)

    @extend_schema(parameters=[OpenApiParameter("container", int, many=True,
                                               description="only these (IDs); else all your running ones")],
                   responses={200: s.ContainerStatsSerializer(many=True)},
                   description="The newest stats sample of each of your teams' running containers, as the "
                               "team pages' live tables show them.")
    @action(detail=False, methods=["get"])
    def stats(self, request):
        running = self.get_queryset().filter(status=contracts.C_RUNNING)
        wanted = request.query_params.getlist("container")
        if wanted:
            running = running.filter(id__in=params.ids(wanted, "container", "Give container IDs (whole numbers)."))
        running = list(running)
        samples = newest_samples(running)
        return Response([{"id": c.id, "name": c.name, "app": c.app.name, "host": c.host.name,
                          "sample": samples.get(c.id)} for c in running])

    @extend_schema(parameters=[OpenApiParameter("after", str, description="the last entry ID you have"),
                               OpenApiParameter("tail", int, description="start with the newest N lines")],
                   responses={200: {"type": "object"}})
    @action(detail=True, methods=["get"])
    def logs(self, request, pk=None):
        container = self.get_object()
        return Response(log_entries(streams.container_log(container.id), request.query_params.get("after"),
                                    request.query_params.get("tail")))


class ImageViewSet(viewsets.GenericViewSet):
    """Each team's images as its Images page lists them: what its builds left in the hosts' stores."""

    serializer_class = s.ImageSerializer

    @extend_schema(parameters=[OpenApiParameter("team", int, description="only this team's (its ID)")],
                   responses={200: s.ImageSerializer(many=True)})
    def list(self, request):
        teams = teams_of(request.user).order_by("-personal", "name")
        team = request.query_params.get("team")
        if team is not None:
            teams = teams.filter(id__in=params.ids([team], "team", "Give a team's ID (a whole number)."))
        rows = [{"build": build, "current": current, "team": t.name}
                for t in teams for build, current in image_actions.team_images(t)]
        return Response(s.ImageSerializer(rows, many=True).data)
