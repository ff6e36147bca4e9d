from webui.core.access import visible
from webui.core.consumers import StreamConsumer
from workers import streams

from .actions import state_of
from .models import Container


class ContainerConsumer(StreamConsumer):
    kind = "container"

    def object_id(self) -> int:
        return self.scope["url_route"]["kwargs"]["container_id"]

    def load_allowed(self, user) -> bool:
        return visible(Container.objects, user, "app__team").filter(id=self.object_id()).exists()

    def streams(self) -> dict[str, str]:
        cid = self.object_id()
        return {"log": streams.container_log(cid), "stats": streams.container_stats(cid)}

    def load_state(self) -> dict:
        return state_of(Container.objects.get(id=self.object_id()))
