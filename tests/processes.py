"""Starting and stopping the project's own processes (web, control worker, agents) in tests."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_STANDING_FOR: dict[int, int] = {}


def port_for(number: int) -> int:
    """A free host port standing for the test's port ``number`` (the same one each time in a
    session): a fixed port may be taken by whatever else runs on the machine, a Berth beside
    the suite among them."""
    if number not in _STANDING_FOR:
        port = free_port()
        while port in _STANDING_FOR.values():
            port = free_port()
        _STANDING_FOR[number] = port
    return _STANDING_FOR[number]


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def start(name: str, args: list[str], env: dict, logs: Path) -> subprocess.Popen:
    """In a session of its own, so stop() ends it with everything it started."""
    log = open(logs / f"{name}.log", "ab")
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def start_web(env: dict, logs: Path, port: int) -> subprocess.Popen:
    return start("web", [sys.executable, "-m", "uvicorn", "webui.asgi:application", "--host", "127.0.0.1",
                         "--port", str(port), "--ws", "websockets"], env, logs)


def wait_for(what: str, check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def answers(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=1).status == 200
    except OSError:
        return False
