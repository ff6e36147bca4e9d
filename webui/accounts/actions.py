from django.db import transaction

from webui.audit.log import record

from .models import Membership, Quota, Team


@transaction.atomic
def give_personal_team(user) -> Team:
    """Every user owns a personal team, so every object they make has a team."""
    name = user.get_username()
    candidate, n = name, 1
    while Team.objects.filter(name=candidate).exists():
        n += 1
        candidate = f"{name}-{n}"
    team = Team.objects.create(name=candidate, personal=True)
    Membership.objects.create(team=team, user=user, role=Membership.OWNER)
    Quota.objects.create(team=team)
    record(None, team, "team.create", team, personal=True, owner=name)
    return team

