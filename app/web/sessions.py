"""Server-side sessions in Redis whose id changes at sign-in (no session fixation).

Litestar's server-side backend keeps the id from the incoming cookie even
after the session is cleared, so an id planted before sign-in would carry the
signed-in session. `rotate_session()` marks the request; the backend then
deletes the old id and stores the session under a fresh one.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Message, ScopeSession

_ROTATE = "ignite_rotate_session"
_NEW_ID = "ignite_new_session_id"


def rotate_session(connection: ASGIConnection, data: dict) -> None:
    """Replace the session with `data` under a new id."""
    connection.clear_session()
    connection.set_session(data)
    connection.scope.setdefault("state", {})[_ROTATE] = True


class RotatingSessionBackend(ServerSideSessionBackend):
    def get_session_id(self, connection: ASGIConnection) -> str:
        return connection.scope.get("state", {}).get(_NEW_ID) or super().get_session_id(connection)

    async def store_in_message(self, scope_session: ScopeSession, message: Message, connection: ASGIConnection) -> None:
        state = connection.scope.setdefault("state", {})
        if state.get(_ROTATE) and _NEW_ID not in state:
            old_id = connection.cookies.get(self.config.key)
            if old_id:
                await self.delete(old_id, store=self.config.get_store_from_app(connection.scope["app"]))
            state[_NEW_ID] = self.generate_session_id()
        await super().store_in_message(scope_session, message, connection)


@dataclass
class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend  # type: ignore[assignment]
