from django.contrib import admin

from .models import Container


@admin.register(Container)
class ContainerAdmin(admin.ModelAdmin):
    list_display = ("id", "app", "status", "host", "memory_mb", "cpus", "ports", "created")
    list_filter = ("status", "host")
