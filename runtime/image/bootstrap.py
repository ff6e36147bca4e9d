"""Base images made on this host, since no public registry is reachable.

``busybox:latest`` comes from Debian's busybox-static: one static binary and a
symlink per applet. Its files get a fixed mtime so the image digest is the
same on every host that has the same busybox.

``debian:bookworm-slim`` comes from debootstrap's minbase variant, from the
mirror debootstrap itself defaults to, trimmed the way Docker's slim images
are: no documentation, manual pages or package lists, and a dpkg rule that
keeps later installs from bringing documentation back.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ..errors import MissingKernelFeature
from .store import Image, ImageStore

BUSYBOX = Path("/bin/busybox")
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o555, "root": 0o700,
         "sys": 0o555, "tmp": 0o1777, "usr": 0o755, "usr/bin": 0o755, "var": 0o755, "var/www": 0o755}
_PASSWD = "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/false\n" \
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n"


def busybox_rootfs(target: Path, busybox: Path = BUSYBOX) -> None:
    if not busybox.exists():
        raise MissingKernelFeature(f"{busybox} is missing: install Debian's busybox-static")
    for rel, mode in _DIRS.items():
        (target / rel).mkdir(parents=True, exist_ok=True)
        os.chmod(target / rel, mode)
    shutil.copy2(busybox, target / "bin" / "busybox")
    applets = subprocess.run([str(busybox), "--list"], check=True, capture_output=True, text=True)
    for applet in applets.stdout.split():
        link = target / "bin" / applet
        if applet != "busybox" and not link.exists():
            link.symlink_to("busybox")
    (target / "usr" / "bin" / "env").symlink_to("/bin/busybox")
    (target / "etc" / "passwd").write_text(_PASSWD)
    (target / "etc" / "group").write_text(_GROUP)
    mtime = int(busybox.stat().st_mtime)
    for path in sorted(target.rglob("*"), reverse=True) + [target]:
        os.utime(path, (mtime, mtime), follow_symlinks=False)


def _base_image(store: ImageStore, name: str, make_rootfs, cmd: list[str], created_by: str) -> Image:
    work = store.new_work_dir("bootstrap")
    rootfs = work / "rootfs"
    rootfs.mkdir()
    try:
        make_rootfs(rootfs)
        digest, _ = store.commit_layer(rootfs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Env": [DEFAULT_PATH], "Cmd": cmd},
        "history": [{"created_by": created_by}],
    }
    return store.write_image(config, [digest], name)


def bootstrap_busybox(store: ImageStore, name: str = "busybox:latest") -> Image:
    return _base_image(store, name, busybox_rootfs, ["sh"], "berth bootstrap busybox (Debian busybox-static)")


DEBIAN_SUITE = "bookworm"
DEBOOTSTRAP_TIMEOUT = 1800
# What Docker's slim Debian images leave out, and keep out of later installs.
_SLIM_DPKG = """# Berth's slim image: no documentation (as in Docker's debian:*-slim)
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
"""
_SLIM_REMOVE = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/lib/apt/lists",
                "var/cache/apt")


def debian_rootfs(target: Path, suite: str = DEBIAN_SUITE) -> None:
    if shutil.which("debootstrap") is None:
        raise MissingKernelFeature("debootstrap is missing: install Debian's debootstrap")
    try:
        done = subprocess.run(["debootstrap", "--variant=minbase", suite, str(target)],
                              capture_output=True, text=True, timeout=DEBOOTSTRAP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise MissingKernelFeature(f"debootstrap {suite} took longer than {DEBOOTSTRAP_TIMEOUT} s") from None
    if done.returncode != 0:
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        raise MissingKernelFeature(f"debootstrap {suite} failed (is the Debian mirror reachable?): {last[0]}",
                                   detail=done.stdout[-4000:] + done.stderr[-4000:])
    _slim(target)


def _slim(root: Path) -> None:
    for rel in _SLIM_REMOVE:
        path = root / rel
        if path.is_dir():
            for child in path.iterdir():
                if child.name == "copyright" or (rel == "usr/share/locale" and child.name == "locale.alias"):
                    continue
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
    (root / "etc/dpkg/dpkg.cfg.d/berth-slim").write_text(_SLIM_DPKG)
    for rel in ("etc/resolv.conf", "etc/hostname"):  # the runtime writes these per container
        (root / rel).write_text("")


def bootstrap_debian(store: ImageStore, name: str = f"debian:{DEBIAN_SUITE}-slim") -> Image:
    return _base_image(store, name, debian_rootfs, ["bash"], f"berth bootstrap debian (debootstrap --variant=minbase "
                                                             f"{DEBIAN_SUITE}, slimmed)")
