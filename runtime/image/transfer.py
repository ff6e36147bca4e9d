"""Images in and out of the store: archives (OCI and ``docker save``) and registries.

The store is an OCI image layout, so skopeo reads it directly for export and
push. Coming in, skopeo writes the image, decompressed, to a ``dir:`` of the
store's tmp; Berth then checks each layer against its diff ID, unpacks it into
the overlay form and indexes the image under the config's own bytes, so the
image keeps the ID it had in Docker or Podman.
"""
from __future__ import annotations

import gzip
import json
import shutil
import tarfile
from pathlib import Path

from ..errors import InvalidSpec, NotFound, RegistryError
from . import digest as digests
from . import skopeo
from .registry import Registry, candidates, for_name
from .store import REF_ANNOTATION, Image, ImageStore, normalize_ref

FORMATS = {"oci": "oci-archive", "docker": "docker-archive"}  # and "auto" for loading: told by the content
_GZIP_MAGIC = b"\x1f\x8b"


def _transport(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InvalidSpec(f"archive format {fmt!r} is not one of: {', '.join(FORMATS)}")
    return FORMATS[fmt]


def _store_source(store: ImageStore, ref: str) -> tuple[Image, str]:
    image = store.resolve(ref)
    if image.name is None:
        raise InvalidSpec(f"image {ref!r} has no name to export it by: tag it first")
    return image, f"oci:{store.root}:{image.name}"


def export_archive(store: ImageStore, ref: str, path: Path, fmt: str = "oci") -> Image:
    """Write ``ref`` to ``path`` as an OCI archive or a ``docker save`` archive."""
    transport = _transport(fmt)
    image, source = _store_source(store, ref)
    skopeo.copy(source, f"{transport}:{path}:{image.name}", image=image.name)
    return image


def import_archive(store: ImageStore, path: Path, fmt: str = "auto", name: str | None = None) -> Image:
    """Load an archive made by ``docker save``, ``podman save`` or an OCI tool (``fmt`` "auto":
    told apart by what it holds); it keeps the name the archive carries unless ``name`` is given."""
    if not Path(path).is_file():
        raise NotFound(f"archive {path} does not exist")
    fmt = archive_format(Path(path)) if fmt == "auto" else fmt
    transport = _transport(fmt)
    return _bring_in(store, f"{transport}:{path}", str(path), name or archive_name(Path(path), fmt))


def archive_format(path: Path) -> str:
    """"docker" for a ``docker save`` archive (manifest.json), "oci" for an OCI one (oci-layout)."""
    try:
        with tarfile.open(path) as tar:
            names = {name.lstrip("./") for name in tar.getnames()}
    except (tarfile.TarError, OSError) as exc:
        raise InvalidSpec(f"{path} is not a tar archive of an image: {exc}") from None
    if "manifest.json" in names:
        return "docker"
    if "oci-layout" in names and "index.json" in names:
        return "oci"
    raise InvalidSpec(f"{path} is neither a docker save archive (no manifest.json) nor an OCI archive (no oci-layout)")


def familiar(name: str) -> str:
    """Docker's short form of a name: docker.io/library/app:1 is app:1, docker.io/team/app is team/app."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def archive_name(path: Path, fmt: str) -> str | None:
    """The image name an archive carries: ``docker save``'s RepoTags, or an OCI index's
    ref.name when it is a whole name (OCI tools often store just a tag there)."""
    try:
        with tarfile.open(path) as tar:
            member = tar.extractfile("manifest.json" if fmt == "docker" else "index.json")
            data = json.load(member) if member else None
    except (tarfile.TarError, KeyError, OSError, ValueError):
        return None  # skopeo reads it next and says what is wrong with it
    if fmt == "docker":
        tags = data[0].get("RepoTags") if isinstance(data, list) and data and isinstance(data[0], dict) else None
        return familiar(tags[0]) if tags else None
    manifests = data.get("manifests", []) if isinstance(data, dict) else []
    ref = manifests[0].get("annotations", {}).get(REF_ANNOTATION) if manifests else None
    return familiar(ref) if ref and (":" in ref or "/" in ref) else None


def pull(store: ImageStore, ref: str, registries: tuple[Registry, ...]) -> Image:
    """Pull ``ref`` from the registry it names, or else from each configured one in turn."""
    tries = candidates(ref, registries)
    if not tries:
        raise NotFound(f"image {ref!r} is not in the local store, and no registry is configured to pull it from")
    failures = []
    for registry, full_name in tries:
        try:
            return _bring_in(store, f"docker://{full_name}", full_name, normalize_ref(full_name),
                             registry=registry)
        except RegistryError as exc:
            failures.append(exc)
    if len(failures) == 1:
        raise failures[0]
    raise RegistryError(f"image {ref!r} could not be pulled: " + "; ".join(e.message for e in failures))


def push(store: ImageStore, ref: str, destination: str, registries: tuple[Registry, ...]) -> Image:
    """Push ``ref`` to ``destination`` (``host:port/repository:tag``)."""
    registry = for_name(destination, registries)
    image, source = _store_source(store, ref)
    skopeo.copy(source, f"docker://{normalize_ref(destination)}", image=destination,
                destination_registry=registry)
    return image


def _bring_in(store: ImageStore, source: str, label: str, name: str | None,
              registry: Registry | None = None) -> Image:
    work = store.new_work_dir("import")
    try:
        skopeo.copy(source, f"dir:{work / 'image'}", image=label, source_registry=registry, decompress=True)
        return _adopt(store, work / "image", label, name)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _adopt(store: ImageStore, directory: Path, label: str, name: str | None) -> Image:
    manifest = json.loads((directory / "manifest.json").read_text())
    if "config" not in manifest or "layers" not in manifest:
        raise InvalidSpec(f"{label} is an image list or an old schema, not an image manifest")
    config_bytes = (directory / digests.hex_of(manifest["config"]["digest"])).read_bytes()
    config = json.loads(config_bytes)
    diff_ids = config.get("rootfs", {}).get("diff_ids", [])
    if len(diff_ids) != len(manifest["layers"]):
        raise InvalidSpec(f"{label}: its config lists {len(diff_ids)} layers, its manifest {len(manifest['layers'])}")
    for number, (layer, diff_id) in enumerate(zip(manifest["layers"], diff_ids), 1):
        _adopt_layer(store, directory / digests.hex_of(layer["digest"]), diff_id, f"{label} layer {number}")
    return store.write_image(config, list(diff_ids), name, config_bytes=config_bytes)


def _adopt_layer(store: ImageStore, blob: Path, diff_id: str, label: str) -> None:
    with open(blob, "rb") as f:
        compressed = f.read(2) == _GZIP_MAGIC
    if compressed:  # skopeo decompresses; this is for a producer that mislabels its layers
        plain = blob.with_suffix(".tar")
        with gzip.open(blob, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        blob = plain
    with open(blob, "rb") as f:
        actual = digests.of_file(f)
    if actual != diff_id:
        raise InvalidSpec(f"{label} does not match its diff ID: {actual} is not {diff_id}")
    store.add_layer(blob, diff_id)
