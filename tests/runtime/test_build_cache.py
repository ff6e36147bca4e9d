"""The build cache: nothing changed runs no step; a changed source reruns from its COPY on."""
from __future__ import annotations

import os
import shutil
import threading

import pytest

from runtime.build.builder import BuildOptions, build

MB = 1024 * 1024
DOCKERFILE = """FROM busybox
ARG FLAVOUR=plain
RUN echo "first run step"; echo one > /one
COPY app/ /app/
RUN echo "second run step for $FLAVOUR"; ls /app > /listing
COPY notes.txt /notes.txt
"""


@pytest.fixture
def context(tmp_path):
    ctx = tmp_path / "context"
    (ctx / "app").mkdir(parents=True)
    (ctx / "app" / "main.sh").write_text("echo main\n")
    (ctx / "notes.txt").write_text("notes\n")
    return ctx


@pytest.fixture
def builder(no_leaks, runtime_config, store):
    def run(context, **options):
        lines: list[str] = []
        image = build(runtime_config, store, DOCKERFILE, context,
                      BuildOptions(memory_bytes=128 * MB, **options), lines.append)
        return image, lines
    return run


def ran(lines) -> list[str]:
    """Which RUN steps ran: their output appears only when they run."""
    return [line for line in lines if line.startswith(("first run step", "second run step"))]


def test_a_rebuild_with_nothing_changed_runs_no_step_and_gives_the_same_layers(builder, context):
    first, lines = builder(context, no_cache=True)
    assert ran(lines) == ["first run step", "second run step for plain"]
    again, lines = builder(context)
    assert ran(lines) == []
    assert lines.count(" ---> Using cache") == 4  # two RUN, two COPY
    assert again.layers == first.layers
    assert again.id == first.id  # the same image, as Docker's cached rebuilds give, not a new copy


def test_a_changed_copy_source_reruns_from_that_step_on(builder, context):
    first, _ = builder(context, no_cache=True)
    (context / "app" / "extra.sh").write_text("echo extra\n")
    again, lines = builder(context)
    assert ran(lines) == ["second run step for plain"]  # the first RUN came from the cache
    assert again.layers[:-3] == first.layers[:-3] and again.layers[-3] != first.layers[-3]
    assert again.id != first.id


def test_a_touched_but_unchanged_source_still_hits_the_cache(builder, context):
    builder(context, no_cache=True)  # the cache as this test needs it, whatever ran before
    os.utime(context / "notes.txt", (1, 1))  # Docker's cache ignores mtimes too
    _, lines = builder(context)
    assert ran(lines) == []


def test_a_changed_build_arg_reruns_the_steps_that_see_it(builder, context):
    builder(context, no_cache=True)  # the cache as this test needs it, whatever ran before
    _, lines = builder(context, build_args={"FLAVOUR": "spicy"})
    assert ran(lines) == ["first run step", "second run step for spicy"]  # RUN sees build args


def test_no_cache_runs_every_step(builder, context):
    builder(context, no_cache=True)  # the cache as this test needs it, whatever ran before
    _, lines = builder(context, no_cache=True)
    assert ran(lines) == ["first run step", "second run step for plain"]
    assert " ---> Using cache" not in lines


def test_a_pruned_layer_is_built_again_not_reused(builder, context, store):
    first, _ = builder(context, no_cache=True)
    shutil.rmtree(store.layer_dir(first.layers[-1]))  # as a prune would
    again, lines = builder(context)
    assert ran(lines) == []  # the RUN layers are still there
    assert store.layer_dir(again.layers[-1]).is_dir()


def test_concurrent_builds_of_one_dockerfile_both_succeed(builder, context, store):
    results, errors = [], []

    def one():
        try:
            results.append(builder(context, tag=f"cache-race-{threading.get_ident()}")[0])
        except Exception as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)
    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for image in results:
        assert store.resolve(image.name).layers == image.layers
        assert all(store.layer_dir(layer).is_dir() for layer in image.layers)
