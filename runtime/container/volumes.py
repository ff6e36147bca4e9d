"""Named volumes: directories under the state dir, bind-mounted into containers.

A volume outlives the containers that use it, and is made on first use by name,
as Docker's are. A mount's source is a volume name, or an absolute host path (a
bind mount of the host's own files; the web allows that to admins only).
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..config import RuntimeConfig
from ..errors import InvalidSpec, InvalidState, NotFound
from .spec import BindFile

# Docker's volume names: no "/", so never a path, and no leading "." (so no "..").
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class VolumeMount:
    source: str  # a volume name, or an absolute host path
    destination: str
    readonly: bool = False

    @property
    def is_host_path(self) -> bool:
        return self.source.startswith("/")


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise InvalidSpec(f"volume name {name!r} must be letters, digits and . _ - (no / or ..), "
                          "starting with a letter or digit")


def parse(text: str) -> VolumeMount:
    """``NAME:/path[:ro|rw]`` or ``/host/path:/path[:ro|rw]``, as `docker run -v` takes them."""
    parts = text.split(":")
    mode = parts.pop() if len(parts) == 3 else "rw"
    if len(parts) != 2 or mode not in ("ro", "rw"):
        raise InvalidSpec(f"volume {text!r} is not NAME:/PATH[:ro] or /HOST/PATH:/PATH[:ro]")
    mount = VolumeMount(parts[0], parts[1], mode == "ro")
    check(mount)
    return mount


def check(mount: VolumeMount) -> None:
    if not mount.is_host_path:
        check_name(mount.source)
    elif ".." in Path(mount.source).parts:
        raise InvalidSpec(f"host path {mount.source!r} must not contain ..")
    if not mount.destination.startswith("/") or ".." in Path(mount.destination).parts \
            or mount.destination.rstrip("/") == "":
        raise InvalidSpec(f"volume destination {mount.destination!r} must be an absolute path other than /, "
                          "without ..")


class Volumes:
    def __init__(self, config: RuntimeConfig):
        self.root = config.state_dir / "volumes"

    def path(self, name: str) -> Path:
        check_name(name)
        return self.root / name / "_data"

    def create(self, name: str) -> Path:
        path = self.path(name)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir()) if self.root.exists() else []

    def remove(self, name: str, users: list[str]) -> None:
        """Remove the volume and its files; refused while ``users`` (containers) hold it."""
        path = self.path(name)
        if not path.exists():
            raise NotFound(f"no volume {name!r}")
        if users:
            raise InvalidState(f"volume {name} is in use by container(s) {', '.join(u[:12] for u in users)}: "
                               "remove them first")
        shutil.rmtree(path.parent)

    def binds(self, mounts: tuple[VolumeMount, ...], root_uid: int | None = None) -> tuple[BindFile, ...]:
        """The spec's bind mounts; named volumes are made on first use. ``root_uid``: the host uid
        of the container's root (in a user namespace), given a named volume still host root's,
        as Docker's userns-remap gives its volumes to the remapped root. Host paths keep their owners."""
        binds = []
        for mount in mounts:
            if mount.is_host_path:
                if not Path(mount.source).exists():
                    raise InvalidSpec(f"host path {mount.source} does not exist")
                source = mount.source
            else:
                source = str(self.create(mount.source))
                if root_uid is not None and os.stat(source).st_uid == 0:
                    os.chown(source, root_uid, root_uid)
            binds.append(BindFile(source, mount.destination, readonly=mount.readonly))
        return tuple(binds)
