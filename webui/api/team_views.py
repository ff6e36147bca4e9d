"""The API's teams: their members and roles, invitations, and each team's audit log.

As in the pages: another team's objects are 404; a change that needs a role the user lacks
(a viewer's write, a member's invitation) is 403; a refused action is 400 with its reason.
"""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from webui.accounts.models import Team
from webui.audit import log
from webui.core.access import can_manage, teams_seen_by
from webui.core.errors import UserError
from webui.invitations import actions as invitations
from webui.invitations import members
from webui.invitations.models import Invitation

from . import params
from . import team_serializers as s


def _refused(exc: UserError) -> ValidationError:
    return ValidationError({"detail": str(exc)})


def _managing(user, team) -> None:
    if not can_manage(user, team):
        raise PermissionDenied(f"Only the owners of {team} (and admins) can do this.")


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    """Your teams, with your role in each (admins: every team)."""

    serializer_class = s.TeamSerializer

    def get_queryset(self):
        return teams_seen_by(self.request.user).order_by("name")

    @extend_schema(responses={200: s.MemberSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def members(self, request, pk=None):
        return Response(s.MemberSerializer(members.members_of(self.get_object()), many=True).data)

    @extend_schema(methods=["PATCH"], request=s.RoleRequestSerializer, responses={200: s.MemberSerializer},
                   description="Change the member's role (owners and admins).")
    @extend_schema(methods=["DELETE"], request=None, responses={204: None},
                   description="Remove the member (owners and admins), or leave the team (your own user ID).")
    @action(detail=True, methods=["patch", "delete"], url_path=r"members/(?P<user_id>[0-9]+)")
    def member(self, request, pk=None, user_id=None):
        team = self.get_object()
        membership = get_object_or_404(team.memberships.select_related("user", "team"), user_id=user_id)
        if request.method == "DELETE":
            return self._remove(request, membership)
        _managing(request.user, team)
        body = s.RoleRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            members.change_role(request.user, membership, body.validated_data["role"])
        except UserError as exc:
            raise _refused(exc) from None
        return Response(s.MemberSerializer(membership).data)

    def _remove(self, request, membership):
        if membership.user_id != request.user.id:
            _managing(request.user, membership.team)
        try:
            members.remove_member(request.user, membership)
        except UserError as exc:
            raise _refused(exc) from None
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], responses={200: s.InvitationSerializer(many=True)},
                   description="The team's pending invitations (owners and admins).")
    @extend_schema(methods=["POST"], request=s.InviteRequestSerializer, responses={201: s.InvitationSerializer},
                   description="Invite a user by username or e-mail, with a role (owners and admins).")
    @action(detail=True, methods=["get", "post"])
    def invitations(self, request, pk=None):
        team = self.get_object()
        _managing(request.user, team)
        if request.method == "GET":
            return Response(s.InvitationSerializer(invitations.pending_of_team(team), many=True).data)
        body = s.InviteRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            invitation = invitations.invite(request.user, team, body.validated_data["who"],
                                            body.validated_data["role"])
        except UserError as exc:
            raise _refused(exc) from None
        return Response(s.InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


def _invitee(user, invitation) -> None:
    if invitation.user_id != user.id:
        raise PermissionDenied(f"This invitation is for {invitation.user}: only they can answer it.")


def _team_manager(user, invitation) -> None:
    _managing(user, invitation.team)


class InvitationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Invitations: the list is those waiting for your answer; one is seen by whom it invites and by
    the owners of its team (and admins)."""

    serializer_class = s.InvitationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular's schema run: no user
            return Invitation.objects.none()
        if self.action == "list":
            return invitations.pending_for(self.request.user).order_by("-created", "-id")
        return invitations.visible_to(self.request.user).order_by("id")

    def _answer(self, request, answer, allowed):
        invitation = self.get_object()
        allowed(request.user, invitation)
        try:
            invitation = answer(request.user, invitation)
        except UserError as exc:
            raise _refused(exc) from None
        return Response(s.InvitationSerializer(invitation).data)

    @extend_schema(request=None, responses={200: s.InvitationSerializer})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._answer(request, invitations.accept, _invitee)

    @extend_schema(request=None, responses={200: s.InvitationSerializer})
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        return self._answer(request, invitations.decline, _invitee)

    @extend_schema(request=None, responses={200: s.InvitationSerializer},
                   description="Revoke a pending invitation (the team's owners and admins).")
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        return self._answer(request, invitations.revoke, _team_manager)


class AuditPagination(PageNumberPagination):
    page_size = 50


ACTION_FILTER = OpenApiParameter("action", str, description="only entries of this action, e.g. container.stop")


@extend_schema(parameters=[ACTION_FILTER])
class TeamAuditView(generics.ListAPIView):
    """A team's audit log, newest first (owners and admins)."""

    serializer_class = s.AuditEntrySerializer
    pagination_class = AuditPagination

    def get_queryset(self):
        team = get_object_or_404(teams_seen_by(self.request.user), id=self.kwargs["id"])
        _managing(self.request.user, team)
        return log.entries(team, self.request.query_params.get("action", ""))


@extend_schema(parameters=[ACTION_FILTER, OpenApiParameter("team", int, description="only this team's entries")])
class FleetAuditView(generics.ListAPIView):
    """Every team's audit log, and what belongs to no team (API tokens), newest first (admins)."""

    serializer_class = s.AuditEntrySerializer
    pagination_class = AuditPagination

    def get_queryset(self):
        if not self.request.user.is_staff:
            raise NotFound()  # as the hosts: not there for others
        team_id = self.request.query_params.get("team", "")
        if team_id and not params.is_whole_number(team_id):
            raise ValidationError({"team": "team must be a team's ID (a whole number)"})
        team = get_object_or_404(Team, id=team_id) if team_id else None
        return log.entries(team, self.request.query_params.get("action", ""))
