"""Images in and out of the store: archives (OCI and ``docker save``) and registries.

The store is an OCI image layout, so skopeo reads it directly for export and
push. Coming in, skopeo writes the image, decompressed, to a ``dir:`` of the
store's tmp; Berth then checks each layer against its diff ID, unpacks it into
the overlay form and indexes the image under the config's own bytes, so the
image keeps the ID it had in Docker or Podman.
"""
from __future__ import annotations

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
    if fmt == "auto":
        fmt, found_name = read_archive(Path(path))
    else:
        _transport(fmt)  # a bad format is named before the archive is read
        try:
            found_format, found_name = read_archive(Path(path))
        except InvalidSpec:  # skopeo reads it next and says what is wrong with it
            found_format, found_name = None, None
        found_name = found_name if found_format == fmt else None
    return _bring_in(store, f"{_transport(fmt)}:{path}", str(path), name or found_name)


def read_archive(path: Path) -> tuple[str, str | None]:
    """In one pass: the archive's format ("docker": ``docker save``'s manifest.json; "oci":
    an oci-layout) and the image name it carries (RepoTags, or an OCI ref.name that is a
    whole name: OCI tools often store just a tag there), in Docker's short form."""
    try:
        with tarfile.open(path) as tar:
            members = {member.name.lstrip("./"): member for member in tar.getmembers()}
            if "manifest.json" in members:
                return "docker", _repo_tag(_json_member(tar, members["manifest.json"]))
            if "oci-layout" in members and "index.json" in members:
                return "oci", _ref_name(_json_member(tar, members["index.json"]))
    except (tarfile.TarError, OSError) as exc:
        raise InvalidSpec(f"{path} is not a tar archive of an image: {exc}") from None
    raise InvalidSpec(f"{path} is neither a docker save archive (no manifest.json) nor an OCI archive (no oci-layout)")


def _json_member(tar: tarfile.TarFile, member: tarfile.TarInfo):
    try:
        return json.load(tar.extractfile(member))
    except (ValueError, TypeError, AttributeError):
        return None  # skopeo reads it next and says what is wrong with it


def _repo_tag(manifest) -> str | None:
    first = manifest[0] if isinstance(manifest, list) and manifest and isinstance(manifest[0], dict) else {}
    tags = first.get("RepoTags")
    return familiar(tags[0]) if tags else None


def _ref_name(index) -> str | None:
    manifests = index.get("manifests", []) if isinstance(index, dict) else []
    ref = manifests[0].get("annotations", {}).get(REF_ANNOTATION) if manifests else None
    return familiar(ref) if ref and (":" in ref or "/" in ref) else None


def familiar(name: str) -> str:
    """Docker's short form of a name: docker.io/library/app:1 is app:1, docker.io/team/app is team/app."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


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
    with open(blob, "rb") as f:  # skopeo decompressed it: its digest must be the diff ID
        actual = digests.of_file(f)
    if actual != diff_id:
        raise InvalidSpec(f"{label} does not match its diff ID: {actual} is not {diff_id}")
    store.add_layer(blob, diff_id)
