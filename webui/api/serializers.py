"""What the API returns, and what its writes take: read-only views of the models, and the
bodies of writes, described for the OpenAPI schema. Writes are checked by the web's own forms
(webui/images/run_settings.py), so these describe them and check nothing twice."""
from __future__ import annotations

from rest_framework import serializers

from webui.containers.models import Container
from webui.images.models import App, Build


class AppSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.name", read_only=True)
    team_id = serializers.IntegerField(read_only=True)
    image_name = serializers.CharField(read_only=True)

    class Meta:
        model = App
        fields = ("id", "name", "team", "team_id", "image_name", "ports", "memory_mb", "cpus", "restart_policy",
                  "pids_limit", "cpuset_cpus", "network_in_mb", "network_out_mb", "volumes", "env", "network_mode",
                  "host_labels", "created")
        read_only_fields = fields


class BuildSerializer(serializers.ModelSerializer):
    host = serializers.CharField(source="host.name", read_only=True, default=None)

    class Meta:
        model = Build
        fields = ("id", "app", "status", "host", "image", "image_id", "error", "seconds", "build_args", "target",
                  "no_cache", "image_size", "registry_ref", "created", "finished")
        read_only_fields = fields


class ContainerSerializer(serializers.ModelSerializer):
    host = serializers.CharField(source="host.name", read_only=True)
    name = serializers.CharField(read_only=True)

    class Meta:
        model = Container
        fields = ("id", "name", "app", "build", "host", "status", "ports", "memory_mb", "cpus", "pids_limit", "env",
                  "restart_policy", "network_mode", "volumes", "ip", "exit_code", "oom_killed", "restart_count",
                  "error", "created", "finished", "runtime_id", "replaces")
        read_only_fields = fields


class BuildRequestSerializer(serializers.Serializer):
    build_args = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    target = serializers.CharField(required=False, allow_blank=True)
    no_cache = serializers.BooleanField(required=False)


class KillRequestSerializer(serializers.Serializer):
    signal = serializers.CharField(required=False, default="KILL")


def _lines(help_text: str) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(), required=False, help_text=help_text)


class RunSettingsRequestSerializer(serializers.Serializer):
    """What one run may set for itself; the app's settings stand for what is left out."""

    ports = _lines('Port mappings as docker run -p: "18080:80", "8053:53/udp", "127.0.0.1:8080:80".')
    memory_mb = serializers.IntegerField(required=False, help_text="Memory limit in MB (2^20 bytes), at least 6.")
    cpus = serializers.FloatField(required=False, help_text="CPU limit in CPUs, 0.01 to 64, e.g. 0.5.")
    pids_limit = serializers.IntegerField(required=False, allow_null=True,
                                          help_text="Processes and threads at once, 1 to 1000000.")
    env = _lines('Environment variables, "KEY=value" each; on a run, added to the app\'s (a name given '
                 "here takes this value).")
    restart_policy = serializers.CharField(required=False, help_text="no, on-failure[:N], always or unless-stopped.")


class AppSettingsRequestSerializer(RunSettingsRequestSerializer):
    """An app's settings: PATCH changes those given; PUT sets them all (what is left out is
    emptied or takes its default)."""

    cpuset_cpus = serializers.CharField(required=False, allow_blank=True, help_text="CPUs to run on, e.g. 0-1.")
    network_in_mb = serializers.FloatField(required=False, allow_null=True, help_text="Download limit in MB/s.")
    network_out_mb = serializers.FloatField(required=False, allow_null=True, help_text="Upload limit in MB/s.")
    volumes = _lines('Mounts as docker run -v: "data:/data", "data:/data:ro" (a team volume), or a host path '
                     "(admins).")
    host_labels = serializers.DictField(child=serializers.CharField(), required=False,
                                        help_text='Labels a host must carry to run it, e.g. {"disk": "ssd"}.')
    network_mode = serializers.ChoiceField(["bridge", "none", "host"], required=False,
                                           help_text="bridge (its team's network, the default), none (loopback "
                                                     "only) or host (the host's own network: admins only).")


class AppCreateRequestSerializer(AppSettingsRequestSerializer):
    name = serializers.CharField(help_text="Lowercase letters, digits and . _ - (it names the image).")
    team = serializers.IntegerField(help_text="The ID of one of your teams where you may write.")
    dockerfile = serializers.CharField(help_text="The Dockerfile's text (in multipart: a file).")


class ContainerStatsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    app = serializers.CharField()
    host = serializers.CharField()
    sample = serializers.DictField(allow_null=True, help_text="The newest figures (CPU %, memory and its limit, "
                                                              "network and block totals in bytes, processes), "
                                                              "or null when none came in the last minute.")


class ImageSerializer(serializers.Serializer):
    """An image a build of the team left in its host's store, as the team's Images page lists it."""

    build = serializers.IntegerField(source="build.id")
    app = serializers.CharField(source="build.app.name")
    team = serializers.CharField()
    image = serializers.CharField(source="build.image")
    current = serializers.BooleanField(help_text="The app's newest good build: the image its name points at.")
    image_id = serializers.CharField(source="build.image_id")
    size = serializers.IntegerField(source="build.image_size", allow_null=True)
    layers = serializers.SerializerMethodField()
    host = serializers.CharField(source="build.host.name", default=None)
    built = serializers.DateTimeField(source="build.finished", allow_null=True)

    def get_layers(self, row) -> int:
        return len(row["build"].image_layers)
