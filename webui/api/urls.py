from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from . import build_queue_views, host_views, quota_views, team_views, views

router = DefaultRouter()
router.register("apps", views.AppViewSet, basename="api-app")
router.register("builds", views.BuildViewSet, basename="api-build")
router.register("containers", views.ContainerViewSet, basename="api-container")
router.register("hosts", host_views.HostViewSet, basename="api-host")
router.register("images", views.ImageViewSet, basename="api-image")
router.register("teams", team_views.TeamViewSet, basename="api-team")
router.register("invitations", team_views.InvitationViewSet, basename="api-invitation")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("teams/<int:id>/audit/", team_views.TeamAuditView.as_view(), name="api-team-audit"),
    path("teams/<int:id>/quota/", quota_views.TeamQuotaView.as_view(), name="api-team-quota"),
    path("builds/<int:id>/queue/", build_queue_views.BuildQueueView.as_view(), name="api-build-queue"),
    path("audit/", team_views.FleetAuditView.as_view(), name="api-audit"),
    path("", include(router.urls)),
]
