"""Who is signed in, and what their role lets them do. Guards only; no decisions about data."""

from __future__ import annotations

from collections.abc import Callable

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from app.redis_client import get_redis
from app.services.accounts import ROLE_RANK, Viewer, viewer_for
from app.services.lockout import session_revoked

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Set on a handler (opt={...}) that any member may call with a state-changing method.
ANY_MEMBER = "any_member"


async def signed_in(connection: ASGIConnection, route_handler: BaseRouteHandler) -> None:
    """Load the viewer into connection state; analysts may look but not change anything."""
    session = connection.session if "session" in connection.scope else {}
    user_id = session.get("user_id") if session else None
    viewer = await viewer_for(int(user_id), session.get("workspace_id")) if user_id else None
    if viewer is None or await session_revoked(get_redis(), viewer.user_id, float(session.get("signed_in_at", 0))):
        raise NotAuthorizedException("Sign in to continue.")
    connection.state.viewer = viewer
    method = connection.scope.get("method", "GET")
    if method not in SAFE_METHODS and viewer.role == "analyst" and not route_handler.opt.get(ANY_MEMBER):
        raise PermissionDeniedException("Analysts have read-only access to this workspace.")


def require_role(minimum: str) -> Callable[[ASGIConnection, BaseRouteHandler], None]:
    if minimum not in ROLE_RANK:
        raise ValueError(minimum)

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        viewer: Viewer = connection.state.viewer
        if not viewer.has_role(minimum):
            raise PermissionDeniedException(f"This needs the {minimum} role or higher.")

    guard.__name__ = f"require_{minimum}"
    return guard


def current_viewer(connection: ASGIConnection) -> Viewer:
    return connection.state.viewer


def client_ip(connection: ASGIConnection) -> str:
    client = connection.scope.get("client")
    return client[0] if client else ""


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go to after sign-in; anything that could leave the site becomes `default`."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\n" in target:
        return default
    return target
