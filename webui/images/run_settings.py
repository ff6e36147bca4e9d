"""How an app's containers run, checked in one place for the pages and the API alike:
ports, memory, CPUs, processes, environment and restart policy (what one run may set
for itself), and the parsers behind them.

The fields take the pages' text (one item a line, or ports separated by commas) and the
API's JSON lists alike, so a value is checked by the same code, with the same message,
whichever way it came.
"""
from __future__ import annotations

import re
from typing import Callable

from django import forms
from django.conf import settings
from django.core.validators import RegexValidator

from webui.core.errors import UserError
from workers import contracts

MIN_MEMORY_MB = 6  # as Docker: below this a container cannot even start
DEFAULT_PIDS = 1024
RESTART_POLICY = RegexValidator(contracts.RESTART_POLICY_PATTERN,
                                "Use no, on-failure, on-failure:N (at most N restarts), always or unless-stopped.")
# The host checks again that each CPU is one of its own.
CPUSET = RegexValidator(r"^\d+(-\d+)?(,\d+(-\d+)?)*$", "Use CPU numbers and ranges like 0, 0-1 or 0,2.")

_PORT = re.compile(r"^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d{1,5}):(\d{1,5})(/(tcp|udp))?$")
# Docker's rule for names it takes from -e (POSIX shells' names).
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# execve refuses one string longer than this (MAX_ARG_STRLEN): the container would not start.
ENV_MAX_BYTES = 128 * 1024


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


def parse_env(text: str) -> list[str]:
    """One ``KEY=value`` a line (the value may hold ``=`` and be empty), as ``docker run -e``
    takes them; blank lines are skipped; each error names its line."""
    variables, lines_of = [], {}
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        name, equals, _ = line.partition("=")
        shown = line if len(line) <= 60 else line[:57] + "..."
        if "\x00" in line:
            raise forms.ValidationError(f"Line {number}: “{shown.replace(chr(0), '')}” holds a NUL character, "
                                        "which no environment variable can.")
        if not equals:
            raise forms.ValidationError(f"Line {number}: “{shown}” is not KEY=value.")
        if not _ENV_NAME.match(name):
            raise forms.ValidationError(f"Line {number}: “{name[:40]}” is not a variable name: use letters, "
                                        "digits and _, not starting with a digit (no spaces).")
        if name in lines_of:
            raise forms.ValidationError(f"Line {number}: {name} is already set on line {lines_of[name]}.")
        lines_of[name] = number
        variables.append(line)
    size = sum(len(v.encode()) + 1 for v in variables)
    if size > ENV_MAX_BYTES:
        raise forms.ValidationError(f"The environment is {size} bytes; at most {ENV_MAX_BYTES} fit.")
    return variables


def merge_env(base: list[str], extra: list[str]) -> list[str]:
    """``base`` with ``extra`` on top: a name set in both takes ``extra``'s value, as a
    ``docker compose run -e`` takes precedence over the service's environment."""
    names = {v.partition("=")[0] for v in extra}
    return [v for v in base if v.partition("=")[0] not in names] + list(extra)


def parse_host_labels(text: str) -> dict:
    """The labels a host must carry, written as a host's own labels are (``key=value`` a line)."""
    # Imported here: the hosts' actions reach the containers' actions, which must stay free to
    # import the app's run settings without a cycle.
    from webui.hosts.actions import parse_labels

    try:
        return parse_labels(text or "")
    except UserError as exc:
        raise forms.ValidationError(str(exc)) from None


class LinesField(forms.CharField):
    """Text of one item a line (the pages), or a JSON list of strings (the API), parsed by
    ``parse``. ``joiner`` shows a list as the form's text again."""

    def __init__(self, parse: Callable[[str], object], *, joiner: str = "\n", **kwargs):
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3}))
        super().__init__(required=False, **kwargs)
        self.parse, self.joiner = parse, joiner

    def to_python(self, value):
        if isinstance(value, (list, tuple)):
            value = self._join(value)
        elif value is not None and not isinstance(value, str):
            raise forms.ValidationError("Give a list of strings (or text, one item a line).")
        return super().to_python(value)

    def _join(self, items) -> str:
        for number, item in enumerate(items, 1):
            if not isinstance(item, str):
                raise forms.ValidationError(f"Item {number} is not a string: give a list of strings.")
            if "\n" in item or "\r" in item:
                raise forms.ValidationError(f"Item {number} holds a line break: give one per item.")
        return "\n".join(items)

    def prepare_value(self, value):
        return self.joiner.join(value) if isinstance(value, (list, tuple)) else value

    def clean(self, value):
        text = self.to_python(value)
        self.validate(text)
        parsed = self.parse(text)  # first, so its message names the line
        self.run_validators(text)
        return parsed


class LabelsField(LinesField):
    """Labels as ``key=value`` lines, or the API's JSON object of them."""

    def to_python(self, value):
        if isinstance(value, dict):
            if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value.values()):
                raise forms.ValidationError("Give each label a string value.")
            value = [f"{key}={item}" for key, item in value.items()]
        return super().to_python(value)

    def prepare_value(self, value):
        if isinstance(value, dict):
            return "\n".join(f"{key}={item}" for key, item in value.items())
        return value


class RunSettingsForm(forms.Form):
    """What one run may set for itself (RUN_SETTINGS of webui/containers/actions.py); the
    app forms add their other settings to these."""

    ports = LinesField(parse_ports, joiner=", ", label="Port mappings", widget=forms.TextInput,
                       help_text="host:container, comma-separated, e.g. 18080:80")
    memory_mb = forms.IntegerField(label="Memory limit (MB)", min_value=MIN_MEMORY_MB, initial=256)
    cpus = forms.FloatField(label="CPU limit", min_value=0.01, max_value=64, initial=1.0,
                            help_text="In CPUs, e.g. 0.5. It counts against the team's CPU quota.")
    restart_policy = forms.CharField(label="Restart policy", max_length=24, initial="no", required=False,
                                     empty_value="no", validators=[RESTART_POLICY],
                                     help_text="no, on-failure[:N], always or unless-stopped, as in Docker.")
    pids_limit = forms.IntegerField(label="Process limit", min_value=1, max_value=1_000_000, initial=DEFAULT_PIDS,
                                    required=False, help_text="Processes and threads at once; a fork bomb stops "
                                                              f"here. Empty: {DEFAULT_PIDS}.")
    env = LinesField(parse_env, label="Environment",
                     help_text="One KEY=value a line, as docker run -e; the container's processes see them.")

    def clean_pids_limit(self) -> int:
        return self.cleaned_data.get("pids_limit") or DEFAULT_PIDS


class RunOverridesForm(RunSettingsForm):
    """A run's own settings: only those given are checked and used; the app's stand for the rest."""

    def __init__(self, data: dict, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.given = [name for name in self.fields if data.get(name) is not None]
        for field in self.fields.values():
            field.required = False

    def clean_pids_limit(self) -> int | None:
        return self.cleaned_data.get("pids_limit")

    def overrides(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.given if self.cleaned_data.get(name) is not None}
