"""Re-record the conformance expectations from podman build (or docker build, per case).

    .venv/bin/python -m tests.conformance.record [case ...]

Needs root, podman, and for the cases whose build.json says ``"oracle": "docker"``
a running dockerd (``/work/shared/tools/peers.sh start``; classic builder).
Berth's own busybox image (``python -m runtime save``) is loaded into a podman
storage of the script's own and into docker, so every oracle builds on exactly
the base Berth builds on.

A case's ``oracle`` is docker where Buildah departs from Docker's documented
behaviour (ARCHITECTURE.md, "Facts"); its ``why`` says which departure.
Where neither oracle has what Docker documents, build.json's ``oracle_dockerfile``
names a twin Dockerfile that writes the documented result out literally.
A malformed case's expected.json keeps Berth's expected message and line from
build.json and the oracle's own message, after checking that the oracle refuses it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from .harness import Case, apply_layers, config_fields, listing, load_cases, prepare_context

REPO = Path(__file__).resolve().parents[2]
BASE = "busybox:latest"
# Buildah's RUN containers get these bind-mount targets, left in the layer as empty
# files (and /run as an empty dir for its secrets mount); Docker and Berth leave none.
BUILDAH_MOUNT_TARGETS = ("etc/hosts", "etc/hostname", "etc/resolv.conf", "run")
BUILDAH_LABEL = "io.buildah.version"  # Buildah stamps its version into every image it builds
# The host's proxy variables would reach RUN through podman's environment: build with none.
CLEAN_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/root"}


class Oracle:
    name = ""

    def __init__(self, scratch: Path):
        self.scratch = scratch

    def build(self, case: Case, context: Path, tag: str) -> subprocess.CompletedProcess:
        build = case.build
        # A hand-corrected case names a twin Dockerfile spelling out what Docker documents.
        dockerfile = case.folder / build.get("oracle_dockerfile", "Dockerfile")
        args = [*self.build_command(), "-f", str(dockerfile), "-t", tag]
        for key, value in build.get("build_args", {}).items():
            args += ["--build-arg", f"{key}={value}"]
        if build.get("target"):
            args += ["--target", build["target"]]
        return subprocess.run([*args, str(context)], capture_output=True, text=True, env=self.env())

    def save(self, tag: str, out: Path) -> None:
        subprocess.run([*self.save_command(), "-o", str(out), tag], check=True, capture_output=True,
                       env=self.env())

    def env(self) -> dict:
        return CLEAN_ENV

    def normalise(self, config: dict, root: Path) -> None:
        """Undo what this oracle adds that Docker's documented behaviour does not."""


class Podman(Oracle):
    name = "podman"

    def __init__(self, scratch: Path):
        super().__init__(scratch)
        # podman wants its run root under 50 characters: scratch is a short /tmp dir.
        self.base = ["podman", "--root", str(scratch / "root"), "--runroot", str(scratch / "run"),
                     "--storage-driver", "overlay"]

    def load(self, archive: Path) -> None:
        subprocess.run([*self.base, "load", "-i", str(archive)], check=True, capture_output=True)

    def build_command(self) -> list[str]:
        # --format docker: the OCI format drops HEALTHCHECK, ONBUILD and SHELL.
        return [*self.base, "build", "--pull-never", "--format", "docker", "--no-cache",
                "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]

    def save_command(self) -> list[str]:
        return [*self.base, "save", "--format", "docker-archive"]

    def remove(self, tag: str) -> None:
        subprocess.run([*self.base, "rmi", "-f", tag], capture_output=True)

    def close(self) -> None:
        subprocess.run([*self.base, "rmi", "-a", "-f"], capture_output=True)
        subprocess.run([*self.base, "system", "reset", "-f"], capture_output=True)

    def normalise(self, config: dict, root: Path) -> None:
        (config.get("Labels") or {}).pop(BUILDAH_LABEL, None)
        for rel in BUILDAH_MOUNT_TARGETS:
            path = root / rel
            if path.is_file() and path.stat().st_size == 0:
                path.unlink()
            elif path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
                path.rmdir()


class Docker(Oracle):
    name = "docker"

    def load(self, archive: Path) -> None:
        subprocess.run(["docker", "load", "-i", str(archive)], check=True, capture_output=True)

    def env(self) -> dict:
        return {**CLEAN_ENV, "DOCKER_BUILDKIT": "0"}  # the classic builder, as in bench/

    def build_command(self) -> list[str]:
        return ["docker", "build", "--no-cache", "--rm", "--force-rm"]

    def save_command(self) -> list[str]:
        return ["docker", "save"]

    def remove(self, tag: str) -> None:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)

    def close(self) -> None:
        """The loaded busybox stays: other users of this dockerd may build on it."""


def save_base(scratch: Path, fmt: str) -> Path:
    out = scratch / f"base-{fmt}.tar"
    subprocess.run([sys.executable, "-m", "runtime", "save", "--format", fmt, "-o", str(out), BASE],
                   check=True, cwd=REPO, capture_output=True)
    return out


def record_image(oracle: Oracle, case: Case, tag: str, scratch: Path) -> dict:
    archive, unpacked, root = scratch / "image.tar", scratch / "image", scratch / "rootfs"
    oracle.save(tag, archive)
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    manifest = json.loads((unpacked / "manifest.json").read_text())[0]
    config = json.loads((unpacked / manifest["Config"]).read_text()).get("config") or {}
    root.mkdir()
    apply_layers([unpacked / layer for layer in manifest["Layers"]], root)
    oracle.normalise(config, root)
    build = case.build
    return {"config": config_fields(config),
            "files": listing(root, build.get("paths", []), build.get("mtimes", []))}


def last_error_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if "rror" in line]
    return (errors or lines or [""])[-1].strip()


def record_case(oracle: Oracle, case: Case) -> str:
    scratch = Path(tempfile.mkdtemp(prefix="case-", dir=oracle.scratch))
    tag = f"localhost/berth-conformance-{case.name}:latest"
    try:
        context = prepare_context(case, scratch / "context")
        result = oracle.build(case, context, tag)
        build = case.build
        if case.is_error:
            if result.returncode == 0:
                return f"FAILED: {oracle.name} built it, but the case says it is malformed"
            expected = {"error": build["error"], "line": build["line"], "oracle": oracle.name,
                        "oracle_message": last_error_line(result)}
        else:
            if result.returncode != 0:
                return f"FAILED: {oracle.name} build failed: {last_error_line(result)}"
            expected = {"oracle": oracle.name, **record_image(oracle, case, tag, scratch)}
        if build.get("why"):
            expected["why"] = build["why"]
        case.expected_path.write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
        return "recorded"
    finally:
        oracle.remove(tag)
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    args = parser.parse_args(argv)
    cases = [c for c in load_cases() if not args.cases or c.name in args.cases]
    scratch = Path(tempfile.mkdtemp(prefix="bc", dir="/tmp"))
    oracles: dict[str, Oracle] = {}
    failed = 0
    try:
        for case in cases:
            kind = case.build.get("oracle", "podman")
            if kind not in oracles:
                oracles[kind] = (Podman if kind == "podman" else Docker)(scratch)
                oracles[kind].load(save_base(scratch, "oci" if kind == "podman" else "docker"))
            outcome = record_case(oracles[kind], case)
            failed += outcome != "recorded"
            print(f"{case.name:45} {kind:7} {outcome}", flush=True)
    finally:
        for oracle in oracles.values():
            oracle.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
