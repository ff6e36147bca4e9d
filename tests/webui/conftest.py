"""Personas reused by every web test: an owner, a teammate, a viewer and an outsider."""
from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from webui.accounts.models import Membership
from webui.containers.models import Container
from webui.hosts.models import Host
from webui.images.models import App, Build
from workers import contracts

DOCKERFILE = "FROM busybox\nCMD [\"sleep\", \"600\"]\n"


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_user("alice", password="pw-alice")


@pytest.fixture
def team(owner):
    return owner.teams.get(personal=True)


@pytest.fixture
def teammate(team):
    user = get_user_model().objects.create_user("carol", password="pw-carol")
    Membership.objects.create(team=team, user=user, role=Membership.MEMBER)
    return user


@pytest.fixture
def viewer(team):
    user = get_user_model().objects.create_user("victor", password="pw-victor")
    Membership.objects.create(team=team, user=user, role=Membership.VIEWER)
    return user


@pytest.fixture
def outsider(db):
    return get_user_model().objects.create_user("bob", password="pw-bob")


@pytest.fixture
def host(db):
    return Host.objects.create(name="test-host", cpus=2, memory_bytes=8 << 30, last_seen=timezone.now())


@pytest.fixture
def app(team, owner):
    return App.objects.create(team=team, name="web", dockerfile=DOCKERFILE, ports=["18090:80/tcp"],
                              memory_mb=64, cpus=0.5, created_by=owner)


@pytest.fixture
def build(app, host):
    return Build.objects.create(app=app, host=host, status=contracts.BUILD_SUCCEEDED, image="team1/web:latest")


@pytest.fixture
def container(app, build, host):
    return Container.objects.create(app=app, build=build, host=host, ports=app.ports, memory_mb=64,
                                    status=contracts.C_RUNNING)


@pytest.fixture
def queue():
    """The real test Redis, as the Celery broker sees it; emptied before each test."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("host.*"):
        client.delete(key)
    return client
