"""API keys for tests: a key of a workspace with the scopes a test needs, and its Authorization header."""

from __future__ import annotations

from collections.abc import Sequence

from app.services.api_keys import create_key


async def api_key(workspace: dict, scopes: Sequence[str] = ("admin",), sandbox: bool = False, **options) -> str:
    """The secret of a new key of `workspace` (options: expires_at, allowed_ips, rate_limit, name)."""
    _, secret = await create_key(workspace["id"], name=options.pop("name", "test key"), scopes=scopes,
                                 sandbox=sandbox, **options)
    return secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
