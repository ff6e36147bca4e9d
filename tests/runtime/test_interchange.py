"""Images move between Berth and Podman as OCI and `docker save` archives, and run on both sides."""
from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from runtime.build.builder import BuildOptions, build
from runtime.errors import InvalidSpec, NotFound, RegistryError
from runtime.image import transfer

from .test_registry import _run_output

MB = 1024 * 1024


@pytest.fixture
def podman(tmp_path):
    """Podman with a storage of its own (so the machine's images are never touched), reset after."""
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: `make test` installs it")
    root = Path(tempfile.mkdtemp(prefix="berth-podman-"))  # podman wants a short run root
    base = ["podman", "--root", str(root / "storage"), "--runroot", str(root / "run"), "--runtime", "runc",
            "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "none"]

    def run(*args: str) -> str:
        done = subprocess.run(base + list(args), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout
    yield run
    subprocess.run(base + ["system", "reset", "--force"], capture_output=True, timeout=120)
    shutil.rmtree(root, ignore_errors=True)


# Here rlimits cannot be raised past the hard limit, which podman's defaults would try.
ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")


def _berth_image(store, runtime_config, tmp_path, tag):
    context = tmp_path / "context"
    context.mkdir()
    (context / "page.txt").write_text("copied from the context\n")
    text = ('FROM busybox\nRUN mkdir -p /srv && echo "written by RUN" > /srv/run.txt && rm -rf /tmp\n'
            'COPY page.txt /srv/\nENV GREETING=hello\nCMD ["sh", "-c", "cat /srv/run.txt /srv/page.txt; echo $GREETING"]\n')
    return build(runtime_config, store, text, context, BuildOptions(tag=tag, memory_bytes=128 * MB), lambda _: None)


@pytest.mark.parametrize("fmt", ["oci", "docker"])
def test_a_berth_image_saved_as_an_archive_runs_in_podman(fmt, podman, store, runtime_config, tmp_path):
    image = _berth_image(store, runtime_config, tmp_path, f"to-podman-{fmt}:1")
    archive = tmp_path / "image.tar"
    transfer.export_archive(store, image.name, archive, fmt)
    loaded = podman("load", "-i", str(archive)).strip().rsplit(" ", 1)[-1]  # "Loaded image: NAME"
    assert loaded.endswith(f"/to-podman-{fmt}:1")  # the archive carries the name
    out = podman("run", "--rm", *ULIMITS, "--network", "none", loaded)
    assert out.splitlines() == ["written by RUN", "copied from the context", "hello"]
    # Podman sees the same image: the same config, so the same image ID.
    assert podman("image", "inspect", "--format", "{{.Id}}", loaded).strip() == image.id.removeprefix("sha256:")


def test_an_image_built_by_podman_runs_in_berth_with_its_id_and_files(podman, store, runtime_config, tmp_path):
    base = tmp_path / "busybox.tar"
    transfer.export_archive(store, "busybox", base, "oci")
    podman("load", "-i", str(base))
    context = tmp_path / "podman-context"
    context.mkdir()
    (context / "Dockerfile").write_text(
        'FROM localhost/busybox:latest\nRUN echo "built by podman" > /made && ln -s /made /made-link && rm /bin/vi\n'
        'CMD ["sh", "-c", "cat /made-link; [ -e /bin/vi ] && echo vi-still-there || echo vi-deleted"]\n')
    podman("build", "--format", "docker", *ULIMITS, "--network", "none", "-t", "localhost/made-by-podman:1",
           str(context))
    archive = tmp_path / "from-podman.tar"
    podman("save", "--format", "docker-archive", "-o", str(archive), "localhost/made-by-podman:1")

    image = transfer.import_archive(store, archive, "docker")
    assert image.name == "localhost/made-by-podman:1"  # the name the archive carries
    assert image.id.removeprefix("sha256:") == podman("image", "inspect", "--format", "{{.Id}}",
                                                      "localhost/made-by-podman:1").strip()
    lines = _run_output(runtime_config, store, image.name).splitlines()
    assert lines == ["built by podman", "vi-deleted"]  # a file of the base layer deleted: a whiteout


def test_a_named_import_and_a_missing_or_broken_archive(store, tmp_path):
    with pytest.raises(NotFound, match="does not exist"):
        transfer.import_archive(store, tmp_path / "nothing.tar", "docker")
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"this is not an archive at all")
    with pytest.raises(RegistryError, match=f"{garbage}"):
        transfer.import_archive(store, garbage, "docker")
    with pytest.raises(InvalidSpec, match="'zip' is not one of"):
        transfer.import_archive(store, garbage, "zip")


def test_a_layer_that_does_not_match_its_diff_id_is_refused(store, runtime_config, tmp_path):
    archive = tmp_path / "good.tar"
    transfer.export_archive(store, "busybox", archive, "docker")
    # Swap the layer for another tar: the config's diff ID no longer matches it.
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(archive) as src, tarfile.open(tampered, "w") as dst:
        manifest = json.load(src.extractfile("manifest.json"))
        layer_name = manifest[0]["Layers"][0]
        for member in src.getmembers():
            data = src.extractfile(member) if member.isfile() else None
            if member.name == layer_name:
                evil = tmp_path / "evil-layer.tar"
                with tarfile.open(evil, "w") as layer:
                    (tmp_path / "evil").write_text("not busybox")
                    layer.add(tmp_path / "evil", arcname="bin/sh")
                member.size = evil.stat().st_size
                data = open(evil, "rb")
            dst.addfile(member, data)
    before = {image.id for image in store.images()}
    with pytest.raises((InvalidSpec, RegistryError), match="(?i)digest did not match|diff ID"):
        transfer.import_archive(store, tampered, "docker", "tampered:1")
    assert {image.id for image in store.images()} == before  # nothing half-imported


@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_a_saved_image_loads_back_under_its_own_short_name_whatever_the_format(fmt, store, runtime_config,
                                                                               tmp_path):
    image = _berth_image(store, runtime_config, tmp_path, f"roundtrip-{fmt}:1")
    archive = tmp_path / "roundtrip.tar"
    transfer.export_archive(store, image.name, archive, fmt)
    assert transfer.read_archive(archive)[0] == fmt
    store.remove(image.name)
    loaded = transfer.import_archive(store, archive)  # the format told by the archive itself
    assert loaded.name == f"roundtrip-{fmt}:1" and loaded.id == image.id  # not docker.io/library/...
    assert store.resolve(f"roundtrip-{fmt}:1").id == image.id


def test_an_archive_that_is_no_image_is_named_as_such(store, tmp_path):
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"this is not an archive at all")
    with pytest.raises(InvalidSpec, match="is not a tar archive of an image"):
        transfer.import_archive(store, garbage)
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tar:
        (tmp_path / "notes.txt").write_text("hello")
        tar.add(tmp_path / "notes.txt", arcname="notes.txt")
    with pytest.raises(InvalidSpec, match="neither a docker save archive .* nor an OCI archive"):
        transfer.import_archive(store, plain)
