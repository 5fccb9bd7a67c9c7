"""Who is signed in, and what their role lets them do. Guards only; no decisions about data."""

from __future__ import annotations

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from app.redis_client import get_redis
from app.services.accounts import Viewer, viewer_for
from app.services.lockout import session_revoked
from app.web.permissions import minimum_role


async def signed_in(connection: ASGIConnection, route_handler: BaseRouteHandler) -> None:
    """Load the viewer into connection state and hold the request to the permissions table."""
    session = connection.session if "session" in connection.scope else {}
    user_id = session.get("user_id") if session else None
    viewer = await viewer_for(int(user_id), session.get("workspace_id")) if user_id else None
    if viewer is None or await session_revoked(get_redis(), viewer.user_id, float(session.get("signed_in_at", 0))):
        raise NotAuthorizedException("Sign in to continue.")
    connection.state.viewer = viewer
    needed = minimum_role(route_handler.opt, connection.scope.get("method", "GET"))
    if not viewer.has_role(needed):
        if viewer.role == "analyst":
            raise PermissionDeniedException("Analysts have read-only access to this workspace.")
        raise PermissionDeniedException(f"This needs the {needed} role or higher.")


def current_viewer(request: Request) -> Viewer:
    """The `viewer` dependency: handlers name it as a parameter (Litestar injects by name)."""
    return request.state.viewer


def current_workspace_id(request: Request) -> int:
    """The `workspace_id` dependency: the workspace every query of the request is held to."""
    return request.state.viewer.workspace_id


def client_ip(connection: ASGIConnection) -> str:
    client = connection.scope.get("client")
    return client[0] if client else ""


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go to after sign-in; anything that could leave the site becomes `default`."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\n" in target:
        return default
    return target
