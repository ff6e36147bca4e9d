from webui.containers.listing import team_state
from webui.containers.tables import ContainerTableConsumer
from webui.core.access import teams_of

from .models import Team


class TeamConsumer(ContainerTableConsumer):
    kind = "team"
    url_kwarg = "team_id"

    def load_allowed(self, user) -> bool:
        return teams_of(user).filter(id=self.object_id()).exists()

    def table_state(self) -> dict:
        return team_state(Team.objects.get(id=self.object_id()))
