from django.contrib import admin

from .models import App, Build


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "memory_mb", "cpus", "created")
    list_filter = ("team",)


@admin.register(Build)
class BuildAdmin(admin.ModelAdmin):
    list_display = ("id", "app", "status", "host", "created", "seconds")
    list_filter = ("status",)
