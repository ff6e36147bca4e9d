"""The websocket behind a live table of running containers (host and team pages): one
stats stream per running container, named ``c<id>``, and the rows as the state."""
from __future__ import annotations

from webui.core.consumers import StreamConsumer
from workers import streams


class ContainerTableConsumer(StreamConsumer):
    """Subclasses give ``kind``, ``load_allowed`` and ``table_state()``."""

    url_kwarg = ""

    def object_id(self) -> int:
        return self.scope["url_route"]["kwargs"][self.url_kwarg]

    def table_state(self) -> dict:
        raise NotImplementedError

    def load_state(self) -> dict:
        state = self.table_state()
        # Kept for streams(), which runs in the event loop where the database may not be
        # touched; StreamConsumer loads the state first. A container that starts later
        # changes the state, and the page reconnects to get its stream.
        self.running = [row["id"] for row in state["containers"]]
        return state

    def streams(self) -> dict[str, str]:
        return {f"c{cid}": streams.container_stats(cid) for cid in self.running}
