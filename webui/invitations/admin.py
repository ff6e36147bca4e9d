from django.contrib import admin

from .models import Invitation


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("team", "user", "role", "status", "invited_by", "created", "answered")
    list_filter = ("status", "role")
    search_fields = ("team__name", "user__username", "user__email")
