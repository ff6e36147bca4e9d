from django.contrib import admin

from .models import Volume


@admin.register(Volume)
class VolumeAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "host", "removing", "created")
    list_filter = ("team", "host")
