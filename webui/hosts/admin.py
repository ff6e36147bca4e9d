from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from .models import Host


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    list_display = ("name", "up", "cpus", "memory", "disk_free", "load", "containers", "agent_version",
                    "cordoned", "last_seen")
    list_editable = ("cordoned",)
    readonly_fields = ("cpus", "memory_bytes", "disk_free_bytes", "load", "cpu_percent", "containers",
                       "agent_version", "first_seen", "last_seen")

    @admin.display(boolean=True)
    def up(self, host):
        return host.is_up

    @admin.display(description="memory")
    def memory(self, host):
        return filesizeformat(host.memory_bytes)

    @admin.display(description="disk free")
    def disk_free(self, host):
        return filesizeformat(host.disk_free_bytes)
