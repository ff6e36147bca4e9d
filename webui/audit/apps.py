from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "webui.audit"
    label = "audit"
    verbose_name = "Audit log"
