"""Test hosts on one machine: each host agent in a network namespace of its own (its own
interfaces, bridges, nftables and ports), reaching the control's Redis and the shared
registry over a test bridge, as separate machines reach them over a LAN.

Each test host also gets a mount namespace of its own, made once and kept in a file, so its
sysfs shows its own network devices (the runtime reads /sys/class/net). That namespace is a
slave of the machine's: it sees every mount made outside, and what its agent mounts (overlay
roots, container netns) stays inside it, where the host's clean-up (run inside it) removes it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..processes import ROOT, start, stop

NETNS_DIR = Path("/run/netns")


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True)


def _open_path(path: Path) -> None:
    """pytest makes its directories 0700; root mapped by a user namespace must reach below them."""
    for part in (path, *path.parents):
        if part == Path(tempfile.gettempdir()) or part == Path("/"):
            break
        part.chmod(part.stat().st_mode | 0o011)


@dataclass
class Lan:
    """The test bridge in the machine's own namespace: 10.203.N.1/24, the hosts .11, .12, ..."""
    run_id: str
    prefix: str = field(init=False)

    def __post_init__(self):
        self.prefix = f"10.203.{int(self.run_id[:2], 16)}"
        self.bridge = f"bl{self.run_id}"

    @property
    def address(self) -> str:
        return f"{self.prefix}.1"

    def up(self) -> None:
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{self.address}/24", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")

    def down(self) -> None:
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)


class TestHost:
    """One host: its network and mount namespaces, its own state, and its agent."""

    def __init__(self, lan: Lan, index: int, tmp: Path, env: dict):
        self.lan, self.index = lan, index
        self.name = f"host-{'abcdefgh'[index]}"
        tag = f"{lan.run_id}{index}"
        self.netns, self.veth = f"bh{tag}", f"bv{tag}"
        self.dir = tmp / self.name
        self.mount_ns = self.dir / "mnt"  # a bind mount of the mount namespace keeps it
        self.address = f"{lan.prefix}.{11 + index}"
        self.logs = self.dir / "logs"
        self.env = {**env,
                    "BERTH_HOST_NAME": self.name,
                    "BERTH_STATE_DIR": str(self.dir / "state"), "BERTH_RUN_DIR": str(self.dir / "run"),
                    "BERTH_BRIDGE": f"bc{tag}", "BERTH_SUBNET": f"10.{210 + index}.0.0/16",
                    "BERTH_NFT_TABLE": "berth_fleet", "BERTH_CGROUP_PARENT": f"/berth-fleet-{tag}",
                    "BERTH_NETNS_PREFIX": f"bf{tag}"}
        self.agent: subprocess.Popen | None = None

    def inside(self, *args: str) -> list[str]:
        return ["nsenter", f"--net={NETNS_DIR / self.netns}", f"--mount={self.mount_ns}", "--", *args]

    def up(self) -> None:
        self.logs.mkdir(parents=True)
        _open_path(self.dir)
        _run("ip", "netns", "add", self.netns)
        _run("ip", "link", "add", self.veth, "type", "veth", "peer", "name", "eth0", "netns", self.netns)
        _run("ip", "link", "set", self.veth, "master", self.lan.bridge, "up")
        for command in (["ip", "addr", "add", f"{self.address}/24", "dev", "eth0"], ["ip", "link", "set", "eth0", "up"],
                        ["ip", "link", "set", "lo", "up"], ["ip", "route", "add", "default", "via", self.lan.address]):
            _run("ip", "netns", "exec", self.netns, *command)
        # A mount point of its own for the namespace file: unshare refuses one under a shared mount.
        _run("mount", "--bind", str(self.dir), str(self.dir))
        _run("mount", "--make-private", str(self.dir))
        self.mount_ns.touch()
        _run("unshare", f"--mount={self.mount_ns}", "--propagation", "slave", "true")
        keep = self.dir / "cgroup"
        keep.mkdir()
        _run(*self.inside("sh", "-c", f"mount --rbind /sys/fs/cgroup {keep} && mount -t sysfs sysfs /sys"
                                      f" && mount --move {keep} /sys/fs/cgroup"))
        # No base image made here: the agent makes busybox:latest when it starts, as on a new host.

    def python(self, code: str) -> str:
        """Run Python inside the host, with its agent's settings; its standard output."""
        done = subprocess.run(self.inside(sys.executable, "-c", code), cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{self.name}: {done.stderr[-3000:]}"
        return done.stdout

    def start_agent(self) -> None:
        self.agent = start("agent", self.inside(sys.executable, "-m", "workers.agent"), self.env, self.logs)

    def kill_agent(self) -> None:
        """SIGKILL, as a crash would: its containers run on under their monitors."""
        os.killpg(self.agent.pid, 9)
        self.agent.wait(10)

    def runtime(self, *args: str) -> str:
        """``python -m runtime`` inside the host, on its agent's state."""
        env = self.env
        done = subprocess.run(self.inside(sys.executable, "-m", "runtime", "--state-dir", env["BERTH_STATE_DIR"],
                                          "--run-dir", env["BERTH_RUN_DIR"], *args),
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def down(self) -> dict:
        """Stop the agent, remove everything its containers made, and take the namespaces
        away; returns what the host's leak check still found (empty when clean)."""
        if self.agent is not None:
            stop(self.agent)
        left = {}
        if self.mount_ns.exists() and (NETNS_DIR / self.netns).exists():
            try:
                left = json.loads(self.python(_CLEAN_UP))
            except (AssertionError, subprocess.TimeoutExpired) as exc:
                left = {"clean-up failed": str(exc)}
        subprocess.run(["umount", str(self.mount_ns)], capture_output=True)
        subprocess.run(["umount", str(self.dir)], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        return left


_CLEAN_UP = """
import json
from runtime.cgroups import paths as cgroups
from runtime.container.manager import Containers
from runtime.image.store import ImageStore
from runtime.network import provider
from tests import leaks
from workers.agent.settings import runtime_config

config = runtime_config()
manager = Containers(config, ImageStore(config))
for info in manager.list():
    manager.remove(info.id, force=True)
provider.remove_host(config)
cgroups.remove(config.cgroup_parent, cgroups.detect_version())
print(json.dumps({kind: sorted(map(str, found)) for kind, found in leaks.snapshot(config).items() if found}))
"""
