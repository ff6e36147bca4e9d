from django.urls import path

from . import views

urlpatterns = [
    path("invitations/", views.invitation_list, name="invitations"),
    path("invitations/<int:invitation_id>/accept/", views.invitation_accept, name="invitation_accept"),
    path("invitations/<int:invitation_id>/decline/", views.invitation_decline, name="invitation_decline"),
    path("invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("teams/<int:team_id>/members/", views.team_members, name="team_members"),
    path("teams/<int:team_id>/members/<int:user_id>/role/", views.member_role, name="member_role"),
    path("teams/<int:team_id>/members/<int:user_id>/remove/", views.member_remove, name="member_remove"),
]
