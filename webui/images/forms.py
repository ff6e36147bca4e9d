from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.core.files import File
from django.core.validators import RegexValidator

from webui.accounts import quotas
from webui.core.access import writable_teams_of
from webui.volumes import mounts

from . import dockerfile_check, kept_uploads, uploads
from .run_settings import CPUSET, LabelsField, LinesField, RunSettingsForm, parse_host_labels

# Image names are lowercase in Docker's reference grammar.
APP_NAME = RegexValidator(r"^[a-z0-9][a-z0-9_.-]*$", "Use lowercase letters, digits, and . _ - "
                          "(starting with a letter or a digit), as in image names.")


_ARG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
STAGE_NAME = RegexValidator(r"^[a-zA-Z][a-zA-Z0-9_.-]*$", "A stage name starts with a letter; then letters, "
                            "digits and . _ - (as after FROM ... AS).")


def parse_build_args(text: str) -> dict[str, str]:
    """One ``NAME=value`` a line, as ``--build-arg`` takes them; blank lines are skipped."""
    args: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        name, equals, value = line.partition("=")
        name = name.strip()
        if not equals or not _ARG_NAME.match(name):
            raise forms.ValidationError(f"Line {number}: {line.strip()!r} is not NAME=value (a name is letters, "
                                        "digits and _, not starting with a digit).")
        if name in args:
            raise forms.ValidationError(f"Line {number}: {name} is given twice.")
        args[name] = value
    return args


class BuildOptionsForm(forms.Form):
    build_args = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                 help_text="One NAME=value a line, for the Dockerfile's ARG instructions.")
    target = forms.CharField(required=False, max_length=100, validators=[STAGE_NAME],
                             help_text="Build up to this stage of a multi-stage Dockerfile.")
    no_cache = forms.BooleanField(required=False, label="Build every step again (no cache)")

    def clean_build_args(self) -> dict[str, str]:
        return parse_build_args(self.cleaned_data.get("build_args", ""))


# The runtime's network modes (runtime/network/provider.py); host is for admins only.
NETWORK_MODES = [("bridge", "bridge: its team's network"), ("none", "none: loopback only"),
                 ("host", "host: the host's own network (admins only)")]


class _AppSettingsFields(RunSettingsForm):
    """Every setting of how an app runs: what a run may set for itself, and the rest."""

    cpuset_cpus = forms.CharField(label="CPUs to run on", max_length=64, required=False, validators=[CPUSET],
                                  help_text="e.g. 0-1 or 0,2 (as docker's --cpuset-cpus); empty: any CPU.")
    network_in_mb = forms.FloatField(label="Download limit (MB/s)", required=False, min_value=0.01, max_value=4000,
                                     help_text="What the container may receive per second; empty: no limit.")
    network_out_mb = forms.FloatField(label="Upload limit (MB/s)", required=False, min_value=0.01, max_value=4000,
                                      help_text="What the container may send per second; empty: no limit.")
    network_mode = forms.ChoiceField(label="Network", choices=NETWORK_MODES, initial="bridge", required=False,
                                     help_text="bridge reaches the team's containers and, unless the host forbids "
                                               "it, the outside; none has only loopback; host shares the host's "
                                               "network, its services included (admins only).")
    volumes = LinesField(mounts.parse, label="Volumes",
                         help_text="One NAME:/PATH a line (NAME:/PATH:ro for read-only), NAME one of the "
                                   "team's volumes; admins may mount a host path, /HOST/PATH:/PATH.")
    host_labels = LabelsField(parse_host_labels, label="Host labels",
                              help_text="One key=value a line: it runs only on hosts with these labels, "
                                        "e.g. disk=ssd.")

    field_order = ["ports", "memory_mb", "cpus", "restart_policy", "pids_limit", "cpuset_cpus", "network_mode",
                   "network_in_mb", "network_out_mb", "volumes", "env"]

    def clean_network_mode(self) -> str:
        return self.cleaned_data.get("network_mode") or "bridge"  # left out of an API PUT: the default


class AppForm(_AppSettingsFields):
    name = forms.CharField(max_length=60, validators=[APP_NAME],
                           help_text="Lowercase letters, digits, and . _ - (it names the image).")
    team = forms.ModelChoiceField(queryset=None, empty_label=None)
    dockerfile = forms.FileField(label="Dockerfile", allow_empty_file=True)  # our own message says why
    context = forms.FileField(required=False, label="Build context",
                              help_text="Optional .tar, .tar.gz or .zip with the files COPY needs.")

    field_order = ["name", "team", "dockerfile", "context", *_AppSettingsFields.field_order]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["team"].queryset = writable_teams_of(user).order_by("-personal", "name")

    def clean_dockerfile(self) -> str:
        return checked_dockerfile(uploads.dockerfile_text(self.cleaned_data["dockerfile"].read()))

    def clean_context(self):
        upload = self.cleaned_data.get("context")
        if upload:
            uploads.context_archive(upload.name, upload.read(), settings.BERTH_MAX_CONTEXT_BYTES)
            upload.seek(0)
        return upload

    def clean(self):
        data = super().clean()
        team = data.get("team")
        check_quota_fits(self, team, data)
        check_volumes_allowed(self, team, self.user, data)
        check_network_mode(self, self.user, data)
        if team and data.get("name") and team.apps.filter(name=data["name"]).exists():
            self.add_error("name", f"The team already has an app named “{data['name']}”.")
        return data


class NewAppPageForm(AppForm):
    """The new-app page's form. Browsers clear file inputs when a form comes back with an error,
    so what the user chose is kept: the Dockerfile's text in a box the form also takes (it is
    text, and a refused one can be mended right there), the context archive on the server
    (kept_uploads) under a token in a hidden field. The API keeps AppForm's fields."""

    dockerfile_text = forms.CharField(
        required=False, strip=False, label="…or write it here",
        widget=forms.Textarea(attrs={"rows": 8, "class": "code"}),
        help_text="Used when no file is chosen; a file you choose replaces it.")
    kept_context = forms.CharField(required=False, widget=forms.HiddenInput)
    drop_kept_context = forms.BooleanField(required=False, label="Don't use it")

    field_order = ["name", "team", "dockerfile", "dockerfile_text", "context", *_AppSettingsFields.field_order]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dockerfile"].required = False  # the box may hold it instead
        self.fields["dockerfile"].help_text = "A text file; its text shows in the box below if the form comes back."
        self.kept_dockerfile: str | None = None  # its text, once read
        self.dockerfile_from = ""  # the file's name, or "" when written in the box
        self.kept_context_file: File | None = None

    def clean_dockerfile(self):
        return self.cleaned_data.get("dockerfile")  # read in clean(), beside the box's text

    def clean(self):
        self._clean_dockerfile_source()
        self._clean_kept_context()
        return super().clean()

    def _clean_dockerfile_source(self) -> None:
        upload, written = self.cleaned_data.get("dockerfile"), self.cleaned_data.get("dockerfile_text") or ""
        if "dockerfile" in self.errors:
            return
        if upload:
            raw, field, self.dockerfile_from = upload.read(), "dockerfile", upload.name
        elif written.strip():
            raw, field = written.encode(), "dockerfile_text"
        else:
            self.add_error("dockerfile", "Choose a Dockerfile, or write it in the box below.")
            return
        try:
            self.kept_dockerfile = uploads.dockerfile_text(raw)
            self.cleaned_data["dockerfile"] = checked_dockerfile(self.kept_dockerfile)
        except forms.ValidationError as exc:
            self.add_error(field, exc)

    def _clean_kept_context(self) -> None:
        token = self.cleaned_data.get("kept_context")
        if self.cleaned_data.get("context") or "context" in self.errors or not token:
            return
        if self.cleaned_data.get("drop_kept_context"):
            return
        try:
            self.kept_context_file = kept_uploads.take(self.user, token)
        except forms.ValidationError as exc:
            self.add_error("context", exc)
            return
        self.cleaned_data["context"] = self.kept_context_file

    def keep_for_retry(self) -> None:
        """Before the form is shown again with its errors: put the Dockerfile's text in the box
        and hold the context archive, so neither has to be chosen again."""
        data = self.data.copy()
        if self.kept_dockerfile is not None:
            data["dockerfile_text"] = self.kept_dockerfile
        data.pop("kept_context", None)
        data.pop("drop_kept_context", None)
        context = self.cleaned_data.get("context")
        if context is not None and "context" not in self.errors:
            if context is not self.kept_context_file:
                data["kept_context"] = kept_uploads.keep(self.user, context)
                self.kept_context_file = context
            else:
                data["kept_context"] = self.cleaned_data["kept_context"]
        else:
            self.kept_context_file = None
        self.data = data


class AppSettingsForm(_AppSettingsFields):
    """What can change on an app without a new upload: how it runs."""

    def __init__(self, *args, team, user, kept_volumes: tuple[str, ...] = (), kept_network_mode: str = "bridge",
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.team, self.user, self.kept_volumes = team, user, kept_volumes
        self.kept_network_mode = kept_network_mode

    @classmethod
    def values_of(cls, app) -> dict:
        """The app's settings as the form takes them: the settings page's first values, and
        what an API PATCH leaves as they are."""
        return {name: getattr(app, name) for name in cls.base_fields}

    def clean(self):
        data = super().clean()
        check_quota_fits(self, self.team, data)
        check_volumes_allowed(self, self.team, self.user, data, self.kept_volumes)
        check_network_mode(self, self.user, data, self.kept_network_mode)
        return data


class AppSettingsPageForm(AppSettingsForm):
    """The settings page also edits the Dockerfile (the next build uses it); the API's settings
    writes keep AppSettingsForm's fields."""

    dockerfile = forms.CharField(strip=False, widget=forms.Textarea(attrs={"rows": 12, "class": "code"}),
                                 help_text="The next build uses it; images already built keep theirs.")

    field_order = ["dockerfile", *_AppSettingsFields.field_order]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_bound and "dockerfile" not in self.data:
            del self.fields["dockerfile"]  # as for the run settings, a post without it keeps the app's

    def clean_dockerfile(self) -> str:
        return checked_dockerfile(uploads.dockerfile_text(self.cleaned_data["dockerfile"].encode()))


def checked_dockerfile(text: str) -> str:
    """The text, once the builder would read its first lines (dockerfile_check)."""
    dockerfile_check.check(text)
    return text


def check_quota_fits(form: forms.Form, team, data: dict) -> None:
    if not team:
        return
    quota, memory, cpus = quotas.quota_of(team), data.get("memory_mb"), data.get("cpus")
    if memory and memory > quota.max_memory_mb:
        form.add_error("memory_mb", f"{memory} MB is over the team's memory quota of {quota.max_memory_mb} MB.")
    if cpus and cpus > quota.max_cpus:
        form.add_error("cpus", f"{cpus:g} CPUs is over the team's CPU quota of {quota.max_cpus:g}.")
    outside = quotas.ports_outside(quota, data.get("ports") or [])
    if outside:
        form.add_error("ports", quotas.port_refusal(quota, outside[0]))


def check_network_mode(form: forms.Form, user, data: dict, kept: str = "bridge") -> None:
    """Network mode host for admins only (or kept as an admin set it); ports and rate limits
    only where the container has a network of its own for them."""
    mode = data.get("network_mode")
    if mode == "host" and not user.is_staff and kept != "host":
        form.add_error("network_mode", "Only admins may choose network mode host: it shares the host's network, "
                                       "its services included. Choose bridge or none.")
    if mode in ("host", "none") and data.get("ports"):
        why = "the container listens on the host's own ports" if mode == "host" else "it has no network"
        form.add_error("ports", f"Ports cannot be published with network mode {mode}: {why}.")
    for name in ("network_in_mb", "network_out_mb"):
        if mode in ("host", "none") and data.get(name):
            form.add_error(name, f"Rate limits need network mode bridge, not {mode}: they are set on the "
                                 "container's own link.")


def check_volumes_allowed(form: forms.Form, team, user, data: dict, kept: tuple[str, ...] = ()) -> None:
    """Named volumes of the app's team only; host paths for admins (or kept as an admin set them).
    The cleaned value becomes the mounts' text, as the app keeps them."""
    if "volumes" not in data:
        return
    try:
        mounts.check_allowed(data["volumes"], team, user, kept)
    except forms.ValidationError as exc:
        form.add_error("volumes", exc)
        return
    data["volumes"] = [str(mount) for mount in data["volumes"]]
