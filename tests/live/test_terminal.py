"""The container page's terminal: a websocket (Channels' communicator, through the whole ASGI app)
to the session's Redis streams, and the agent's side of them on a real container, in a thread."""
from __future__ import annotations

import asyncio
import base64
import json
import threading
import time

import psutil
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator

from runtime.container.manager import RunRequest
from webui.asgi import application
from webui.containers.models import Container
from workers import contracts
from workers.agent import terminal
from workers.agent.context import CONTAINER_LABEL

from ..webui.conftest import queue, teammate, viewer  # noqa: F401 (fixtures)
from .viewer import session_key

pytestmark = pytest.mark.django_db(transaction=True)


class Socket(ApplicationCommunicator):
    """A browser's terminal socket, through the whole ASGI app (channels.testing's communicator
    would need daphne, which Berth does not install)."""

    def __init__(self, key: str, container_id: int, query: str = ""):
        headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"),
                   (b"cookie", f"sessionid={key}".encode())]
        super().__init__(application, {"type": "websocket", "path": f"/ws/containers/{container_id}/exec/",
                                       "query_string": query.encode(), "headers": headers, "subprotocols": []})

    async def connect(self) -> bool:
        await self.send_input({"type": "websocket.connect"})
        return (await self.receive_output(timeout=10))["type"] == "websocket.accept"

    async def send_to(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send_input({"type": "websocket.receive", "text": text_data, "bytes": bytes_data})

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(timeout=10)


def socket_for(key: str, container_id: int, query: str = "") -> Socket:
    return Socket(key, container_id, query)


def exec_jobs(queue) -> list[dict]:
    jobs = []
    for raw in queue.lrange("host.test-host", 0, -1):
        message = json.loads(raw)
        if message["headers"]["task"] == contracts.AGENT_EXEC:
            jobs.append(json.loads(base64.b64decode(message["body"]))[0][0])
    return jobs


def agent_takes_the_job(ctx, queue) -> threading.Thread:
    """What the agent's task does with the job the socket queued: serve it in a thread."""
    deadline = time.monotonic() + 10
    while not exec_jobs(queue):
        assert time.monotonic() < deadline, "the socket queued no exec job"
        time.sleep(0.02)
    [job] = exec_jobs(queue)
    queue.delete("host.test-host")
    thread = threading.Thread(target=terminal.serve, args=(ctx, job), daemon=True)
    thread.start()
    return thread


async def output_until(socket: Socket, wanted: bytes, timeout: float = 15) -> bytes:
    seen = b""
    deadline = asyncio.get_running_loop().time() + timeout
    while wanted not in seen:
        remaining = deadline - asyncio.get_running_loop().time()
        assert remaining > 0, f"never saw {wanted!r} in {seen!r}"
        try:
            seen += (await socket.receive_output(timeout=remaining)).get("bytes") or b""
        except asyncio.TimeoutError:
            raise AssertionError(f"never saw {wanted!r} in {seen!r}") from None
    return seen


def running(ctx, made, container: Container, command=("sleep", "600")):
    info = ctx.containers.run(RunRequest(image="busybox", memory_bytes=32 << 20, command=command, init=True,
                                         network="none", labels=((CONTAINER_LABEL, str(container.id)),)))
    made.append(info.id)
    Container.objects.filter(id=container.id).update(runtime_id=info.id)
    return info


def assert_nothing_left(ctx, thread: threading.Thread, runtime_id: str) -> None:
    thread.join(15)
    assert not thread.is_alive(), "the agent's session did not end"
    execs = [p.info["cmdline"] for p in psutil.process_iter(["cmdline"])
             if "exec" in (p.info["cmdline"] or []) and runtime_id in (p.info["cmdline"] or [])]
    assert execs == []
    assert list(ctx.redis.scan_iter("berth:exec:*")) == []
    assert list((ctx.containers.config.run_dir / "exec").glob("*.pid")) == []


@pytest.mark.root
def test_a_member_types_echo_hi_and_gets_hi_back_and_the_terminal_resizes(agent, owner, container, queue):
    ctx, made = agent
    info = running(ctx, made, container)
    key = session_key(owner)
    threads = []

    async def session():
        socket = socket_for(key, container.id, "cols=100&rows=30")
        assert await socket.connect()
        threads.append(await sync_to_async(agent_takes_the_job)(ctx, queue))
        await socket.send_to(bytes_data=b"echo h''i\n")  # the echo of what is typed has no "hi"
        await output_until(socket, b"\r\nhi\r\n")
        await socket.send_to(bytes_data=b"stty size\n")
        await output_until(socket, b"30 100")
        await socket.send_to(text_data=json.dumps({"resize": [120, 40]}))
        await socket.send_to(bytes_data=b"stty size\n")
        await output_until(socket, b"40 120")
        await socket.disconnect()
    async_to_sync(session)()
    assert_nothing_left(ctx, threads[0], info.id)


@pytest.mark.root
def test_closing_the_socket_ends_what_the_shell_runs(agent, teammate, container, queue):
    ctx, made = agent
    info = running(ctx, made, container)
    key = session_key(teammate)
    threads = []

    async def session():
        socket = socket_for(key, container.id)
        assert await socket.connect()
        threads.append(await sync_to_async(agent_takes_the_job)(ctx, queue))
        await socket.send_to(bytes_data=b"sleep 4321; echo never\n")
        await asyncio.sleep(0.5)
        await socket.disconnect()
    async_to_sync(session)()
    assert_nothing_left(ctx, threads[0], info.id)
    assert not [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "4321"]]


@pytest.mark.root
def test_the_shell_exiting_ends_the_session_with_its_code(agent, owner, container, queue):
    ctx, made = agent
    info = running(ctx, made, container)
    key = session_key(owner)
    threads = []

    async def session():
        socket = socket_for(key, container.id)
        assert await socket.connect()
        threads.append(await sync_to_async(agent_takes_the_job)(ctx, queue))
        await socket.send_to(bytes_data=b"exit 3\n")
        await output_until(socket, b"[the shell ended with exit code 3]")
        assert (await socket.receive_output(timeout=5))["type"] == "websocket.close"
        await socket.disconnect()  # as the server says once the browser has the close
    async_to_sync(session)()
    assert_nothing_left(ctx, threads[0], info.id)


@pytest.mark.root
def test_exec_in_a_stopped_container_says_so_in_the_terminal(agent, owner, container, queue):
    ctx, made = agent
    info = running(ctx, made, container, command=("true",))
    deadline = time.monotonic() + 10
    while ctx.containers.get(info.id).status.state != "exited":  # the web has not heard yet
        assert time.monotonic() < deadline
        time.sleep(0.05)
    key = session_key(owner)
    threads = []

    async def session():
        socket = socket_for(key, container.id)
        assert await socket.connect()
        threads.append(await sync_to_async(agent_takes_the_job)(ctx, queue))
        await output_until(socket, b"it is exited; commands run only in a running container")
        assert (await socket.receive_output(timeout=5))["type"] == "websocket.close"
        await socket.disconnect()
    async_to_sync(session)()
    assert_nothing_left(ctx, threads[0], info.id)


def test_the_web_says_so_when_it_knows_the_container_is_not_running(owner, container, queue):
    Container.objects.filter(id=container.id).update(status=contracts.C_EXITED)
    key = session_key(owner)

    async def session():
        socket = socket_for(key, container.id)
        assert await socket.connect()
        seen = await output_until(socket, b"Start it again with Restart.")
        await socket.disconnect()
        return seen
    assert b"The container is exited: commands run only in a running container." in async_to_sync(session)()
    assert exec_jobs(queue) == []


def test_a_viewer_and_another_teams_member_get_no_terminal(viewer, outsider, container, queue):
    keys = [session_key(viewer), session_key(outsider)]

    async def refused(key) -> bool:
        socket = socket_for(key, container.id)
        connected = await socket.connect()
        await socket.disconnect()
        return not connected
    assert all(async_to_sync(refused)(key) for key in keys)
    assert exec_jobs(queue) == []
