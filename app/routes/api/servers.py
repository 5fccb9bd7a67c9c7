"""Delivery servers through the API, read-only (`stats:read`): their settings that are not credentials, status,
quotas and last health check. Credentials are never part of an answer, not even masked."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from litestar import get
from msgspec import Struct

from app.routes.api.common import shaped
from app.services import delivery_servers
from app.web.api_auth import ApiCaller, ApiController, error_responses
from app.web.api_pages import Page

SCOPE = {"scope": "stats:read"}


class ServerOut(Struct):
    id: int
    name: str
    kind: str
    status: str
    status_reason: str
    from_email: str
    from_name: str
    per_second: int
    hourly_quota: int
    daily_quota: int
    monthly_quota: int
    weight: int
    # Decimal, as text: what a thousand messages through this server cost.
    cost_per_thousand: str
    warmup_plan_id: int | None
    warmup_day: int
    allowed_domains: list[str]
    last_check_at: datetime | None
    last_check_ok: bool | None
    last_check_detail: str
    created_at: datetime
    updated_at: datetime


def _server(row: Mapping[str, Any]) -> ServerOut:
    # Only the named columns are read: `settings` and the sealed `secrets` never leave.
    return shaped({**row, "cost_per_thousand": str(row["cost_per_thousand"])}, ServerOut)


class ServerApi(ApiController):
    path = "/api/v1/servers"
    tags = ["delivery servers"]

    @get("/", opt=SCOPE, operation_id="listServers", summary="List delivery servers",
         description="Scope `stats:read`. Every delivery server of the workspace by name (one page).",
         responses=error_responses(403))
    async def index(self, caller: ApiCaller) -> Page[ServerOut]:
        return Page(data=[_server(row) for row in await delivery_servers.servers(caller.workspace_id)])

    @get("/{server_id:int}", opt=SCOPE, operation_id="getServer", summary="Get a delivery server",
         description="Scope `stats:read`.", responses=error_responses(403, 404))
    async def show(self, caller: ApiCaller, server_id: int) -> ServerOut:
        return _server(await delivery_servers.get_server(caller.workspace_id, server_id))


CONTROLLERS = [ServerApi]
