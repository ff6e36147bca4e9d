from webui.containers.listing import host_state
from webui.containers.tables import ContainerTableConsumer

from .models import Host


class HostConsumer(ContainerTableConsumer):
    kind = "host"
    url_kwarg = "host_id"

    def load_allowed(self, user) -> bool:
        return user.is_staff and Host.objects.filter(id=self.object_id()).exists()

    def table_state(self) -> dict:
        return host_state(Host.objects.get(id=self.object_id()))
