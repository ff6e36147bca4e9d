from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from . import (build_queue_views, history_views, host_views, image_views, join_token_views, quota_views,
               team_views, token_views, views, volume_views)

router = DefaultRouter()
router.register("apps", views.AppViewSet, basename="api-app")
router.register("builds", views.BuildViewSet, basename="api-build")
router.register("containers", views.ContainerViewSet, basename="api-container")
router.register("hosts", host_views.HostViewSet, basename="api-host")
router.register("images", image_views.ImageViewSet, basename="api-image")
router.register("volumes", volume_views.VolumeViewSet, basename="api-volume")
router.register("join-tokens", join_token_views.JoinTokenViewSet, basename="api-join-token")
router.register("tokens", token_views.ApiTokenViewSet, basename="api-token")
router.register("teams", team_views.TeamViewSet, basename="api-team")
router.register("invitations", team_views.InvitationViewSet, basename="api-invitation")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("teams/<int:id>/audit/", team_views.TeamAuditView.as_view(), name="api-team-audit"),
    path("teams/<int:id>/quota/", quota_views.TeamQuotaView.as_view(), name="api-team-quota"),
    path("builds/<int:id>/queue/", build_queue_views.BuildQueueView.as_view(), name="api-build-queue"),
    path("audit/", team_views.FleetAuditView.as_view(), name="api-audit"),
    path("teams/<int:id>/images/prune/", image_views.TeamImagesPruneView.as_view(), name="api-images-prune"),
    path("containers/<int:id>/history/", history_views.ContainerHistoryView.as_view(),
         name="api-container-history"),
    path("teams/<int:id>/history/", history_views.TeamHistoryView.as_view(), name="api-team-history"),
    path("hosts/<int:id>/history/", history_views.HostHistoryView.as_view(), name="api-host-history"),
    path("", include(router.urls)),
]
