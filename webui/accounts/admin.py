from django.contrib import admin

from .models import Membership, Quota, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1


class QuotaInline(admin.StackedInline):
    model = Quota
    can_delete = False


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "personal", "created")
    search_fields = ("name",)
    inlines = [QuotaInline, MembershipInline]


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ("team", "max_containers", "max_memory_mb", "max_cpus")
    list_editable = ("max_containers", "max_memory_mb", "max_cpus")
