from webui.core.access import visible
from webui.core.consumers import StreamConsumer
from workers import streams

from . import build_queue
from .models import Build


class BuildConsumer(StreamConsumer):
    kind = "build"

    def object_id(self) -> int:
        return self.scope["url_route"]["kwargs"]["build_id"]

    def load_allowed(self, user) -> bool:
        return visible(Build.objects, user, "app__team").filter(id=self.object_id()).exists()

    def streams(self) -> dict[str, str]:
        return {"log": streams.build_log(self.object_id())}

    def load_state(self) -> dict:
        return build_queue.page_state(Build.objects.select_related("app__team", "host").get(id=self.object_id()))
