"""The lifecycle on real runc containers: kill, stop, start, restart, remove, and what is refused."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from runtime.container import restart, state
from runtime.errors import InvalidSpec, InvalidState
from runtime.network.ports import parse as port

from .test_containers import _fetch, output, run, wait_exit
from tests.processes import port_for

pytestmark = pytest.mark.root


def _wait_running(manager, cid, timeout=10):
    deadline = time.monotonic() + timeout
    while manager.get(cid).status.state != "running":
        assert time.monotonic() < deadline, "the container did not start"
        time.sleep(0.02)


def test_kill_with_a_signal_the_command_traps(containers):
    manager, _ = containers
    info = run(containers, command=("sh", "-c", "trap 'echo got HUP; exit 3' HUP; echo ready; "
                                    "while true; do sleep 0.1; done"))
    _wait_log(manager, info.id, "ready")
    manager.kill(info.id, "SIGHUP")
    status = wait_exit(manager, info.id)
    assert status.exit_code == 3
    assert "got HUP" in output(manager, info.id)


def test_stop_sends_the_images_stop_signal_then_sigkill(containers):
    manager, _ = containers
    info = run(containers, command=("sh", "-c", "trap 'echo ignoring TERM' TERM; echo ready; "
                                    "while true; do sleep 0.1; done"))
    _wait_log(manager, info.id, "ready")
    started = time.monotonic()
    status = manager.stop(info.id, timeout=1)
    assert 1 <= time.monotonic() - started < 5
    assert status.exit_code == 137  # SIGKILL after the grace period
    assert "ignoring TERM" in output(manager, info.id)


def test_restart_keeps_the_id_the_log_and_the_files(containers):
    manager, _ = containers
    info = run(containers, ports=(port(f"{port_for(18183)}:80"),), command=(
        "sh", "-c", "echo run >> /runs; echo runs: $(wc -l < /runs); httpd -f -p 80 -h /"))
    _wait_log(manager, info.id, "runs: 1")
    first_ip = info.record.network["ip"]
    again = manager.restart(info.id, timeout=1)
    assert again.id == info.id and again.status.state == "running"
    _wait_log(manager, info.id, "runs: 2")  # the root's files are kept, as by `docker restart`
    texts = [line.text for line in manager.logs(info.id)]
    assert texts.index("runs: 1") < texts.index("runs: 2")  # one log, going on
    assert again.record.network["ip"] == first_ip
    assert "run" in _fetch(f"http://127.0.0.1:{port_for(18183)}/runs")  # its port is published again
    assert again.record.runs == 2 and again.record.restart_count == 0


def test_start_again_after_an_exit(containers):
    manager, _ = containers
    info = run(containers, command=("echo", "hello"))
    wait_exit(manager, info.id)
    manager.start(info.id)
    wait_exit(manager, info.id)
    assert [line.text for line in manager.logs(info.id)] == ["hello", "hello"]


def test_remove_of_a_running_container_is_refused_unless_forced(containers):
    manager, _ = containers
    info = run(containers, command=("sleep", "600"))
    with pytest.raises(InvalidState, match="it is running; stop it first, or force the removal"):
        manager.remove(info.id)
    assert manager.get(info.id).status.state == "running"  # nothing disturbed
    manager.remove(info.id, force=True)
    assert not manager.exists(info.id)


def test_bad_lifecycle_requests_are_refused_and_change_nothing(containers):
    manager, _ = containers
    info = run(containers, command=("true",))
    wait_exit(manager, info.id)
    with pytest.raises(InvalidState, match="cannot kill container .*: it is exited"):
        manager.kill(info.id, "TERM")
    running = run(containers, command=("sleep", "600"))
    with pytest.raises(InvalidSpec, match="'SIGNOPE' is not a signal"):
        manager.kill(running.id, "SIGNOPE")
    with pytest.raises(InvalidState, match="cannot start container .*: it is running"):
        manager.start(running.id)
    with pytest.raises(InvalidSpec, match="restart policy 'sometimes'"):
        run(containers, command=("true",), restart="sometimes")
    assert manager.get(running.id).status.state == "running"


def test_a_container_stopped_by_hand_is_not_started_by_its_policy(containers):
    manager, _ = containers
    info = run(containers, command=("sleep", "600"), restart="always")
    decided = time.time()
    manager.stop(info.id, timeout=0)
    with pytest.raises(InvalidState, match="stopped by hand"):
        manager.start(info.id, policy_decided_at=decided)
    manager.start(info.id)  # by hand it starts
    _wait_running(manager, info.id)


def test_cli_kill_restart_and_rm(containers, runtime_config):
    manager, made = containers
    info = run(containers, command=("sleep", "600"), init=True)  # PID 1 ignores TERM without an init
    cli = [sys.executable, "-m", "runtime", "--state-dir", str(runtime_config.state_dir),
           "--run-dir", str(runtime_config.run_dir), "--bridge", runtime_config.bridge,
           "--subnet", runtime_config.subnet, "--nft-table", runtime_config.nft_table,
           "--cgroup-parent", runtime_config.cgroup_parent, "--netns-prefix", runtime_config.netns_prefix]
    refused = subprocess.run(cli + ["rm", info.id], capture_output=True, text=True)
    assert refused.returncode == 125
    assert "it is running; stop it first, or force the removal (-f)" in refused.stderr
    subprocess.run(cli + ["kill", "-s", "TERM", info.id], check=True, capture_output=True)
    assert wait_exit(manager, info.id).exit_code == 143
    subprocess.run(cli + ["restart", "-t", "1", info.id], check=True, capture_output=True)
    assert manager.get(info.id).status.state == "running"
    subprocess.run(cli + ["rm", "-f", info.id], check=True, capture_output=True)
    assert not manager.exists(info.id)


def test_state_table_names_every_operation():
    assert state.OPERATIONS["start"] == {state.EXITED, state.LOST}
    for targets in state.TRANSITIONS.values():
        assert targets <= set(state.STATES)


@pytest.mark.parametrize("text, policy", [
    ("no", restart.RestartPolicy("no")), ("always", restart.RestartPolicy("always")),
    ("unless-stopped", restart.RestartPolicy("unless-stopped")),
    ("on-failure", restart.RestartPolicy("on-failure")), ("on-failure:3", restart.RestartPolicy("on-failure", 3)),
])
def test_restart_policies_parse(text, policy):
    assert restart.parse(text) == policy and str(policy) == text


@pytest.mark.parametrize("text", ["sometimes", "on-failure:", "on-failure:-1", "always:2", "no "])
def test_bad_restart_policies_are_refused(text):
    if text == "no ":
        assert restart.parse(text).name == "no"  # surrounding space is forgiven
        return
    with pytest.raises(InvalidSpec):
        restart.parse(text)


def test_restart_decisions_follow_docker():
    on_failure_2 = restart.parse("on-failure:2")
    assert restart.should_restart(on_failure_2, 1, 1, False)
    assert not restart.should_restart(on_failure_2, 1, 2, False)  # two restarts made
    assert not restart.should_restart(on_failure_2, 0, 0, False)
    assert restart.should_restart(restart.parse("always"), 0, 9, False)
    assert not restart.should_restart(restart.parse("always"), 0, 0, True)
    assert restart.should_restart(restart.parse("always"), 0, 0, True, agent_starting=True)
    assert not restart.should_restart(restart.parse("unless-stopped"), 0, 0, True, agent_starting=True)
    assert restart.should_restart(restart.parse("unless-stopped"), 0, 0, False, agent_starting=True)
    assert not restart.should_restart(restart.parse("no"), 1, 0, False)


def test_back_off_doubles_from_100_ms_up_to_a_minute_and_resets_after_10_s():
    delays = [restart.next_delay(None, 0)]
    for _ in range(12):
        delays.append(restart.next_delay(delays[-1], 0.5))
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8] and delays[-1] == 60.0
    assert restart.next_delay(60.0, 10.0) == 0.1


def _wait_log(manager, cid, text, timeout=10):
    deadline = time.monotonic() + timeout
    while not any(line.text == text for line in manager.logs(cid)):
        assert time.monotonic() < deadline, f"{text!r} never logged"
        time.sleep(0.05)
