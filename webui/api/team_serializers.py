"""What the teams, members, invitations and audit parts of the API return and take."""
from __future__ import annotations

from rest_framework import serializers

from webui.accounts.models import Membership, Team
from webui.audit.models import AuditEntry
from webui.invitations.models import Invitation


class TeamSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="Yours in the team; null for an admin who is not in it.")

    class Meta:
        model = Team
        fields = ("id", "name", "personal", "role", "created")
        read_only_fields = fields

    def get_role(self, team) -> str | None:
        user = self.context["request"].user
        membership = team.memberships.filter(user=user).first()
        return membership.role if membership else None


class MemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ("user_id", "username", "role")
        read_only_fields = fields


class InvitationSerializer(serializers.ModelSerializer):
    team = serializers.CharField(source="team.name", read_only=True)
    user = serializers.CharField(source="user.username", read_only=True)
    invited_by = serializers.CharField(source="invited_by.username", read_only=True, default=None)

    class Meta:
        model = Invitation
        fields = ("id", "team_id", "team", "user", "role", "invited_by", "status", "created", "answered")
        read_only_fields = fields


class InviteRequestSerializer(serializers.Serializer):
    who = serializers.CharField(max_length=254, help_text="The username or e-mail of the user to invite.")
    role = serializers.ChoiceField(choices=Membership.ROLES)


class RoleRequestSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.ROLES)


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = ("id", "when", "username", "team_id", "team_name", "action", "object_type", "object_id",
                  "object_name", "details")
        read_only_fields = fields
