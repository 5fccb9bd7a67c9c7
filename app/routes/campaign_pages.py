"""What the campaign pages show: the values each wizard step is filled with, and each page's template data.

Kept apart from the handlers (app/routes/campaigns.py) so those stay a screen of parse, call, render.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from redis.asyncio import Redis

from app.routes.portals import permitted, section_context
from app.services import campaigns, delivery_servers, kill_switch, lists, sending_domains, templates
from app.services.accounts import Viewer, now
from app.services.bounces import rates
from app.services.campaigns import Audience, recipient_count, review, variants
from app.services.campaigns.click_map import LinkClicks, click_map
from app.services.campaigns.drafts import PAGE_SIZE
from app.services.campaigns.pace import PaceMeter, pace, percent_done
from app.services.campaigns.reports import LOG_PAGE, engagement
from app.services.segments import list_segments
from app.services.throttling import pauses
from app.services.tracking.conversions import campaign_conversions
from app.services.tracking.recipients import one_click_problem
from app.settings import get_settings
from app.web.permissions import CHANGE

STEPS = (("setup", "Setup"), ("audience", "Audience"), ("content", "Content"), ("delivery", "Delivery"),
         ("review", "Review"))
DETAIL = "mailing/campaigns/show.html"
HEAD = "mailing/campaigns/partials/head.html"
LIVE = "mailing/campaigns/partials/live.html"
AB_RESULTS = "mailing/campaigns/partials/ab_results.html"
LOG_ROWS = "mailing/campaigns/partials/log_rows.html"
ENGAGEMENT = "mailing/campaigns/partials/engagement.html"
CONVERSION_ROWS = "mailing/campaigns/partials/conversion_rows.html"
# The newest conversions the campaign page shows; older ones are a click away.
CONVERSIONS_SHOWN = 10
FINISHED = ("sent", "cancelled", "failed")
STATUS_LABELS = {"draft": "Draft", "scheduled": "Scheduled", "sending": "Sending", "paused": "Paused", "sent": "Sent",
                 "cancelled": "Cancelled", "failed": "Failed"}
UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
MULTI_FIELDS = ("pool_server_ids", "list_ids", "segment_ids", "exclusion_segment_ids")
VARIANT_FIELDS = tuple(f"variant_{n}_{field}" for n in range(1, variants.MOST_VARIANTS + 1)
                       for field in ("subject", "from_name", "template_id"))
# Each step's single-value fields and multi-value fields, by the contract's names (the columns').
STEP_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "setup": (("name", "from_name", "from_email", "reply_to", "subject", "preheader", "tags", *UTM, "routing_tag"),
              ("pool_server_ids",)),
    "audience": (("exclude_recent_days",), ("list_ids", "segment_ids", "exclusion_segment_ids")),
    "content": (("template_id", "ab_dimension", "ab_test_percent", "ab_metric", "ab_wait_minutes", *VARIANT_FIELDS),
                ()),
    "delivery": (("send_mode", "scheduled_at", "timezone", "window_start", "window_end", "speed_per_hour"), ()),
}
SEND_MODES = (("now", "Now"), ("at", "At a time in a time zone"), ("local", "At a time in each recipient's time zone"),
              ("best_hour", "At each recipient's best hour (from their opens)"))
DIMENSIONS = (("", "No test"), ("subject", "Subject"), ("from_name", "From name"), ("content", "Content (template)"))
METRICS = (("opens", "Opens"), ("clicks", "Clicks"), ("conversions", "Conversions"))
# The wizard step where the field a launch refused is set.
FIELD_STEPS = {"name": "setup", "from_email": "setup", "from_name": "setup", "subject": "setup",
               "reply_to": "setup", "list_ids": "audience", "segment_ids": "audience", "template_id": "content",
               "ab_dimension": "content", "scheduled_at": "delivery", "send_mode": "delivery", "timezone": "delivery"}


def step_input(form: Any, step: str) -> dict[str, Any]:
    """Only the step's own fields, each present (an unticked box is an empty choice, not a field left alone)."""
    single, multi = STEP_FIELDS[step]
    raw: dict[str, Any] = {name: str(form.get(name) or "") for name in single}
    raw.update({name: [str(value) for value in form.getall(name, [])] for name in multi})
    return raw


def chosen_of_form(form: Any) -> dict[str, set[int]]:
    return {field: {int(value) for value in form.getall(field, []) if str(value).isdigit()} for field in MULTI_FIELDS}


def _chosen_of(campaign: Mapping[str, Any] | None) -> dict[str, set[int]]:
    return {field: set((campaign or {}).get(field) or ()) for field in MULTI_FIELDS}


def _clock(minutes: int | None) -> str:
    return "" if minutes is None else "{:02d}:{:02d}".format(*divmod(minutes, 60))


def _local(moment: datetime | None, zone: str) -> str:
    return "" if moment is None else moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def _blank_or(value: Any) -> str:
    return "" if value is None else str(value)


def values_of(campaign: Mapping[str, Any], rows: list[dict]) -> dict[str, str]:
    """The campaign as the wizard's forms show it (the same names they post)."""
    values = {name: str(campaign[name] or "") for name in (
        "name", "from_name", "from_email", "reply_to", "subject", "preheader", "routing_tag", "ab_dimension",
        "ab_metric", "send_mode", "timezone")}
    utm = campaign["utm"] or {}
    values.update({name: str(utm.get(name, "")) for name in UTM})
    values.update(tags=", ".join(campaign["tags"] or ()), template_id=_blank_or(campaign["template_id"]),
                  exclude_recent_days=_blank_or(campaign["exclude_recent_days"]),
                  ab_test_percent=str(campaign["ab_test_percent"]), ab_wait_minutes=str(campaign["ab_wait_minutes"]),
                  scheduled_at=_local(campaign["scheduled_at"], campaign["timezone"]),
                  window_start=_clock(campaign["window_start"]), window_end=_clock(campaign["window_end"]),
                  speed_per_hour=_blank_or(campaign["speed_per_hour"]))
    for row in rows:
        n = row["variant"]
        values.update({f"variant_{n}_subject": row["subject"], f"variant_{n}_from_name": row["from_name"],
                       f"variant_{n}_template_id": _blank_or(row["template_id"])})
    return values


@functools.cache
def time_zones() -> tuple[str, ...]:
    # "Factory" and "localtime" are artefacts of the tz database, not places anyone lives.
    return tuple(sorted(zone for zone in available_timezones() if zone not in ("Factory", "localtime")))


async def _setup_data(workspace_id: int, campaign: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"servers": await delivery_servers.servers(workspace_id),
            "domains": await sending_domains.domains(workspace_id)}


async def _audience_data(workspace_id: int, campaign: Mapping[str, Any] | None) -> dict[str, Any]:
    audience = Audience.of(campaign) if campaign else Audience()
    return {"list_choices": [{"id": row["id"], "name": row["name"], "note": f"{row['confirmed']:,} confirmed"}
                             for row in await lists.lists_with_counts(workspace_id)],
            "segment_choices": [{"id": row["id"], "name": row["name"], "note": "" if row["cached_count"] is None
                                 else f"{row['cached_count']:,} when last counted"}
                                for row in await list_segments(workspace_id)],
            "count": 0 if audience.empty else await recipient_count(workspace_id, audience)}


async def _content_data(workspace_id: int, campaign: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"templates": await templates.library(workspace_id), "dimensions": DIMENSIONS, "metrics": METRICS,
            "variant_numbers": range(1, variants.MOST_VARIANTS + 1)}


async def _delivery_data(workspace_id: int, campaign: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"time_zones": time_zones(), "send_modes": SEND_MODES,
            "one_click_problem": one_click_problem(get_settings().base_url)}


async def _review_data(workspace_id: int, campaign: Mapping[str, Any] | None) -> dict[str, Any]:
    assert campaign is not None
    checked = await review.review(workspace_id, campaign["id"])
    scheduled = campaign["scheduled_at"]
    return {"review": checked, "stop": await kill_switch.stop_for(workspace_id),
            "schedules": scheduled is not None and scheduled > now(), "field_steps": FIELD_STEPS,
            "step_titles": dict(STEPS),
            "check_steps": {key: FIELD_STEPS[field] for key, field in review.FIELDS.items() if field in FIELD_STEPS}}


STEP_DATA = {"setup": _setup_data, "audience": _audience_data, "content": _content_data,
             "delivery": _delivery_data, "review": _review_data}


async def step_context(viewer: Viewer, workspace_id: int, campaign: Mapping[str, Any] | None, step: str,
                       chosen: dict[str, set[int]] | None = None) -> dict[str, Any]:
    """A wizard step's page: the campaign's values (or, after refused input, what was chosen) and the step's data."""
    rows = await variants.variants_of(workspace_id, campaign["id"]) if campaign else []
    return {**section_context("mailing", "campaigns"), "campaign": campaign, "step": step, "steps": STEPS,
            "errors": {}, "form": values_of(campaign, rows) if campaign else {},
            "chosen": chosen if chosen is not None else _chosen_of(campaign),
            "can": permitted(viewer, CHANGE, "campaigns.send"),
            **await STEP_DATA[step](workspace_id, campaign)}


async def index_context(viewer: Viewer, workspace_id: int, before: int | None) -> dict[str, Any]:
    rows = await campaigns.campaigns_page(workspace_id, before_id=before)
    return {**section_context("mailing", "campaigns"), "campaigns": rows, "before": before,
            "next_before": rows[-1]["id"] if len(rows) == PAGE_SIZE else None,
            "labels": STATUS_LABELS, "can": permitted(viewer, CHANGE, "campaigns.send", "sending.stop"),
            "stop": await kill_switch.workspace_stop(workspace_id), "platform_stop": await kill_switch.platform_stop(),
            "errors": {}, "form": {}}


async def server_names(workspace_id: int) -> dict[str, str]:
    return {str(row["id"]): row["name"] for row in await delivery_servers.servers(workspace_id)}


async def live_context(redis: Redis, viewer: Viewer, campaign: Mapping[str, Any],
                       meter: PaceMeter | None = None) -> dict[str, Any]:
    """The figures that change while the campaign sends, and what its head shows."""
    figures = await campaigns.live_figures(redis, campaign)
    return {"campaign": campaign, "figures": figures, "percent": percent_done(figures),
            "pace": pace(campaign, figures, now(), meter.per_second() if meter else None),
            "servers": await server_names(campaign["workspace_id"]), "labels": STATUS_LABELS,
            "finished": campaign["status"] in FINISHED,
            "can": permitted(viewer, CHANGE, "campaigns.send")}


async def latest_conversions(workspace_id: int, campaign_id: int) -> list[dict[str, Any]]:
    return await campaign_conversions(workspace_id, campaign_id, limit=CONVERSIONS_SHOWN)


async def engagement_context(redis: Redis, campaign: Mapping[str, Any], links: list[LinkClicks] | None = None,
                             conversions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Opens, clicks, robots, web views, unsubscribes, conversions and revenue against the messages delivered,
    bounces and complaints, the click map and the latest conversions (each read unless the caller passes the
    one it holds)."""
    workspace_id, campaign_id = campaign["workspace_id"], campaign["id"]
    delivered = (await campaigns.live_figures(redis, campaign))["sent"]
    if conversions is None:
        conversions = await latest_conversions(workspace_id, campaign_id)
    return {"campaign": campaign, "engagement": await engagement(redis, campaign, delivered),
            "feedback": await rates.campaign_rates(workspace_id, campaign_id),
            "campaign_judged_from": pauses.MIN_SENT_FOR_HARD,
            "click_map": links if links is not None else await click_map(workspace_id, campaign_id),
            "conversions": conversions, "older": older_than_shown(conversions)}


def older_than_shown(conversions: list[dict[str, Any]], shown: int = CONVERSIONS_SHOWN) -> int | None:
    """Where the next page of conversions starts, None when these are all there are."""
    return conversions[-1]["id"] if len(conversions) == shown else None


async def log_context(workspace_id: int, campaign_id: int, email: str = "", before: int | None = None) -> dict:
    rows = await campaigns.delivery_log(workspace_id, campaign_id, email=email, before_id=before)
    return {"log": rows, "log_email": email.strip(), "log_before": before, "campaign_id": campaign_id,
            "older": rows[-1]["id"] if len(rows) == LOG_PAGE else None,
            "servers": await server_names(workspace_id)}


async def detail_context(viewer: Viewer, workspace_id: int, campaign_id: int, redis: Redis) -> dict[str, Any]:
    campaign = await campaigns.get_campaign(workspace_id, campaign_id)
    return {**section_context("mailing", "campaigns"), **await live_context(redis, viewer, campaign),
            **await log_context(workspace_id, campaign_id),
            **(await engagement_context(redis, campaign) if campaign["status"] != "draft" else {}),
            "ab_results": await variants.ab_results(workspace_id, campaign_id),
            "template": await templates.get_template(workspace_id, campaign["template_id"])
            if campaign["template_id"] else None,
            "live": campaign["status"] not in (*FINISHED, "draft")}
