"""What the recorder (record.py) and the test (test_conformance.py) share.

A case is a folder under ``cases/``: a ``Dockerfile``, a ``context/`` folder,
``build.json`` (build args, target, the paths the case is about, context
preparation git cannot hold, and for a malformed case the expected error) and
``expected.json`` as recorded from podman (or docker, where ``oracle`` says so).

Both sides are compared the same way: the image config's user-facing fields,
and a listing of the final filesystem, made by applying the image's layer tars
in order (whiteouts and opaque markers as the OCI image spec says) into a
scratch directory and walking the case's paths in it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

CASES_DIR = Path(__file__).resolve().parent / "cases"
# Git keeps no mtimes: every context file gets this one before a build, on both sides.
CONTEXT_MTIME = 1_600_000_000
CONFIG_KEYS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels",
               "StopSignal", "Healthcheck", "OnBuild", "Shell")
WHITEOUT, OPAQUE = ".wh.", ".wh..wh..opq"


@dataclass(frozen=True)
class Case:
    name: str
    folder: Path

    @property
    def build(self) -> dict:
        return json.loads((self.folder / "build.json").read_text())

    @property
    def dockerfile(self) -> str:
        return (self.folder / "Dockerfile").read_text()

    @property
    def expected_path(self) -> Path:
        return self.folder / "expected.json"

    @property
    def is_error(self) -> bool:
        return "error" in self.build


def load_cases() -> list[Case]:
    return [Case(p.name, p) for p in sorted(CASES_DIR.iterdir()) if (p / "Dockerfile").is_file()]


# ---------------------------------------------------------------- context

def prepare_context(case: Case, dest: Path) -> Path:
    """The case's context in ``dest``, with what git cannot hold (empty dirs, links,
    modes, owners) made from build.json's ``prepare``, and every mtime fixed."""
    source = case.folder / "context"
    if source.is_dir():
        shutil.copytree(source, dest, symlinks=True)
    else:
        dest.mkdir(parents=True)
    prepare = case.build.get("prepare", {})
    for rel in prepare.get("mkdir", []):
        (dest / rel).mkdir(parents=True, exist_ok=True)
    for rel, target in prepare.get("symlink", {}).items():
        os.symlink(target, dest / rel)
    for rel, existing in prepare.get("hardlink", {}).items():
        os.link(dest / existing, dest / rel)
    for rel, owner in prepare.get("chown", {}).items():
        uid, gid = owner.split(":")
        os.chown(dest / rel, int(uid), int(gid), follow_symlinks=False)
    for rel, mode in prepare.get("chmod", {}).items():  # after chown, which clears setuid bits
        os.chmod(dest / rel, int(mode, 8))
    for path in sorted(dest.rglob("*"), reverse=True) + [dest]:
        os.utime(path, (CONTEXT_MTIME, CONTEXT_MTIME), follow_symlinks=False)
    return dest


# ---------------------------------------------------------------- image config

def config_fields(config: dict) -> dict:
    """The fields a case compares; empty values (null, [], {}, "") count as absent,
    since Buildah writes ``[]`` and ``{}`` where Docker writes null."""
    return {key: config[key] for key in CONFIG_KEYS if config.get(key) not in (None, [], {}, "")}


# ---------------------------------------------------------------- filesystem

def apply_layers(layer_tars: list[Path], root: Path) -> None:
    """Unpack layer tars in order into ``root``, honouring whiteouts and opaque directories."""
    for layer in layer_tars:
        with tarfile.open(layer) as tar:
            members = tar.getmembers()
            kept = []
            for member in members:
                name = os.path.normpath(member.name.lstrip("/"))
                parent, base = os.path.split(name)
                if base == OPAQUE:
                    _clear(root / parent)
                elif base.startswith(WHITEOUT):
                    _remove(root / parent / base[len(WHITEOUT):])
                else:
                    member.name = name
                    kept.append(member)
            for member in kept:
                _make_room(root / member.name, member.isdir())
            tar.extractall(root, members=kept, numeric_owner=True, filter="fully_trusted")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def _clear(directory: Path) -> None:
    if directory.is_dir() and not directory.is_symlink():
        for child in directory.iterdir():
            _remove(child)


def _make_room(path: Path, is_dir: bool) -> None:
    """A lower layer's entry of another type at the same path is replaced, not merged."""
    if os.path.lexists(path) and not (is_dir and path.is_dir() and not path.is_symlink()):
        _remove(path)


def listing(root: Path, paths: list[str], mtimes: list[str] = ()) -> list[dict]:
    """Every entry at or under each of ``paths`` in the filesystem at ``root``."""
    entries: dict[str, dict] = {}
    inodes: dict[int, str] = {}
    for wanted in paths:
        top = root / wanted.lstrip("/")
        if not os.path.lexists(top):
            entries[wanted] = {"path": wanted, "type": "missing"}
            continue
        for path in [top, *_walk(top)]:
            image_path = "/" + str(path.relative_to(root))
            entries.setdefault(image_path, _entry(path, image_path, image_path in mtimes, inodes))
    return [entries[p] for p in sorted(entries)]


def _walk(top: Path) -> list[Path]:
    if top.is_symlink() or not top.is_dir():
        return []
    found = []
    for dirpath, dirnames, filenames in os.walk(top):
        found += [Path(dirpath) / name for name in dirnames + filenames]
    return sorted(found)


def _entry(path: Path, image_path: str, with_mtime: bool, inodes: dict[int, str]) -> dict:
    st = os.lstat(path)
    entry: dict = {"path": image_path, "type": _kind(st.st_mode), "mode": f"{st.st_mode & 0o7777:04o}",
                   "uid": st.st_uid, "gid": st.st_gid}
    if entry["type"] == "file":
        entry["size"] = st.st_size
        entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        if st.st_nlink > 1:
            first = inodes.setdefault(st.st_ino, image_path)
            if first != image_path:
                entry["hardlink_to"] = first
    elif entry["type"] == "symlink":
        entry["target"] = os.readlink(path)
        del entry["mode"]  # a symlink's mode means nothing on Linux
    if with_mtime:
        entry["mtime"] = int(st.st_mtime)
    return entry


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "dir"), (stat.S_ISREG, "file"), (stat.S_ISLNK, "symlink")):
        if test(mode):
            return name
    return "other"


# ---------------------------------------------------------------- comparing

def differences(expected: dict, actual: dict) -> list[str]:
    """Human-readable lines, one per differing config field or listing entry."""
    out = []
    exp_config, act_config = expected["config"], actual["config"]
    for key in sorted(set(exp_config) | set(act_config)):
        if exp_config.get(key) != act_config.get(key):
            out.append(f"config {key}: expected {exp_config.get(key)!r}, got {act_config.get(key)!r}")
    exp_files = {e["path"]: e for e in expected["files"]}
    act_files = {e["path"]: e for e in actual["files"]}
    for path in sorted(set(exp_files) | set(act_files)):
        want, got = exp_files.get(path), act_files.get(path)
        if want is None:
            out.append(f"file {path}: not expected, got {got}")
        elif got is None:
            out.append(f"file {path}: missing, expected {want}")
        elif want != got:
            fields = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
            out.append(f"file {path}: " + ", ".join(f"{k} expected {want.get(k)!r} got {got.get(k)!r}"
                                                     for k in fields))
    return out
