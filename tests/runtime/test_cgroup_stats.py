"""cgroup v1/v2 stats: recorded kernel files, parser edge cases, and a live cgroup."""
from __future__ import annotations

import errno
import os
import secrets
import subprocess
from pathlib import Path

import pytest

from runtime.cgroups import paths
from runtime.cgroups.paths import cgroup_dirs, detect_version, read_stats, remove
from runtime.cgroups.stats import (
    CgroupStats, cpu_percent, io_rates, memory_percent, parse_blkio, parse_flat,
    parse_nested, parse_single, parse_v1, parse_v2, rate_per_second, throttled_ratio,
)
from runtime.errors import InvalidSpec, NotFound

# A copy of ../shared/testdata/cgroups (see its README for sources), kept here so CI never skips it.
DATA = Path(__file__).resolve().parents[1] / "testdata" / "cgroups"
MISSING = f"recorded cgroup test data not found at {DATA}"
PARSERS = {"v1": parse_v1, "v2": parse_v2}
MiB = 1024 * 1024


def _folders() -> list:
    if not DATA.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=MISSING), id="no-data")]
    return [f"{v}/{d.name}" for v in PARSERS for d in sorted((DATA / v).iterdir())
            if d.is_dir()]


def _parse(folder: str) -> CgroupStats:
    version, _, _ = folder.partition("/")
    files = {f.name: f.read_text() for f in (DATA / folder).iterdir() if f.is_file()}
    return PARSERS[version](files)


def _need_data() -> None:
    if not DATA.is_dir():
        pytest.skip(MISSING)


# Working sets as given in the README (usage - inactive file cache).
README_WORKING_SET = {
    "v2/telegraf": 10135646208,
    "v2/elastic-session-scope": 3812655104,
    "v2/galaxy-job": 87842816,
    "v2/clickhouse": 20952338432,
    "v1/elastic-amzn2-k8s": 1137303552,
    "v1/elastic-docker": 255889408,
    "v1/galaxy-job": 1728512,
}

# Read off the files by eye. Columns: memory_limit, pids_current, pids_limit,
# (nr_periods, nr_throttled, throttled ns), oom_kills, (io read, io write),
# cpu_quota_cores, memory_swap_usage.
FIELDS = ("memory_limit", "pids_current", "pids_limit", "throttling", "oom_kills",
          "io", "cpu_quota_cores", "memory_swap_usage")
BY_EYE = {
    "v1/elastic-amzn2-k8s": (2147483648, 177, None, (0, 0, 0), 0,
                             (3448832, 25203200), None, 0),
    # 3 devices (7:0, 253:0, 253:1); the final "Total" row must not be added again.
    "v1/elastic-docker": (None, None, None, (769021, 1046, 352597023453), None,
                          (4608 + 4608 + 1638912, 0), None, 0),
    "v1/elastic-ubuntu1804-service": (None, None, None, (None, None, None), 0,
                                      (8192, 0), None, None),
    "v1/galaxy-job": (None, None, None, (0, 0, 0), None, (None, None), None, 0),
    "v1/clickhouse": (None, None, None, (None, None, None), None, (None, None), None, 0),
    "v2/telegraf": (96 * 1024 * MiB, 592, 629145, (3936904, 6004, 19175137007000), 0,
                    (74526720, 3789381632), 48.0, 0),
    "v2/elastic-session-scope": (None, 148, None, (0, 0, 0), 0, (None, None), None,
                                 17715200),
    "v2/elastic-docker-scope": (None, None, None, (1, 4, 10000), 1,
                                (512 + 1024, 4096 + 4096), None, 0),
    "v2/galaxy-job": (None, None, None, (0, 0, 0), 0, (None, None), None, 0),
    "v2/elastic-ubuntu1804-hybrid": (None, None, None, (None, None, None), None,
                                     (None, None), None, None),
    # Idle loop devices run into the next line; only 7:4 and 7:3 did I/O.
    "v2/elastic-iostat-ubuntu": (None, None, None, (None, None, None), None,
                                 (556032 + 21017600, 0), None, None),
    "v2/elastic-iostat-ubuntu2": (None, None, None, (None, None, None), None,
                                  (45931053056 + 48963873792,
                                   211814596608 + 217588278272), None, None),
    "v2/opencontainers-cgroups": (None, None, None, (None, None, None), None,
                                  (6901432320 + 2702336 + 6911345664,
                                   14245535744 + 14245536256), None, None),
    "v2/opencontainers-cgroups-iocost": (None, None, None, (None, None, None), None,
                                         (2285568 + 2037743988736 + 4085926524416,
                                          688128 + 1036567117824 + 1036680064512),
                                         None, None),
}


@pytest.mark.parametrize("folder", _folders())
def test_every_recorded_folder_parses(folder):
    stats = _parse(folder)
    assert stats.memory_working_set >= 0
    assert stats.memory_working_set <= stats.memory_usage or stats.memory_usage == 0
    if folder in README_WORKING_SET:
        assert stats.memory_working_set == README_WORKING_SET[folder]


def test_tables_name_real_folders():
    _need_data()
    found = {f for f in _folders()}
    assert set(README_WORKING_SET) <= found
    assert set(BY_EYE) <= found
    assert len(BY_EYE) >= 6


@pytest.mark.parametrize("folder", sorted(BY_EYE))
def test_recorded_fields_by_eye(folder):
    _need_data()
    s = _parse(folder)
    got = (s.memory_limit, s.pids_current, s.pids_limit,
           (s.cpu_periods, s.cpu_throttled_periods, s.cpu_throttled_ns), s.oom_kills,
           (s.io_read_bytes, s.io_write_bytes), s.cpu_quota_cores, s.memory_swap_usage)
    assert dict(zip(FIELDS, got)) == dict(zip(FIELDS, BY_EYE[folder]))


def test_recorded_memory_breakdown():
    _need_data()
    telegraf, amzn = _parse("v2/telegraf"), _parse("v1/elastic-amzn2-k8s")
    assert (telegraf.memory_rss, telegraf.memory_cache) == (2471755776, 8532865024)
    assert (amzn.memory_rss, amzn.memory_cache) == (1119465472, 78397440)
    assert amzn.cpu_usage_ns == 124659500367000
    assert _parse("v2/galaxy-job").cpu_usage_ns == 8992210 * 1000


# --- parser edge cases ------------------------------------------------------------

def test_single_values_with_and_without_newline():
    assert parse_single("29645422592") == parse_single("29645422592\n") == 29645422592
    assert parse_single("max\n") is None
    assert parse_single("") is None and parse_single(None) is None


def test_flat_and_nested_without_trailing_newline():
    assert parse_flat("a 1\nb 2") == parse_flat("a 1\nb 2\n") == {"a": 1, "b": 2}
    assert parse_nested("8:0 rbytes=1 wbytes=2\n7:1") == {
        "8:0": {"rbytes": 1, "wbytes": 2}, "7:1": {}}
    assert parse_nested("7:7 7:6 rbytes=5")["7:6"] == {"rbytes": 5}
    assert parse_nested("259:0 rbytes=1 cost.vrate=100.00")["259:0"]["cost.vrate"] == 100.0


def test_blkio_skips_total_row():
    assert parse_blkio("8:0 Read 5\n8:0 Write 7\n8:1 Read 1\nTotal 13\n") == {
        "Read": 6, "Write": 7}


def test_v1_unlimited_on_other_page_sizes_and_quota():
    for unlimited in ("9223372036854771712", "9223372036854710272\n"):  # 4K, 64K pages
        assert parse_v1({"memory.limit_in_bytes": unlimited}).memory_limit is None
    s = parse_v1({"cpu.cfs_quota_us": "150000\n", "cpu.cfs_period_us": "100000"})
    assert s.cpu_quota_cores == 1.5
    assert parse_v1({"cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000"}) \
        .cpu_quota_cores is None


def test_v1_io_falls_back_when_throttle_has_no_rows():
    files = {"blkio.throttle.io_service_bytes": "Total 0\n",
             "blkio.io_service_bytes_recursive": "8:0 Read 10\n8:0 Write 20\nTotal 30\n"}
    s = parse_v1(files)
    assert (s.io_read_bytes, s.io_write_bytes) == (10, 20)
    s = parse_v1({"blkio.throttle.io_service_bytes": "Total 0\n"})
    assert (s.io_read_bytes, s.io_write_bytes) == (0, 0)


def test_working_set_never_negative():
    assert parse_v2({"memory.current": "100", "memory.stat": "inactive_file 500"}) \
        .memory_working_set == 0
    assert parse_v2({}) == CgroupStats()


def test_rates():
    a = CgroupStats(cpu_usage_ns=1_000_000_000, io_read_bytes=0, io_write_bytes=10,
                    cpu_periods=10, cpu_throttled_periods=1)
    b = CgroupStats(cpu_usage_ns=3_000_000_000, io_read_bytes=4096, io_write_bytes=10,
                    cpu_periods=20, cpu_throttled_periods=6)
    assert cpu_percent(a, b, 1_000_000_000) == pytest.approx(200.0)
    assert cpu_percent(b, a, 1_000_000_000) == 0.0  # counter reset: new cgroup
    assert cpu_percent(a, b, 0) == 0.0
    assert io_rates(a, b, 2_000_000_000) == (2048.0, 0.0)
    assert rate_per_second(None, 5, 1) is None
    assert throttled_ratio(a, b) == 0.5
    assert memory_percent(CgroupStats(memory_working_set=32 * MiB,
                                      memory_limit=64 * MiB)) == 50.0
    assert memory_percent(CgroupStats()) is None


# --- paths against a fake cgroupfs ------------------------------------------------

def test_detect_version(tmp_path):
    assert detect_version(tmp_path) == 1
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    assert detect_version(tmp_path) == 2


def test_v1_comounted_cpu_cpuacct_without_symlinks(tmp_path):
    cg = tmp_path / "cpu,cpuacct" / "berth" / "abc"
    cg.mkdir(parents=True)
    (cg / "cpuacct.usage").write_text("42\n")
    (cg / "cpu.cfs_quota_us").write_text("50000\n")
    (cg / "cpu.cfs_period_us").write_text("100000\n")
    (tmp_path / "cpu").symlink_to("cpu,cpuacct")  # usual convenience link: no duplicate
    s = read_stats("/berth/abc", 1, tmp_path)
    assert (s.cpu_usage_ns, s.cpu_quota_cores) == (42, 0.5)
    assert cgroup_dirs("/berth/abc", 1, tmp_path) == [cg]


def test_not_found_and_bad_paths(tmp_path):
    (tmp_path / "memory").mkdir()
    with pytest.raises(NotFound):
        read_stats("/berth/gone", 1, tmp_path)
    with pytest.raises(NotFound):
        read_stats("/berth/gone", 2, tmp_path)
    with pytest.raises(InvalidSpec):
        read_stats("berth/relative", 2, tmp_path)
    with pytest.raises(InvalidSpec):
        cgroup_dirs("/berth/../../etc", 2, tmp_path)
    with pytest.raises(InvalidSpec):
        remove("/", 1, tmp_path)


def test_read_racing_container_exit(tmp_path, monkeypatch):
    cg = tmp_path / "berth" / "x"
    cg.mkdir(parents=True)
    (cg / "cpu.stat").write_text("usage_usec 5\n")
    reader = paths.CgroupReader("/berth/x", 2, tmp_path)
    assert reader.read().cpu_usage_ns == 5000  # the other files are not offered: fine
    (cg / "cpu.stat").write_text("usage_usec 7\n")
    assert reader.read().cpu_usage_ns == 7000  # read afresh through the open descriptor

    def gone(fd, size, offset):
        raise OSError(errno.ENODEV, "No such device")
    monkeypatch.setattr(os, "pread", gone)
    with pytest.raises(NotFound):  # a read racing the rmdir, as kernfs reports it
        reader.read()
    monkeypatch.undo()
    assert reader._fds == {}  # and the reader gave its descriptors back
    (cg / "cpu.stat").unlink()
    cg.rmdir()
    with pytest.raises(NotFound):  # the whole cgroup is gone
        reader.read()
    with pytest.raises(NotFound):
        read_stats("/berth/x", 2, tmp_path)


def test_remove_children_first_and_tolerates_missing(tmp_path):
    for h in ("memory", "pids", "freezer"):
        (tmp_path / h / "berth" / "c1" / "sub" / "leaf").mkdir(parents=True)
    (tmp_path / "cpu").mkdir()
    remove("/berth/c1", 1, tmp_path)
    assert cgroup_dirs("/berth/c1", 1, tmp_path) == []
    assert (tmp_path / "memory" / "berth").is_dir()  # parent untouched
    remove("/berth/c1", 1, tmp_path)  # already gone: no error


# --- live cgroup on this machine ----------------------------------------------------

def _live_setup(version: int, root: Path, rel: str) -> tuple[list[Path], dict[str, str]]:
    """Which directories to create and which limits to write, per version."""
    if version == 2:
        enabled = (root / "cgroup.subtree_control").read_text().split()
        if not {"memory", "pids"} <= set(enabled):
            pytest.skip("v2 root does not delegate memory and pids to children")
        d = root / rel
        return [d], {str(d / "memory.max"): str(64 * MiB), str(d / "pids.max"): "20"}
    mounts = {c: paths._controller_mount(root, c) for c in ("memory", "cpu", "cpuacct", "pids")}
    if None in mounts.values():
        pytest.skip(f"v1 controllers missing: {[c for c, m in mounts.items() if m is None]}")
    dirs = list(dict.fromkeys(m.resolve() / rel for m in mounts.values()))
    return dirs, {str(mounts["memory"] / rel / "memory.limit_in_bytes"): str(64 * MiB),
                  str(mounts["pids"] / rel / "pids.max"): "20"}


def test_live_cgroup_read_and_remove():
    if os.geteuid() != 0:
        pytest.skip("live cgroup test needs root to create cgroups")
    root = Path(paths.DEFAULT_ROOT)
    version = detect_version(root)
    name = f"/berth-test-{secrets.token_hex(4)}"
    dirs, limits = _live_setup(version, root, name[1:])
    child = None
    try:
        for d in dirs:
            try:
                d.mkdir()
            except OSError as exc:
                pytest.skip(f"cannot create cgroup {d}: {exc.strerror}")
        for file, value in limits.items():
            Path(file).write_text(value)
        child = subprocess.Popen(["sleep", "30"])
        for d in dirs:
            (d / "cgroup.procs").write_text(str(child.pid))
        stats = read_stats(name, version, root)
        assert stats.memory_limit == 64 * MiB
        assert stats.pids_limit == 20
        assert stats.pids_current is not None and stats.pids_current >= 1
        assert {p.resolve() for p in cgroup_dirs(name, version, root)} == set(dirs)
        child.kill()
        child.wait()
        remove(name, version, root)
        assert not any(d.exists() for d in dirs)
        assert cgroup_dirs(name, version, root) == []
    finally:
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()
        for d in dirs:  # best effort, only if an assertion above failed
            if d.exists():
                try:
                    d.rmdir()
                except OSError:
                    pass


def test_live_missing_cgroup_is_not_found():
    root = Path(paths.DEFAULT_ROOT)
    if not root.is_dir():
        pytest.skip(f"{root} not present")
    with pytest.raises(NotFound):
        read_stats(f"/berth-test-absent-{secrets.token_hex(4)}", detect_version(root), root)
