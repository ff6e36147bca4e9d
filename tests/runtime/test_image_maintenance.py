"""Tag, remove and prune: the store keeps what images and containers need, and nothing else."""
from __future__ import annotations

import dataclasses

import pytest

from runtime.build.builder import BuildOptions, build
from runtime.container.manager import Containers, RunRequest
from runtime.errors import InvalidSpec, InvalidState, NotFound
from runtime.image import prune as pruning
from runtime.image.bootstrap import bootstrap_busybox
from runtime.image.store import ImageStore

MB = 1024 * 1024


@pytest.fixture
def own(runtime_config, tmp_path, no_leaks):
    """A store and a container manager of the test's own, so pruning touches no other test's images."""
    config = dataclasses.replace(runtime_config, state_dir=tmp_path / "state")
    store = ImageStore(config)
    bootstrap_busybox(store)
    manager = Containers(config, store)
    yield config, store, manager
    for info in manager.list():
        manager.remove(info.id, force=True)


def _build(config, store, text, tag=None):
    context = config.state_dir.parent / "context"
    context.mkdir(exist_ok=True)
    return build(config, store, text, context, BuildOptions(tag=tag, memory_bytes=64 * MB), lambda _: None)


def test_a_tag_names_the_same_image_and_a_bad_name_is_refused(own):
    _, store, _ = own
    image = store.tag("busybox", "tools/busybox:v1")
    assert image.id == store.resolve("busybox").id
    with pytest.raises(InvalidSpec, match="'Tools/Bad Name' is not a valid image name"):
        store.tag("busybox", "Tools/Bad Name")
    with pytest.raises(NotFound):
        store.tag("no-such-image", "x:1")


def test_an_image_in_use_is_kept_until_forced_and_its_files_until_its_container_goes(own):
    config, store, manager = own
    image = _build(config, store, "FROM busybox\nRUN echo kept > /kept\n", tag="inuse:1")
    info = manager.run(RunRequest(image="inuse:1", memory_bytes=32 * MB, network="none", command=("true",)))
    with pytest.raises(InvalidState, match=f"image inuse:1 is used by container\\(s\\) {info.record.name}"):
        pruning.remove_image(store, "inuse:1", manager.image_users())
    pruning.remove_image(store, "inuse:1", manager.image_users(), force=True)
    with pytest.raises(NotFound):
        store.resolve("inuse:1")

    pruning.prune(store, set(manager.image_users()), grace_seconds=0)
    assert all(store.layer_dir(layer).is_dir() for layer in image.layers)  # the container still needs them
    manager.remove(info.id, force=True)
    report = pruning.prune(store, set(manager.image_users()), grace_seconds=0)
    assert not store.layer_dir(image.layers[-1]).exists() and report.layers == 1
    assert store.layer_dir(image.layers[0]).is_dir()  # busybox's layer: busybox still needs it


def test_prune_removes_dangling_images_but_not_young_files_or_named_images(own):
    config, store, manager = own
    dangling = _build(config, store, "FROM busybox\nRUN echo dangling > /d\n")
    assert dangling.name is None
    young = pruning.prune(store, set(), grace_seconds=3600)
    assert young.images == [dangling.short_id]  # untagged and unused: gone from the index...
    assert store.layer_dir(dangling.layers[-1]).is_dir()  # ...but its files are young: a build may need them
    old = pruning.prune(store, set(), grace_seconds=0)
    assert old.layers == 1 and old.bytes_freed > 0
    assert not store.blob_path(dangling.layers[-1]).exists()
    assert store.resolve("busybox").layers  # the named base stays whole
    assert all(store.layer_dir(layer).is_dir() for layer in store.resolve("busybox").layers)


def test_a_rebuild_under_the_same_name_keeps_the_old_image_for_its_containers(own):
    """As Docker's: the name moves to the new image, the old one stays untagged, a container
    made from it starts again, and prune removes it only once no container uses it."""
    config, store, manager = own
    old = _build(config, store, 'FROM busybox\nRUN echo one > /v\nCMD ["cat", "/v"]\n', tag="app:latest")
    manager.run(RunRequest(id="c" * 32, image=old.id, memory_bytes=16 * MB, network="none"))
    new = _build(config, store, 'FROM busybox\nRUN echo two > /v\nCMD ["cat", "/v"]\n', tag="app:latest")
    assert store.resolve("app:latest").id == new.id
    kept = store.resolve(old.id)
    assert kept.name is None and [i.id for i in store.images()].count(old.id) == 1
    manager.wait("c" * 32)
    manager.start("c" * 32)  # the same container again, from the untagged image
    assert pruning.prune(store, set(manager.image_users()), grace_seconds=0).images == []
    manager.remove("c" * 32, force=True)
    assert pruning.prune(store, set(manager.image_users()), grace_seconds=0).images == [old.short_id]
    with pytest.raises(NotFound):
        store.resolve(old.id)
