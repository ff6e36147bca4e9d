"""Cancelling a build: the running step is killed at once and nothing it half made stays."""
from __future__ import annotations

import threading
import time

import pytest

from runtime.build.builder import BuildOptions, build
from runtime.errors import Cancelled


def test_a_cancelled_build_stops_its_running_step_and_leaves_no_image(no_leaks, runtime_config, store, tmp_path):
    cancel = threading.Event()
    lines: list[str] = []
    text = 'FROM busybox\nRUN echo "step started"; sleep 60; echo "never printed"\nCMD ["true"]\n'
    options = BuildOptions(tag="cancelled-build:1", memory_bytes=64 << 20, no_cache=True, cancel=cancel)
    layers_before = set(store.layers_root.iterdir())

    def cancel_once_running():
        deadline = time.monotonic() + 20
        while "step started" not in lines and time.monotonic() < deadline:
            time.sleep(0.05)
        cancel.set()
    threading.Thread(target=cancel_once_running, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(Cancelled, match="cancelled; the running step was stopped"):
        build(runtime_config, store, text, tmp_path, options, lines.append)
    assert time.monotonic() - started < 10  # not the 60 s the step would take
    assert "never printed" not in lines
    assert not [i for i in store.images() if i.name == "cancelled-build:1"]
    assert set(store.layers_root.iterdir()) == layers_before  # no half-made layer


def test_a_build_cancelled_before_it_starts_runs_nothing(runtime_config, store, tmp_path):
    cancel = threading.Event()
    cancel.set()
    lines: list[str] = []
    with pytest.raises(Cancelled):
        build(runtime_config, store, 'FROM busybox\nRUN echo "ran"\n', tmp_path,
              BuildOptions(memory_bytes=64 << 20, cancel=cancel), lines.append)
    assert "ran" not in lines
