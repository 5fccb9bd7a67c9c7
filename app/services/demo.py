"""The demo workspace that a fresh installation starts with."""

from __future__ import annotations

import secrets

from app.db.accounts import User
from app.services.accounts import add_member, create_user, create_workspace

DEMO_EMAIL = "admin@example.com"
DEMO_WORKSPACE = "Demo Workspace"


async def create_demo_workspace() -> tuple[str, str] | None:
    """On an empty installation, a demo workspace with an owner; returns (email, password) once."""
    if await User.exists():
        return None
    password = secrets.token_urlsafe(12)
    async with User._meta.db.transaction():
        workspace = await create_workspace(DEMO_WORKSPACE)
        user = await create_user(DEMO_EMAIL, password, name="Demo Admin")
        await add_member(workspace["id"], user["id"], "owner")
    return DEMO_EMAIL, password
