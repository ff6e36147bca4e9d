from django.contrib import admin

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read only: an audit log that admins could edit would prove nothing."""

    list_display = ("when", "username", "team_name", "action", "object_type", "object_name")
    list_filter = ("action", "object_type")
    search_fields = ("username", "team_name", "object_name")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
