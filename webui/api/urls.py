from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("apps", views.AppViewSet, basename="api-app")
router.register("builds", views.BuildViewSet, basename="api-build")
router.register("containers", views.ContainerViewSet, basename="api-container")
router.register("hosts", views.HostViewSet, basename="api-host")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("", include(router.urls)),
]
