"""Server-side sessions in Redis whose id changes at sign-in (no session fixation).

Litestar's server-side backend keeps the id from the incoming cookie even
after the session is cleared, so an id planted before sign-in would carry the
signed-in session. `rotate_session()` picks a fresh id at once (so CSRF tokens
can be bound to it within the same response); the backend then deletes the
old id and stores the session under the new one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Message, ScopeSession

SESSION_COOKIE = "ignite_session"
_NEW_ID = "ignite_new_session_id"
_OLD_DELETED = "ignite_old_session_deleted"


def rotate_session(connection: ASGIConnection, data: dict) -> None:
    """Replace the session with `data` under a new id."""
    connection.clear_session()
    connection.set_session(data)
    connection.scope.setdefault("state", {})[_NEW_ID] = secrets.token_hex(32)


def session_binding(connection: ASGIConnection) -> str:
    """The id of the signed-in session this request belongs to, '' before sign-in: what CSRF tokens bind to."""
    session = connection.scope.get("session")
    if not isinstance(session, dict) or not session.get("user_id"):
        return ""
    return connection.scope.get("state", {}).get(_NEW_ID) or connection.cookies.get(SESSION_COOKIE, "")


class RotatingSessionBackend(ServerSideSessionBackend):
    def get_session_id(self, connection: ASGIConnection) -> str:
        return connection.scope.get("state", {}).get(_NEW_ID) or super().get_session_id(connection)

    async def store_in_message(self, scope_session: ScopeSession, message: Message, connection: ASGIConnection) -> None:
        state = connection.scope.setdefault("state", {})
        if state.get(_NEW_ID) and not state.get(_OLD_DELETED):
            old_id = connection.cookies.get(self.config.key)
            if old_id:
                await self.delete(old_id, store=self.config.get_store_from_app(connection.scope["app"]))
            state[_OLD_DELETED] = True
        await super().store_in_message(scope_session, message, connection)


@dataclass
class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend  # type: ignore[assignment]
