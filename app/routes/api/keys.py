"""API keys through the API itself: list, get, create, rotate, revoke (scope `admin`).

The secret is in the answer to create and rotate only; it is never stored and cannot be read again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from litestar import Controller, Request, delete, get, post
from litestar.params import Parameter
from msgspec import Meta, Struct
from redis.asyncio import Redis

from app.services import api_keys
from app.web.api_auth import ADMIN, ApiCaller, ApiController, api_actor, error_responses
from app.web.api_pages import Page, decode_cursor, encode_cursor, page_limit

SCOPE = {"scope": ADMIN}
TAGS = ["keys"]
SCOPE_NOTE = "Scope: `admin`."


class ApiKeyOut(Struct):
    id: int
    name: str
    # The first characters of the key, to tell keys apart: the rest is never shown again.
    prefix: str
    mode: str
    status: str
    scopes: list[str]
    allowed_ips: list[str]
    rate_limit: int
    created_at: datetime
    expires_at: datetime | None = None
    rotated_at: datetime | None = None
    previous_valid_until: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    last_used_ip: str = ""


class NewApiKey(Struct):
    name: Annotated[str, Meta(min_length=1, max_length=api_keys.NAME_LENGTH)]
    scopes: Annotated[list[str], Meta(description=f"Any of: {', '.join(api_keys.SCOPES)}. `admin` implies all.")]
    sandbox: Annotated[bool, Meta(description="A test key (`ig_test_…`): nothing it sends leaves the machine.")] = False
    expires_at: datetime | None = None
    allowed_ips: Annotated[list[str], Meta(description="Addresses or CIDR ranges the key may be used from; "
                                                       "none means any.")] = []
    rate_limit: Annotated[int, Meta(ge=1, le=api_keys.MAX_RATE_LIMIT,
                                    description="Requests per minute.")] = api_keys.DEFAULT_RATE_LIMIT


class ApiKeySecret(Struct):
    key: ApiKeyOut
    secret: Annotated[str, Meta(description="The whole key, shown this once: store it now.")]


def key_out(row: dict) -> ApiKeyOut:
    return ApiKeyOut(
        id=row["id"], name=row["name"], prefix=api_keys.masked_prefix(row["prefix"]),
        mode="test" if row["sandbox"] else "live", status=api_keys.key_status(row), scopes=list(row["scopes"]),
        allowed_ips=list(row["allowed_ips"]), rate_limit=row["rate_limit"], created_at=row["created_at"],
        expires_at=row["expires_at"], rotated_at=row["rotated_at"], revoked_at=row["revoked_at"],
        previous_valid_until=row["previous_valid_until"] if row["rotated_at"] else None,
        last_used_at=row["last_used_at"], last_used_ip=row["last_used_ip"],
    )


class ApiKeysController(ApiController):
    path = "/api/v1/keys"
    tags = TAGS

    @get("/", opt=SCOPE, summary="List API keys", operation_id="listApiKeys", responses=error_responses(400),
         description=f"The workspace's keys, oldest first, masked. {SCOPE_NOTE}")
    async def list_keys(self, caller: ApiCaller, limit: int | None = None,
                        cursor: str | None = None) -> Page[ApiKeyOut]:
        size = page_limit(limit)
        after = decode_cursor(cursor) or 0
        if not isinstance(after, int):
            after = 0
        rows = await api_keys.list_keys(caller.workspace_id, after_id=after, limit=size + 1)
        more = len(rows) > size
        rows = rows[:size]
        return Page(data=[key_out(row) for row in rows], next_cursor=encode_cursor(rows[-1]["id"]) if more else None)

    @get("/{key_id:int}", opt=SCOPE, summary="Get an API key", operation_id="getApiKey",
         responses=error_responses(404), description=f"One key, masked. {SCOPE_NOTE}")
    async def get_key(self, caller: ApiCaller, key_id: int) -> ApiKeyOut:
        return key_out(await api_keys.get_key(caller.workspace_id, key_id))

    @post("/", opt=SCOPE, summary="Create an API key", operation_id="createApiKey",
          responses=error_responses(400, 409, 422),
          description=f"A new key; its secret is in this answer only. {SCOPE_NOTE}")
    async def create_key(self, request: Request, caller: ApiCaller, data: NewApiKey, redis: Redis) -> ApiKeySecret:
        row, secret = await api_keys.create_audited_key(
            redis, caller.workspace_id, api_actor(caller, request), name=data.name, scopes=data.scopes,
            sandbox=data.sandbox, expires_at=data.expires_at, allowed_ips=data.allowed_ips,
            rate_limit=data.rate_limit)
        return ApiKeySecret(key=key_out(row), secret=secret)

    @post("/{key_id:int}/rotate", opt=SCOPE, status_code=200, summary="Rotate an API key",
          operation_id="rotateApiKey", responses=error_responses(400, 404, 409, 422),
          description="A new secret for the key, in this answer only; the old secret keeps working for "
                      f"`grace_hours` (24 by default, 0 ends it now). {SCOPE_NOTE}")
    async def rotate_key(self, request: Request, caller: ApiCaller, key_id: int, redis: Redis,
                         grace_hours: Annotated[int, Parameter(ge=0, le=720)] = 24) -> ApiKeySecret:
        row, secret = await api_keys.rotate_key(redis, caller.workspace_id, key_id, api_actor(caller, request),
                                                grace=timedelta(hours=grace_hours))
        return ApiKeySecret(key=key_out(row), secret=secret)

    @delete("/{key_id:int}", opt=SCOPE, status_code=200, summary="Revoke an API key", operation_id="revokeApiKey",
            responses=error_responses(404, 409),
            description=f"The key (both its secrets, during a rotation) is refused from now on. {SCOPE_NOTE}")
    async def revoke_key(self, request: Request, caller: ApiCaller, key_id: int, redis: Redis) -> ApiKeyOut:
        return key_out(await api_keys.revoke_key(redis, caller.workspace_id, key_id, api_actor(caller, request)))


CONTROLLERS: list[type[Controller]] = [ApiKeysController]
