from django.contrib.auth import get_user_model

from webui.containers.listing import fleet_row, host_state
from webui.containers.tables import ContainerTableConsumer
from webui.core.consumers import StreamConsumer

from .models import Host


class HostConsumer(ContainerTableConsumer):
    kind = "host"
    url_kwarg = "host_id"

    def load_allowed(self, user) -> bool:
        return user.is_staff and Host.objects.filter(id=self.object_id()).exists()

    def table_state(self) -> dict:
        return host_state(Host.objects.get(id=self.object_id()))


class FleetConsumer(StreamConsumer):
    """The Hosts list, live: a host's row again at each of its heartbeats and when it goes down."""

    kind = "fleet"

    def object_id(self) -> int:
        return 0  # one group: the fleet

    def load_allowed(self, user) -> bool:
        return user.is_staff

    def still_allowed(self) -> bool:
        """Asked of the database: the scope's user object is as it was at connect."""
        return get_user_model().objects.filter(id=self.scope["user"].id, is_active=True, is_staff=True).exists()

    def streams(self) -> dict[str, str]:
        return {}

    def load_state(self) -> dict:
        return {"hosts": [fleet_row(host) for host in Host.objects.filter(removed=None).order_by("name")]}
