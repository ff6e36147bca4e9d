from django import forms
from django.contrib import admin

from .models import Membership, Quota, Team


class QuotaForm(forms.ModelForm):
    """Quotas an admin sets: no CPUs below 0, and a host port range of real ports, lowest first."""

    class Meta:
        model = Quota
        fields = "__all__"

    def clean(self):
        data = super().clean()
        if data.get("max_cpus") is not None and data["max_cpus"] < 0:
            self.add_error("max_cpus", "A CPU quota cannot be below 0.")
        low, high = data.get("port_min"), data.get("port_max")
        for name, port in (("port_min", low), ("port_max", high)):
            if port is not None and not 1 <= port <= 65535:
                self.add_error(name, f"{port} is not a port: ports are 1-65535.")
        if low is not None and high is not None and low > high:
            self.add_error("port_max", f"The range {low}-{high} is empty: the highest port must be at least "
                                       f"the lowest ({low}).")
        return data


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1


class QuotaInline(admin.StackedInline):
    model = Quota
    form = QuotaForm
    can_delete = False


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "personal", "created")
    search_fields = ("name",)
    inlines = [QuotaInline, MembershipInline]


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    form = QuotaForm
    list_display = ("team", "max_containers", "max_memory_mb", "max_cpus", "max_builds", "max_image_storage_mb",
                    "port_min", "port_max")
    list_editable = ("max_containers", "max_memory_mb", "max_cpus", "max_builds", "max_image_storage_mb",
                     "port_min", "port_max")

    def get_changelist_form(self, request, **kwargs):
        return super().get_changelist_form(request, form=QuotaForm, **kwargs)  # the list's edits are checked too
