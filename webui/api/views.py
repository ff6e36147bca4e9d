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
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response

from webui.containers import actions as container_actions
from webui.containers.models import Container
from webui.core.access import can_write, visible
from webui.core.errors import UserError
from webui.hosts.models import Host
from webui.images import actions as image_actions
from webui.images.forms import AppForm, BuildOptionsForm
from webui.images.models import App, Build
from workers import streams

from . import serializers as s
from .logs import log_entries


def _refused(exc: UserError) -> ValidationError:
    return ValidationError({"detail": str(exc)})


def _writable(user, team) -> None:
    if not can_write(user, team):
        raise PermissionDenied("Viewers can look but not change anything.")


def _form_data(request) -> tuple[dict, dict]:
    """The form's fields and files from multipart or JSON; a JSON Dockerfile is its text."""
    data = {key: value for key, value in request.data.items()}
    files = dict(request.FILES.items())
    if isinstance(data.get("dockerfile"), str) and "dockerfile" not in files:
        files["dockerfile"] = SimpleUploadedFile("Dockerfile", data.pop("dockerfile").encode())
    if isinstance(data.get("ports"), list):
        data["ports"] = ", ".join(data["ports"])
    return data, files


class AppViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = s.AppSerializer

    def get_queryset(self):
        return visible(App.objects.select_related("team"), self.request.user, "team").order_by("id")

    @extend_schema(request={"multipart/form-data": {"type": "object"}, "application/json": {"type": "object"}},
                   responses={201: s.AppSerializer},
                   description="The new-app form's fields: name, team (its ID), dockerfile (a file, or its text in "
                               "JSON), context (an archive file), ports, memory_mb, cpus, restart_policy, ...")
    def create(self, request):
        data, files = _form_data(request)
        form = AppForm(data, files, user=request.user)
        if not form.is_valid():
            raise ValidationError(form.errors)
        app = image_actions.create_app(request.user, form.cleaned_data)
        return Response(s.AppSerializer(app).data, status=status.HTTP_201_CREATED)

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

    @extend_schema(request=None, responses={202: s.ContainerSerializer})
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        app = self.get_object()
        _writable(request.user, app.team)
        try:
            container = container_actions.run_app(request.user, app)
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

    @extend_schema(parameters=[OpenApiParameter("after", str, description="the last entry ID you have"),
                               OpenApiParameter("tail", int, description="start with the newest N lines")],
                   responses={200: {"type": "object"}})
    @action(detail=True, methods=["get"])
    def logs(self, request, pk=None):
        container = self.get_object()
        return Response(log_entries(streams.container_log(container.id), request.query_params.get("after"),
                                    request.query_params.get("tail")))


class HostViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.HostSerializer
    permission_classes = [IsAdminUser]
    queryset = Host.objects.order_by("name")

    def permission_denied(self, request, message=None, code=None):
        if request.user and request.user.is_authenticated:
            raise NotFound()  # as the host pages: not there for non-admins
        super().permission_denied(request, message, code)
