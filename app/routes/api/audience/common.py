"""What the audience API's handlers share: cursors, audit entries under the key, lists of the caller's
workspace, the API's names for form fields.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from litestar import Request
from msgspec import UNSET, Struct
from redis.asyncio import Redis

from app.services import audit, lists
from app.services.forms import FormError
from app.web.api_auth import ApiCaller
from app.web.api_pages import decode_cursor, encode_cursor
from app.web.errors import ApiError

LISTS, SUBSCRIBERS_READ, SUBSCRIBERS_WRITE = "lists:manage", "subscribers:read", "subscribers:write"


def api_fields(exc: FormError) -> FormError:
    """The service's form field names as the API names them (`field_city` is `fields.city`)."""
    return FormError({(f"fields.{key.removeprefix('field_')}" if key.startswith("field_") else key): message
                      for key, message in exc.errors.items()})


def after_id(cursor: str | None) -> int | None:
    position = decode_cursor(cursor)
    if position is not None and (isinstance(position, bool) or not isinstance(position, int) or position < 0):
        raise ApiError(400, "invalid_cursor", "That cursor was not given by this API.", {"cursor": "invalid"})
    return position


def next_cursor(rows: list[dict], limit: int) -> str | None:
    return encode_cursor(rows[-1]["id"]) if len(rows) == limit else None


def _actor(request: Request, caller: ApiCaller) -> audit.Actor:
    return audit.Actor(user_id=None, email=f"API key #{caller.key_id}", ip=request.client.host if request.client
                       else "")


def audited(request: Request, caller: ApiCaller, redis: Redis) -> AbstractAsyncContextManager[audit.Change]:
    """A change and its audit entry in one transaction, by the key, as the UI records a person's."""
    return audit.change(redis, caller.workspace_id, _actor(request, caller))


async def list_of(workspace_id: int, list_id: int) -> dict:
    found = await lists.get_list(workspace_id, list_id)
    if found is None:
        raise LookupError("list")
    return found


def unset_removed(patch: Struct) -> dict[str, Any]:
    return {name: getattr(patch, name) for name in patch.__struct_fields__ if getattr(patch, name) is not UNSET}
