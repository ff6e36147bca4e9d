"""What the API returns: read-only views of the models (writes go through the web's forms)."""
from __future__ import annotations

from rest_framework import serializers

from webui.containers.models import Container
from webui.hosts.models import Host
from webui.images.models import App, Build


class AppSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.name", read_only=True)
    team_id = serializers.IntegerField(read_only=True)
    image_name = serializers.CharField(read_only=True)

    class Meta:
        model = App
        fields = ("id", "name", "team", "team_id", "image_name", "ports", "memory_mb", "cpus", "restart_policy",
                  "pids_limit", "cpuset_cpus", "network_in_mb", "network_out_mb", "volumes", "created")
        read_only_fields = fields


class BuildSerializer(serializers.ModelSerializer):
    host = serializers.CharField(source="host.name", read_only=True, default=None)

    class Meta:
        model = Build
        fields = ("id", "app", "status", "host", "image", "image_id", "error", "seconds", "build_args", "target",
                  "no_cache", "image_size", "created", "finished")
        read_only_fields = fields


class ContainerSerializer(serializers.ModelSerializer):
    host = serializers.CharField(source="host.name", read_only=True)
    name = serializers.CharField(read_only=True)

    class Meta:
        model = Container
        fields = ("id", "name", "app", "build", "host", "status", "ports", "memory_mb", "cpus", "ip", "exit_code",
                  "oom_killed", "restart_count", "error", "created", "finished")
        read_only_fields = fields


class HostSerializer(serializers.ModelSerializer):
    is_up = serializers.BooleanField(read_only=True)

    class Meta:
        model = Host
        fields = ("id", "name", "is_up", "cpus", "memory_bytes", "disk_free_bytes", "load", "cpu_percent",
                  "containers", "agent_version", "cordoned", "last_seen")
        read_only_fields = fields


class BuildRequestSerializer(serializers.Serializer):
    build_args = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    target = serializers.CharField(required=False, allow_blank=True)
    no_cache = serializers.BooleanField(required=False)


class KillRequestSerializer(serializers.Serializer):
    signal = serializers.CharField(required=False, default="KILL")
