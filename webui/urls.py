from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from webui.accounts import views as teams
from webui.containers import views as containers
from webui.history import views as history
from webui.hosts import views as hosts
from webui.api import tokens
from webui.images import image_views, views as images
from webui.metrics import views as metrics
from webui.volumes import views as volumes

admin.site.site_header = admin.site.site_title = "Berth administration"
admin.site.index_title = "Hosts, teams and quotas"

urlpatterns = [
    path("", images.dashboard, name="dashboard"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("apps/new/", images.app_new, name="app_new"),
    path("apps/<int:app_id>/", images.app_detail, name="app"),
    path("apps/<int:app_id>/settings/", images.app_settings, name="app_settings"),
    path("apps/<int:app_id>/delete/", images.app_delete, name="app_delete"),
    path("apps/<int:app_id>/build/", images.app_build, name="app_build"),
    path("apps/<int:app_id>/run/", images.app_run, name="app_run"),
    path("builds/<int:build_id>/", images.build_detail, name="build"),
    path("builds/<int:build_id>/log/", images.build_log, name="build_log"),
    path("builds/<int:build_id>/cancel/", images.build_cancel, name="build_cancel"),
    path("containers/<int:container_id>/", containers.container_detail, name="container"),
    path("containers/<int:container_id>/log/", containers.container_log, name="container_log"),
    path("containers/<int:container_id>/stop/", containers.container_stop, name="container_stop"),
    path("containers/<int:container_id>/kill/", containers.container_kill, name="container_kill"),
    path("containers/<int:container_id>/restart/", containers.container_restart, name="container_restart"),
    path("containers/<int:container_id>/remove/", containers.container_remove, name="container_remove"),
    path("containers/<int:container_id>/history/", history.container_history, name="container_history"),
    path("hosts/", hosts.host_list, name="hosts"),
    path("hosts/<int:host_id>/", hosts.host_detail, name="host"),
    path("hosts/<int:host_id>/cordon/", hosts.host_cordon, name="host_cordon"),
    path("hosts/<int:host_id>/drain/", hosts.host_drain, name="host_drain"),
    path("hosts/<int:host_id>/labels/", hosts.host_labels, name="host_labels"),
    path("hosts/<int:host_id>/remove/", hosts.host_remove, name="host_remove"),
    path("hosts/join-tokens/", hosts.join_token_create, name="join_token_create"),
    path("hosts/join-tokens/<int:token_id>/revoke/", hosts.join_token_revoke, name="join_token_revoke"),
    path("hosts/<int:host_id>/history/", history.host_history, name="host_history"),
    path("teams/", teams.team_list, name="teams"),
    path("teams/<int:team_id>/", teams.team_detail, name="team"),
    path("teams/<int:team_id>/history/", history.team_history, name="team_history"),
    path("teams/<int:team_id>/volumes/", volumes.volume_list, name="volumes"),
    path("volumes/<int:volume_id>/remove/", volumes.volume_remove, name="volume_remove"),
    path("teams/<int:team_id>/images/", image_views.team_images, name="team_images"),
    path("teams/<int:team_id>/images/prune/", image_views.images_prune, name="images_prune"),
    path("builds/<int:build_id>/image/remove/", image_views.image_remove, name="image_remove"),
    path("metrics", metrics.metrics, name="metrics"),
    path("api/", include("webui.api.urls")),
    path("", include("webui.invitations.urls")),
    path("", include("webui.audit.urls")),
    path("account/tokens/", tokens.token_list, name="tokens"),
    path("account/tokens/<int:token_id>/revoke/", tokens.token_revoke, name="token_revoke"),
    path("admin/", admin.site.urls),
]
