"""Base images made on this host, since no public registry is reachable.

``busybox:latest`` comes from Debian's busybox-static: one static binary and a
symlink per applet. Its files get a fixed mtime so the image digest is the
same on every host that has the same busybox.
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


def bootstrap_busybox(store: ImageStore, name: str = "busybox:latest") -> Image:
    work = store.new_work_dir("bootstrap")
    rootfs = work / "rootfs"
    rootfs.mkdir()
    try:
        busybox_rootfs(rootfs)
        digest, _ = store.commit_layer(rootfs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Env": [DEFAULT_PATH], "Cmd": ["sh"]},
        "history": [{"created_by": "berth bootstrap busybox (Debian busybox-static)"}],
    }
    return store.write_image(config, [digest], name)
