"""Campaigns through the API (`campaigns:manage`): drafts created and changed, then scheduled, started, paused,
resumed, cancelled, and their statistics.

Everything goes through the campaign services the wizard and the campaign page use, so the same rules hold:
a draft's fields are checked as the wizard checks them (a verified sending domain, ids of this workspace), a
launch is reviewed first (a problem is a 422 naming the field), every move is a compare-and-set on the status
(a campaign not in a state that allows it is a 409 `invalid_state`), and a stopped workspace starts nothing
(409 `sending_stopped`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from litestar import Request, get, patch, post
from msgspec import UNSET, Struct, UnsetType
from redis.asyncio import Redis

from app.routes.api.common import BodyId, Cursor, Limit, id_after, page_limit, page_of, shaped
from app.routes.api.statistics import CampaignStatistics, campaign_statistics
from app.services import audit, campaigns
from app.services.accounts import now
from app.services.campaigns import send_times
from app.services.campaigns.drafts import CampaignError
from app.services.kill_switch import SendingStopped
from app.tasks.sending import QUEUE
from app.web.api_auth import ApiCaller, ApiController, api_actor, error_responses
from app.web.api_pages import Page
from app.web.errors import ApiError

SCOPE = {"scope": "campaigns:manage"}
# Fields whose value is a list of ids; the rest are plain values (None clears one).
ID_LISTS = ("list_ids", "segment_ids", "exclusion_segment_ids", "pool_server_ids")
WINDOW = ("window_start", "window_end")


class CampaignFields(Struct):
    """A draft's fields; one left out keeps its value, null clears it. Times without an offset are read in
    `timezone` (the campaign's, else the workspace's)."""

    from_name: str | UnsetType | None = UNSET
    from_email: str | UnsetType | None = UNSET
    reply_to: str | UnsetType | None = UNSET
    subject: str | UnsetType | None = UNSET
    preheader: str | UnsetType | None = UNSET
    template_id: BodyId | UnsetType | None = UNSET
    routing_tag: str | UnsetType | None = UNSET
    tags: list[str] | UnsetType = UNSET
    list_ids: list[BodyId] | UnsetType = UNSET
    segment_ids: list[BodyId] | UnsetType = UNSET
    exclusion_segment_ids: list[BodyId] | UnsetType = UNSET
    exclude_recent_days: int | UnsetType | None = UNSET
    pool_server_ids: list[BodyId] | UnsetType = UNSET
    utm_source: str | UnsetType | None = UNSET
    utm_medium: str | UnsetType | None = UNSET
    utm_campaign: str | UnsetType | None = UNSET
    utm_content: str | UnsetType | None = UNSET
    utm_term: str | UnsetType | None = UNSET
    # now, at (scheduled_at), local (scheduled_at in each recipient's zone), best_hour.
    send_mode: str | UnsetType | None = UNSET
    scheduled_at: datetime | UnsetType | None = UNSET
    timezone: str | UnsetType | None = UNSET
    # A sending window in the recipient's local time, "HH:MM".
    window_start: str | UnsetType | None = UNSET
    window_end: str | UnsetType | None = UNSET
    speed_per_hour: int | UnsetType | None = UNSET


class CampaignCreate(CampaignFields, kw_only=True):
    name: str


class CampaignUpdate(CampaignFields, kw_only=True):
    name: str | UnsetType = UNSET


class ScheduleInput(Struct):
    scheduled_at: datetime
    timezone: str | UnsetType = UNSET
    # at: at that moment; local: at that wall-clock time in each recipient's zone; best_hour: on that day, at
    # each recipient's best hour.
    send_mode: str = "at"


class CampaignOut(Struct):
    id: int
    name: str
    status: str
    status_reason: str
    from_name: str
    from_email: str
    reply_to: str
    subject: str
    preheader: str
    template_id: int | None
    routing_tag: str
    tags: list[str]
    utm: dict[str, str]
    list_ids: list[int]
    segment_ids: list[int]
    exclusion_segment_ids: list[int]
    exclude_recent_days: int | None
    pool_server_ids: list[int]
    send_mode: str
    scheduled_at: datetime | None
    timezone: str
    window_start: str | None
    window_end: str | None
    speed_per_hour: int | None
    recipient_count: int
    sent_count: int
    failed_count: int
    skipped_count: int
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime


def _clock(minutes: int | None) -> str | None:
    return None if minutes is None else "{:02d}:{:02d}".format(*divmod(minutes, 60))


def _shown(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row as the API shows it: the sending window as clock times, as it is given."""
    return {**row, **{name: _clock(row[name]) for name in WINDOW}}


def _campaign(row: Mapping[str, Any]) -> CampaignOut:
    return shaped(_shown(row), CampaignOut)


def _raw(data: CampaignFields) -> dict[str, Any]:
    """The fields given, as the draft services read a submitted step: null is an emptied field."""
    raw: dict[str, Any] = {}
    for name in data.__struct_fields__:
        value = getattr(data, name)
        if value is UNSET:
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        raw[name] = [] if value is None and name in ID_LISTS else "" if value is None else value
    return raw


@asynccontextmanager
async def _unless_stopped() -> AsyncIterator[None]:
    """A start or resume a kill switch refuses, as a 409 naming the stop."""
    try:
        yield
    except SendingStopped as exc:
        raise ApiError(409, "sending_stopped", str(exc)) from exc


@asynccontextmanager
async def _state_change() -> AsyncIterator[None]:
    """A move the campaign's status does not allow, or one a kill switch refuses, as a 409 with its reason."""
    try:
        async with _unless_stopped():
            yield
    except CampaignError as exc:
        raise ApiError(409, "invalid_state", str(exc)) from exc


async def _draft(workspace_id: int, campaign_id: int, doing: str) -> dict:
    campaign = await campaigns.get_campaign(workspace_id, campaign_id)
    if campaign["status"] != "draft":
        raise ApiError(409, "invalid_state", f"This campaign is {campaign['status']}: only a draft can be {doing}.")
    return campaign


class CampaignApi(ApiController):
    path = "/api/v1/campaigns"
    tags = ["campaigns"]

    @get("/", opt=SCOPE, operation_id="listCampaigns", summary="List campaigns",
         description="Scope `campaigns:manage`. Newest first, a page at a time; figures from the counters.",
         responses=error_responses(400, 403))
    async def index(self, caller: ApiCaller, limit: Limit = None, cursor: Cursor = None) -> Page[CampaignOut]:
        size = page_limit(limit)
        rows = await campaigns.campaigns_page(caller.workspace_id, id_after(cursor), size + 1)
        return page_of([_shown(row) for row in rows], size, CampaignOut)

    @post("/", opt=SCOPE, operation_id="createCampaign", summary="Create a draft",
          description="Scope `campaigns:manage`. Each field is checked as the wizard checks it: the sender's "
                      "domain must be a verified sending domain; lists, segments, template and servers must be "
                      "this workspace's (404 otherwise).", responses=error_responses(400, 403, 404, 422))
    async def create(self, request: Request, caller: ApiCaller, data: CampaignCreate, redis: Redis) -> CampaignOut:
        async with audit.change(redis, caller.workspace_id, api_actor(caller, request)) as change:
            created = await campaigns.create_draft(caller.workspace_id, _raw(data))
            change.note("campaign.created", "campaign", created["id"], {"name": created["name"]})
        return _campaign(created)

    @get("/{campaign_id:int}", opt=SCOPE, operation_id="getCampaign", summary="Get a campaign",
         description="Scope `campaigns:manage`.", responses=error_responses(403, 404))
    async def show(self, caller: ApiCaller, campaign_id: int) -> CampaignOut:
        return _campaign(await campaigns.get_campaign(caller.workspace_id, campaign_id))

    @patch("/{campaign_id:int}", opt=SCOPE, operation_id="updateCampaign", summary="Change a draft",
           description="Scope `campaigns:manage`. Only the fields given change; only a draft can be changed (409 "
                       "otherwise: unschedule a scheduled one first).",
           responses=error_responses(400, 403, 404, 409, 422))
    async def update(self, request: Request, caller: ApiCaller, campaign_id: int, data: CampaignUpdate,
                     redis: Redis) -> CampaignOut:
        await _draft(caller.workspace_id, campaign_id, "changed")
        async with audit.change(redis, caller.workspace_id, api_actor(caller, request)) as change:
            saved = await campaigns.update_draft(caller.workspace_id, campaign_id, _raw(data))
            change.note("campaign.updated", "campaign", campaign_id, {"fields": sorted(_raw(data))})
        return _campaign(saved)

    @post("/{campaign_id:int}/schedule", opt=SCOPE, operation_id="scheduleCampaign", summary="Schedule a draft",
          description="Scope `campaigns:manage`. Sets the time, reviews the draft and schedules it; the time must "
                      "be ahead. A review problem is a 422 naming the field.", status_code=200,
          responses=error_responses(400, 403, 404, 409, 422))
    async def schedule(self, request: Request, caller: ApiCaller, campaign_id: int, data: ScheduleInput,
                       redis: Redis) -> CampaignOut:
        await _draft(caller.workspace_id, campaign_id, "scheduled")
        timing = {"send_mode": data.send_mode, "scheduled_at": data.scheduled_at.isoformat()}
        if data.timezone is not UNSET:
            timing["timezone"] = data.timezone
        if data.send_mode not in send_times.TIMED_MODES:
            raise CampaignError({"send_mode": f"Choose one of: {', '.join(send_times.TIMED_MODES)}."})
        draft = await campaigns.update_draft(caller.workspace_id, campaign_id, timing)
        if (start := send_times.starts_at(draft)) is None or start <= now():
            raise CampaignError({"scheduled_at": "Choose a time ahead: that one has passed."})
        async with _unless_stopped():
            launched = await campaigns.launch(redis, QUEUE, caller.workspace_id, campaign_id,
                                              api_actor(caller, request))
        return _campaign(launched)

    @post("/{campaign_id:int}/start", opt=SCOPE, operation_id="startCampaign", summary="Start sending now",
          description="Scope `campaigns:manage`. A draft is reviewed and starts now (whatever time it had); a "
                      "scheduled campaign starts now. A review problem is a 422 naming the field.", status_code=200,
          responses=error_responses(403, 404, 409, 422))
    async def start(self, request: Request, caller: ApiCaller, campaign_id: int, redis: Redis) -> CampaignOut:
        campaign = await campaigns.get_campaign(caller.workspace_id, campaign_id)
        if campaign["status"] not in ("draft", "scheduled"):
            raise ApiError(409, "invalid_state", f"This campaign is {campaign['status']}: it cannot start again.")
        if campaign["status"] == "draft" and campaign["send_mode"] != "now":
            await campaigns.update_draft(caller.workspace_id, campaign_id, {"send_mode": "now"})
        async with _unless_stopped():
            started = await campaigns.launch(redis, QUEUE, caller.workspace_id, campaign_id,
                                             api_actor(caller, request))
        return _campaign(started)

    @post("/{campaign_id:int}/unschedule", opt=SCOPE, operation_id="unscheduleCampaign",
          summary="Back to draft", description="Scope `campaigns:manage`. A scheduled campaign goes back to draft, "
          "to be changed or given a new time.", status_code=200, responses=error_responses(403, 404, 409))
    async def unschedule(self, request: Request, caller: ApiCaller, campaign_id: int, redis: Redis) -> CampaignOut:
        await campaigns.get_campaign(caller.workspace_id, campaign_id)
        async with _state_change():
            return _campaign(await campaigns.unschedule(redis, caller.workspace_id, campaign_id,
                                                        api_actor(caller, request)))

    @post("/{campaign_id:int}/pause", opt=SCOPE, operation_id="pauseCampaign", summary="Pause sending",
          description="Scope `campaigns:manage`. Nothing more is claimed until it is resumed.", status_code=200,
          responses=error_responses(403, 404, 409))
    async def pause(self, request: Request, caller: ApiCaller, campaign_id: int, redis: Redis) -> CampaignOut:
        async with _state_change():
            return _campaign(await campaigns.pause(redis, caller.workspace_id, campaign_id,
                                                   api_actor(caller, request)))

    @post("/{campaign_id:int}/resume", opt=SCOPE, operation_id="resumeCampaign", summary="Resume sending",
          description="Scope `campaigns:manage`. A paused campaign sends again; refused while sending is stopped.",
          status_code=200, responses=error_responses(403, 404, 409))
    async def resume(self, request: Request, caller: ApiCaller, campaign_id: int, redis: Redis) -> CampaignOut:
        async with _state_change():
            return _campaign(await campaigns.resume(redis, QUEUE, caller.workspace_id, campaign_id,
                                                    api_actor(caller, request)))

    @post("/{campaign_id:int}/cancel", opt=SCOPE, operation_id="cancelCampaign", summary="Cancel for good",
          description="Scope `campaigns:manage`. A scheduled, sending or paused campaign stops; every message still "
                      "waiting is cancelled.", status_code=200, responses=error_responses(403, 404, 409))
    async def cancel(self, request: Request, caller: ApiCaller, campaign_id: int, redis: Redis) -> CampaignOut:
        async with _state_change():
            return _campaign(await campaigns.cancel(redis, caller.workspace_id, campaign_id,
                                                    api_actor(caller, request)))

    @get("/{campaign_id:int}/statistics", opt=SCOPE, operation_id="getCampaignStatistics",
         summary="Statistics of a campaign",
         description="Scope `campaigns:manage` (or `stats:read` at /api/v1/statistics/campaigns/{id}). Sent, "
                     "delivered, bounces, complaints, opens, clicks, unsubscribes, conversions and revenue from "
                     "the counters.", responses=error_responses(403, 404))
    async def statistics(self, caller: ApiCaller, campaign_id: int, redis: Redis) -> CampaignStatistics:
        return await campaign_statistics(redis, caller.workspace_id, campaign_id)


CONTROLLERS = [CampaignApi]
