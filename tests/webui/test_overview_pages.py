"""Host pages for admins, team pages for members: the pages, and the websockets behind
their live tables of running containers."""
from __future__ import annotations

import json
import time

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model

from tests.live.viewer import Viewer, session_key
from webui.containers.actions import record_container_event
from webui.containers.models import Container
from webui.hosts.actions import record_heartbeat
from workers import contracts, streams

from .test_access import _connect, client_for


@pytest.fixture
def admin(db):
    return get_user_model().objects.create_superuser("root", password="pw-root")


@pytest.fixture
def stats():
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    keys = []

    def write(container, **figures):
        key = streams.container_stats(container.id)
        keys.append(key)
        client.delete(key)
        client.xadd(key, {"j": json.dumps({"t": int(time.time() * 1000), "cpu": 12.5, "mem": 1 << 20, **figures})})

    yield write
    client.delete(*keys) if keys else None
    client.close()


def test_host_pages_are_for_admins_only(admin, owner, host, container):
    for url in ("/hosts/", f"/hosts/{host.id}/"):
        assert client_for(owner).get(url).status_code == 404, url
        assert client_for(admin).get(url).status_code == 200, url
    page = client_for(admin).get(f"/hosts/{host.id}/").content.decode()
    assert 'id="containers"' in page and 'data-history="host_cpu"' in page and container.name in page
    assert f'href="/hosts/{host.id}/"' in client_for(admin).get("/hosts/").content.decode()
    assert 'href="/hosts/"' in client_for(admin).get("/").content.decode()  # linked in the nav for staff
    assert 'href="/hosts/"' not in client_for(owner).get("/").content.decode()


def test_team_page_is_for_members_only(owner, teammate, outsider, container):
    url = f"/teams/{container.team.id}/"
    for user in (owner, teammate):
        page = client_for(user).get(url)
        assert page.status_code == 200 and container.name.encode() in page.content
    assert client_for(outsider).get(url).status_code == 404
    assert url.encode() not in client_for(outsider).get("/teams/").content
    assert url.encode() in client_for(owner).get("/teams/").content


def test_container_page_has_its_history_chart(owner, container):
    page = client_for(owner).get(f"/containers/{container.id}/").content.decode()
    assert f'data-url="/containers/{container.id}/history/"' in page and 'data-history="c_cpu"' in page


@pytest.mark.django_db(transaction=True)
def test_other_team_and_non_admins_are_refused_the_table_websockets(admin, owner, outsider, host, container):
    team_path, host_path = f"/ws/teams/{container.team.id}/", f"/ws/hosts/{host.id}/"
    owner_key, outsider_key, admin_key = session_key(owner), session_key(outsider), session_key(admin)
    assert async_to_sync(_connect)(team_path, owner_key) is True
    assert async_to_sync(_connect)(team_path, outsider_key) is False
    assert async_to_sync(_connect)(host_path, owner_key) is False  # a member, not an admin
    assert async_to_sync(_connect)(host_path, admin_key) is True


@pytest.mark.django_db(transaction=True)
def test_team_table_streams_each_running_container_and_follows_starts(owner, container, stats):
    stats(container)
    later = Container.objects.create(app=container.app, build=container.build, host=container.host, ports=[],
                                     memory_mb=64, status=contracts.C_PENDING)
    since = str(int(time.time() * 1000) - 5000)

    async def watch():
        async with Viewer(session_key_, f"/ws/teams/{container.team.id}/", **{f"c{container.id}": since}) as viewer:
            state = await viewer.message()
            assert state["type"] == "state" and [r["id"] for r in state["state"]["containers"]] == [container.id]
            entries = await viewer.entries(f"c{container.id}", until=lambda got: len(got) >= 1)
            assert json.loads(entries[-1][1]["j"])["cpu"] == 12.5
            # A container starts: the table's state gains its row, so the page can follow it.
            await database_sync_to_async(record_container_event)(later.id, {"status": contracts.C_RUNNING})
            state = await viewer.message()
            assert [r["id"] for r in state["state"]["containers"]] == [container.id, later.id]

    session_key_ = session_key(owner)
    async_to_sync(watch)()


@pytest.mark.django_db(transaction=True)
def test_host_table_gets_each_heartbeat(admin, host, container, stats):
    stats(container)

    async def watch():
        async with Viewer(key, f"/ws/hosts/{host.id}/", **{f"c{container.id}": "0"}) as viewer:
            first = (await viewer.message())["state"]
            assert first["host"]["name"] == host.name and first["containers"][0]["name"] == container.name
            await database_sync_to_async(record_heartbeat)({"name": host.name, "cpus": 2, "cpu_percent": 42.0,
                                                            "memory_bytes": 8 << 30, "memory_used_bytes": 1 << 30,
                                                            "disk_free_bytes": 1 << 34, "disk_total_bytes": 1 << 35,
                                                            "load": 0.7, "containers": 1})
            while True:
                msg = await viewer.message()
                if msg["type"] == "state":
                    break
            assert msg["state"]["host"]["cpu_percent"] == 42.0 and msg["state"]["host"]["disk_total_bytes"] == 1 << 35

    key = session_key(admin)
    async_to_sync(watch)()


@pytest.mark.django_db(transaction=True)
def test_the_hosts_list_gets_each_heartbeat_and_a_host_going_down(admin, host):
    from webui.hosts.actions import mark_down_hosts

    async def next_row(viewer):
        while True:
            msg = await viewer.message()
            if msg["type"] == "state" and "host" in msg["state"]:
                return msg["state"]["host"]

    async def watch():
        async with Viewer(key, "/ws/hosts/") as viewer:
            first = (await viewer.message())["state"]
            assert [h["name"] for h in first["hosts"]] == [host.name] and first["hosts"][0]["up"]
            await database_sync_to_async(record_heartbeat)({"name": host.name, "cpus": 2, "cpu_percent": 17.0,
                                                            "containers": 3, "version": "9.9"})
            row = await next_row(viewer)
            assert (row["cpu_percent"], row["containers"], row["agent_version"]) == (17.0, 3, "9.9")
            await database_sync_to_async(mark_down_hosts)()  # no alive key in Redis: it is down
            assert (await next_row(viewer))["up"] is False

    key = session_key(admin)
    async_to_sync(watch)()
