"""Runs last: the whole suite left nothing of its own on this host."""
import pytest

from runtime.cgroups import paths as cgroups
from runtime.network import links, nft, provider

from . import leaks
from .conftest import LEAK_BASELINE


def test_suite_left_nothing_behind():
    if "config" not in LEAK_BASELINE:
        pytest.skip("no runtime test ran (not root)")
    config = LEAK_BASELINE["config"]
    left = leaks.left_behind({k: v for k, v in LEAK_BASELINE.items() if k != "config"}, leaks.snapshot(config))
    assert not left, f"the suite left these behind: {left}"
    # The per-run bridge, table and cgroup parent go too, once no container needs them.
    provider.remove_host(config)
    cgroups.remove(config.cgroup_parent, cgroups.detect_version())
    assert not nft.table_exists(config)
    assert not links.bridges_named(config.bridge)
    assert not cgroups.cgroup_dirs(config.cgroup_parent, cgroups.detect_version())
