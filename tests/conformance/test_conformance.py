"""Berth's builder against the image podman (or docker) built from the same case.

Each folder in cases/ is built with Berth on real runc; its image config and the
listing of the paths the case is about must equal expected.json, which
record.py recorded from the oracle (so this test needs neither podman nor docker).
A malformed case must fail with its message on its line.
"""
from __future__ import annotations

import json

import pytest

from runtime.build.builder import BuildOptions, build
from runtime.errors import DockerfileError

from .harness import apply_layers, config_fields, differences, listing, load_cases, prepare_context

CASES = load_cases()


def test_the_suite_covers_enough_cases():
    assert len([c for c in CASES if not c.is_error]) >= 40
    assert len([c for c in CASES if c.is_error]) >= 8
    assert all(c.expected_path.is_file() for c in CASES), "a case without expected.json: run record.py"


def build_case(runtime_config, store, case, context):
    options = BuildOptions(build_args=case.build.get("build_args", {}), target=case.build.get("target"),
                           memory_bytes=256 << 20, no_cache=True)
    return build(runtime_config, store, case.dockerfile, context, options, lambda line: None)


@pytest.mark.parametrize("case", [c for c in CASES if not c.is_error], ids=lambda c: c.name)
def test_berth_builds_what_the_oracle_built(no_leaks, runtime_config, store, tmp_path, case):
    expected = json.loads(case.expected_path.read_text())
    image = build_case(runtime_config, store, case, prepare_context(case, tmp_path / "context"))
    root = tmp_path / "rootfs"
    root.mkdir()
    apply_layers([store.blob_path(layer) for layer in image.layers], root)
    actual = {"config": config_fields(image.config.get("config", {})),
              "files": listing(root, case.build.get("paths", []), case.build.get("mtimes", []))}
    diff = differences(expected, actual)
    assert not diff, f"{case.name} differs from {expected['oracle']}:\n  " + "\n  ".join(diff)


@pytest.mark.parametrize("case", [c for c in CASES if c.is_error], ids=lambda c: c.name)
def test_berth_refuses_what_the_oracle_refused(no_leaks, runtime_config, store, tmp_path, case):
    expected = json.loads(case.expected_path.read_text())
    with pytest.raises(DockerfileError) as caught:
        build_case(runtime_config, store, case, prepare_context(case, tmp_path / "context"))
    assert expected["error"] in caught.value.message, caught.value.message
    assert caught.value.line == expected["line"], caught.value.message
