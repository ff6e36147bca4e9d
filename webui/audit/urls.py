from django.urls import path

from . import views

urlpatterns = [
    path("audit/", views.fleet_audit, name="audit"),
    path("teams/<int:team_id>/audit/", views.team_audit, name="team_audit"),
]
