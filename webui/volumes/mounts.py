"""An app's volumes, one ``SOURCE:/PATH[:ro]`` a line as `docker run -v` takes them: SOURCE is
one of the team's named volumes, or (for admins) an absolute path on the host."""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from django import forms

# Docker's volume names. No "/" (never a path) and no leading "." (so never "..").
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
NAME_MAX = 64


@dataclass(frozen=True)
class Mount:
    source: str  # a volume name, or an absolute host path
    destination: str
    readonly: bool = False

    @property
    def is_host_path(self) -> bool:
        return self.source.startswith("/")

    def __str__(self) -> str:
        return f"{self.source}:{self.destination}{':ro' if self.readonly else ''}"


def check_name(name: str) -> None:
    if len(name) > NAME_MAX:
        raise forms.ValidationError(f"The volume name “{name[:20]}…” is longer than {NAME_MAX} characters.")
    if not _NAME.match(name):
        raise forms.ValidationError(f"“{name}” is not a volume name: use letters, digits and . _ - "
                                    "(starting with a letter or a digit; no / or ..).")


def parse(text: str) -> list[Mount]:
    """The form's text as mounts, checked one line at a time; blank lines are skipped."""
    mounts: list[Mount] = []
    for number, line in enumerate((text or "").splitlines(), 1):
        if line.strip():
            mounts.append(_parse_line(number, line.strip()))
    destinations = [m.destination for m in mounts]
    for destination in destinations:
        if destinations.count(destination) > 1:
            raise forms.ValidationError(f"{destination} is mounted twice.")
    return mounts


def _parse_line(number: int, line: str) -> Mount:
    parts = line.split(":")
    mode = parts.pop() if len(parts) == 3 else "rw"
    if len(parts) != 2 or mode not in ("ro", "rw") or not parts[0]:
        raise forms.ValidationError(f"Line {number}: “{line}” is not NAME:/PATH, NAME:/PATH:ro or "
                                    "/HOST/PATH:/PATH.")
    source, destination = parts
    try:
        if source.startswith("/"):
            _check_path(source, "host path")
        else:
            check_name(source)
        _check_path(destination, "path in the container")
        if posixpath.normpath(destination) == "/":
            raise forms.ValidationError(f"“{destination}” would hide the whole root of the container: "
                                        "mount below it, e.g. /data.")
    except forms.ValidationError as exc:
        raise forms.ValidationError(f"Line {number}: {exc.messages[0]}") from None
    return Mount(source, destination, mode == "ro")


def _check_path(path: str, what: str) -> None:
    if not path.startswith("/"):
        raise forms.ValidationError(f"The {what} “{path}” must be absolute (start with /).")
    if ".." in path.split("/"):
        raise forms.ValidationError(f"The {what} “{path}” must not contain “..”.")


def check_allowed(mounts: list[Mount], team, user, kept: tuple[str, ...] = ()) -> None:
    """Named volumes must be the team's; host paths are for admins, but an app may keep a
    bind mount an admin gave it (``kept``: the app's mounts before this change)."""
    for mount in mounts:
        if mount.is_host_path:
            if not user.is_staff and str(mount) not in kept:
                raise forms.ValidationError(f"Mounting the host path {mount.source} is for admins only: "
                                            "use one of the team's named volumes.")
        elif team is not None and not team.volumes.filter(name=mount.source, removing=False).exists():
            raise forms.ValidationError(f"The team {team.name} has no volume “{mount.source}”: create it on "
                                        "its Volumes page first.")
