from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.core.validators import RegexValidator

from webui.core.access import writable_teams_of
from webui.volumes import mounts
from workers import contracts

from . import uploads

_PORT = re.compile(r"^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d{1,5}):(\d{1,5})(/(tcp|udp))?$")
# Image names are lowercase in Docker's reference grammar.
RESTART_POLICY = RegexValidator(contracts.RESTART_POLICY_PATTERN,
                                "Use no, on-failure, on-failure:N (at most N restarts), always or unless-stopped.")
DEFAULT_PIDS = 1024
# The host checks again that each CPU is one of its own.
CPUSET = RegexValidator(r"^\d+(-\d+)?(,\d+(-\d+)?)*$", "Use CPU numbers and ranges like 0, 0-1 or 0,2.")
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


def parse_ports(text: str) -> list[str]:
    """``"18080:80, 127.0.0.1:5353:53/udp"`` to ``["18080:80/tcp", "127.0.0.1:5353:53/udp"]``, checked."""
    mappings, seen = [], set()
    text = re.sub(r"\s*([:/])\s*", r"\1", text or "")  # "8080 : 80" means 8080:80
    for item in [p.strip() for p in re.split(r"[,\s]+", text) if p.strip()]:
        m = _PORT.match(item)
        if not m:
            raise forms.ValidationError(f"“{item}” is not a port mapping like 8080:80, 5353:53/udp "
                                        "or 127.0.0.1:8080:80.")
        address, host, container, proto = m.group(1) or "", int(m.group(2)), int(m.group(3)), m.group(5) or "tcp"
        _check_address(item, address)
        if not settings.BERTH_PORT_MIN <= host <= settings.BERTH_PORT_MAX:
            raise forms.ValidationError(f"Host port {host} is outside the allowed range "
                                        f"{settings.BERTH_PORT_MIN}-{settings.BERTH_PORT_MAX}.")
        if not 1 <= container <= 65535:
            raise forms.ValidationError(f"Container port {container} is outside 1-65535.")
        if (host, proto) in seen:  # on two addresses too: the host's published ports are keyed by port
            raise forms.ValidationError(f"Host port {host}/{proto} is mapped twice.")
        seen.add((host, proto))
        mappings.append(f"{address + ':' if address else ''}{host}:{container}/{proto}")
    return mappings


def _check_address(item: str, address: str) -> None:
    if address and any(int(part) > 255 for part in address.split(".")):
        raise forms.ValidationError(f"“{address}” in “{item}” is not an IPv4 address.")


class AppForm(forms.Form):
    name = forms.CharField(max_length=60, validators=[APP_NAME],
                           help_text="Lowercase letters, digits, and . _ - (it names the image).")
    team = forms.ModelChoiceField(queryset=None, empty_label=None)
    dockerfile = forms.FileField(label="Dockerfile", allow_empty_file=True)  # our own message says why
    context = forms.FileField(required=False, label="Build context",
                              help_text="Optional .tar, .tar.gz or .zip with the files COPY needs.")
    ports = forms.CharField(required=False, label="Port mappings",
                            help_text="host:container, comma-separated, e.g. 18080:80")
    memory_mb = forms.IntegerField(label="Memory limit (MB)", min_value=6, initial=256)
    cpus = forms.FloatField(label="CPU limit", min_value=0.01, max_value=64, initial=1.0,
                            help_text="In CPUs, e.g. 0.5. It counts against the team's CPU quota.")
    restart_policy = forms.CharField(label="Restart policy", max_length=24, initial="no", required=False,
                                     empty_value="no", validators=[RESTART_POLICY],
                                     help_text="no, on-failure[:N], always or unless-stopped, as in Docker.")

    pids_limit = forms.IntegerField(label="Process limit", min_value=1, max_value=1_000_000, initial=DEFAULT_PIDS,
                                    required=False, help_text="Processes and threads at once; a fork bomb stops "
                                                              f"here. Empty: {DEFAULT_PIDS}.")
    cpuset_cpus = forms.CharField(label="CPUs to run on", max_length=64, required=False, validators=[CPUSET],
                                  help_text="e.g. 0-1 or 0,2 (as docker's --cpuset-cpus); empty: any CPU.")
    network_in_mb = forms.FloatField(label="Download limit (MB/s)", required=False, min_value=0.01, max_value=4000,
                                     help_text="What the container may receive per second; empty: no limit.")
    network_out_mb = forms.FloatField(label="Upload limit (MB/s)", required=False, min_value=0.01, max_value=4000,
                                      help_text="What the container may send per second; empty: no limit.")
    volumes = forms.CharField(required=False, label="Volumes", widget=forms.Textarea(attrs={"rows": 3}),
                              help_text="One NAME:/PATH a line (NAME:/PATH:ro for read-only), NAME one of the "
                                        "team's volumes; admins may mount a host path, /HOST/PATH:/PATH.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["team"].queryset = writable_teams_of(user).order_by("-personal", "name")

    def clean_dockerfile(self) -> str:
        return uploads.dockerfile_text(self.cleaned_data["dockerfile"].read())

    def clean_context(self):
        upload = self.cleaned_data.get("context")
        if upload:
            uploads.context_archive(upload.name, upload.read(), settings.BERTH_MAX_CONTEXT_BYTES)
            upload.seek(0)
        return upload

    def clean_ports(self) -> list[str]:
        return parse_ports(self.cleaned_data.get("ports", ""))

    def clean_pids_limit(self) -> int:
        return self.cleaned_data.get("pids_limit") or DEFAULT_PIDS

    def clean_volumes(self) -> list[mounts.Mount]:
        return mounts.parse(self.cleaned_data.get("volumes", ""))

    def clean(self):
        data = super().clean()
        team = data.get("team")
        check_quota_fits(self, team, data)
        check_volumes_allowed(self, team, self.user, data)
        if team and data.get("name") and team.apps.filter(name=data["name"]).exists():
            self.add_error("name", f"The team already has an app named “{data['name']}”.")
        return data


class AppSettingsForm(forms.Form):
    """What can change on an app without a new upload: how it runs."""

    ports = AppForm.base_fields["ports"]
    memory_mb = AppForm.base_fields["memory_mb"]
    cpus = AppForm.base_fields["cpus"]
    restart_policy = AppForm.base_fields["restart_policy"]
    pids_limit = AppForm.base_fields["pids_limit"]
    cpuset_cpus = AppForm.base_fields["cpuset_cpus"]
    network_in_mb = AppForm.base_fields["network_in_mb"]
    network_out_mb = AppForm.base_fields["network_out_mb"]
    volumes = AppForm.base_fields["volumes"]

    def __init__(self, *args, team, user, kept_volumes: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.team, self.user, self.kept_volumes = team, user, kept_volumes

    def clean_ports(self) -> list[str]:
        return parse_ports(self.cleaned_data.get("ports", ""))

    clean_pids_limit = AppForm.clean_pids_limit
    clean_volumes = AppForm.clean_volumes

    def clean(self):
        data = super().clean()
        check_quota_fits(self, self.team, data)
        check_volumes_allowed(self, self.team, self.user, data, self.kept_volumes)
        return data


def check_quota_fits(form: forms.Form, team, data: dict) -> None:
    memory, cpus = data.get("memory_mb"), data.get("cpus")
    if team and memory and memory > team.quota.max_memory_mb:
        form.add_error("memory_mb", f"{memory} MB is over the team's memory quota of {team.quota.max_memory_mb} MB.")
    if team and cpus and cpus > team.quota.max_cpus:
        form.add_error("cpus", f"{cpus:g} CPUs is over the team's CPU quota of {team.quota.max_cpus:g}.")


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
