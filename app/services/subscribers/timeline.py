"""A person's timeline: every message sent to them and everything they (or robots on their behalf) did with
it, across all their subscriptions in the workspace (one subscriber row per list, one address), newest first.

Pages go back by a keyset cursor over (time, sends after events of the same instant, id). The live page
asks for what arrived after a watermark instead: events by id (ids grow as rows are written, whatever
time the event happened) and sends by the time they went out, so an event the aggregator writes late
still shows up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.db.campaigns import Campaign
from app.services import statements
from app.services.automations.reports import FlowPath, flows_of_campaigns, person_paths
from app.services.campaigns.click_map import sent_links
from app.services.subscribers.records import subscriber_of
from app.services.tenancy import owned_by

PAGE_SIZE = 50
SENT, EVENT = 0, 1  # the rank of a send and of an event: at one instant, the event shows above the send
ROBOT_KINDS = ("machine_open", "bot_click")
WORDS = {"sent": "Sent", "open": "Opened", "click": "Clicked a link in", "machine_open": "Opened by a machine",
         "bot_click": "A robot fetched a link in", "web_view": "Read in a browser", "unsubscribe": "Unsubscribed",
         "conversion": "Converted", "bounce": "A bounce came back for", "complaint": "Marked as spam"}
BOUNCE_KINDS = {"hard": "hard bounce", "soft": "soft bounce", "block": "blocked by the receiving server",
                "unknown": "unrecognised bounce"}
UNSUBSCRIBE_SCOPES = {"list": "from this list", "all": "from every list", "preferences": "in the preference centre"}
UNSUBSCRIBE_VIA = {"one-click": "with the mail app's unsubscribe button", "page": "on the unsubscribe page",
                   "preferences": "in the preference centre",
                   "mailto": "by email to the unsubscribe address (the mail app's unsubscribe button)"}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    words: str  # what happened, e.g. "Clicked a link in"
    campaign_id: int | None
    campaign_name: str
    detail: str  # the link, the mail app, the revenue ...
    robot_rule: str  # for machine opens and bot clicks: the rule that flagged them
    cursor: str  # `time~rank|id`: the page after this entry starts below it
    link: str = ""  # the campaign's page, or for a flow email its flow's report

    @property
    def robot(self) -> bool:
        return self.kind in ROBOT_KINDS


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    older: str | None  # the cursor of the next page, None when this is the last


@dataclass(frozen=True)
class Watermark:
    """What the page has seen: the newest event row and the newest send."""

    event_id: int
    sent_at: datetime | None

    @property
    def text(self) -> str:
        return f"{self.sent_at.isoformat() if self.sent_at else ''}|{self.event_id}"


def _meta(row: Mapping[str, Any]) -> dict[str, Any]:
    meta = row["meta"]
    # asyncpg hands jsonb over as text.
    meta = json.loads(meta) if isinstance(meta, str) else meta
    return meta if isinstance(meta, dict) else {}


def _mail_app(meta: Mapping[str, Any]) -> str:
    known = [str(meta.get(key) or "") for key in ("client", "os", "device")]
    return " · ".join(part for part in known if part and part != "Other")


def _money(meta: Mapping[str, Any]) -> str:
    revenue, currency = meta.get("revenue"), str(meta.get("currency") or "")
    amount = f"{float(revenue):,.2f} {currency}".strip() if revenue not in (None, "") else ""
    named = [part for part in (str(meta.get("event") or ""), f"offer {meta['offer_id']}" if meta.get("offer_id")
                               else "") if part]
    return ", ".join(part for part in (amount, *named) if part)


def _feedback(meta: Mapping[str, Any]) -> str:
    """A bounce or complaint in words: what kind, its status, and what the receiving server said."""
    kind = BOUNCE_KINDS.get(str(meta.get("category") or ""), "")
    if meta.get("feedback_type"):
        kind = f"reported as {meta['feedback_type']}"
    said = " ".join(str(meta.get(key) or "") for key in ("status", "diagnostic") if meta.get(key))
    return ": ".join(part for part in (kind, said) if part)


async def _link(row: Mapping[str, Any], campaigns: Mapping[int, Mapping[str, Any]]) -> str:
    """The address clicked: stored with the event when built per recipient, else the link of the message."""
    if row["url"]:
        return str(row["url"])
    campaign = campaigns.get(row["campaign_id"])
    if campaign is None or row["link_index"] is None:
        return ""
    try:
        links = await sent_links(campaign, row["variant"] or 0)
    except LookupError:
        return ""
    return links[row["link_index"]].url if row["link_index"] < len(links) else ""


async def _detail(row: Mapping[str, Any], campaigns: Mapping[int, Mapping[str, Any]]) -> str:
    meta, kind = _meta(row), row["kind"]
    if kind in ("click", "bot_click"):
        return await _link(row, campaigns)
    if kind in ("open", "machine_open", "web_view"):
        return _mail_app(meta)
    if kind == "conversion":
        return _money(meta)
    if kind in ("bounce", "complaint"):
        return _feedback(meta)
    if kind == "unsubscribe":
        said = (UNSUBSCRIBE_SCOPES.get(str(meta.get("scope") or "")), UNSUBSCRIBE_VIA.get(str(meta.get("via") or "")))
        return " ".join(part for part in said if part)
    return ""


async def _entries(workspace_id: int, rows: list[dict]) -> list[TimelineEntry]:
    ids = {row["campaign_id"] for row in rows if row["campaign_id"] is not None}
    campaigns = {campaign["id"]: campaign for campaign in await Campaign.select().where(
        owned_by(Campaign, workspace_id), Campaign.id.is_in(list(ids)))} if ids else {}
    flows = await flows_of_campaigns(workspace_id, [key for key, row in campaigns.items() if row["kind"] == "flow"])
    entries = []
    for row in rows:
        campaign = campaigns.get(row["campaign_id"])
        entries.append(TimelineEntry(
            at=row["at"], kind=row["kind"], words=WORDS.get(row["kind"], row["kind"].replace("_", " ")),
            campaign_id=row["campaign_id"], campaign_name=campaign["name"] if campaign else "",
            detail=await _detail(row, campaigns), robot_rule=str(_meta(row).get("rule") or ""),
            cursor=f"{row['at'].isoformat()}~{row['rank']}|{row['id']}",
            link=_link_of(row["campaign_id"], flows)))
    return entries


def _link_of(campaign_id: int | None, flows: Mapping[int, int]) -> str:
    if campaign_id in flows:
        return f"/mailing/automations/{flows[campaign_id]}/report"
    return f"/mailing/campaigns/{campaign_id}"


def _older_than(cursor: tuple[str, int] | None) -> tuple[datetime | None, int, int]:
    """(time, rank, id) of the entry the page starts below; LookupError for a cursor no page gave out."""
    if cursor is None:
        return None, 0, 0
    text, last_id = cursor
    moment, _, rank = text.rpartition("~")
    try:
        return datetime.fromisoformat(moment), int(rank), last_id
    except ValueError as error:
        raise LookupError(f"no timeline page at {text!r}") from error


async def timeline(workspace_id: int, subscriber_id: int, older_than: tuple[str, int] | None = None,
                   limit: int = PAGE_SIZE) -> TimelinePage:
    """A page of the person's timeline, newest first, starting below the `older_than` cursor."""
    subscriber = await subscriber_of(workspace_id, subscriber_id)
    moment, rank, last_id = _older_than(older_than)
    rows = await statements.run("engagement.timeline", workspace_id, subscriber["email"], moment, rank, last_id,
                                limit)
    entries = await _entries(workspace_id, rows)
    return TimelinePage(entries, entries[-1].cursor if len(entries) == limit else None)


async def watermark(workspace_id: int, subscriber_id: int) -> Watermark:
    """How far the person's timeline goes now: what a live page has already seen."""
    subscriber = await subscriber_of(workspace_id, subscriber_id)
    row = (await statements.run("engagement.timeline-watermark", workspace_id, subscriber["email"]))[0]
    return Watermark(row["event_id"], row["sent_at"])


def _seen(since: tuple[str, int]) -> Watermark:
    text, event_id = since
    try:
        return Watermark(event_id, datetime.fromisoformat(text) if text else None)
    except ValueError as error:
        raise LookupError(f"no timeline watermark {text!r}") from error


async def arrived_since(workspace_id: int, subscriber_id: int, since: tuple[str, int],
                        limit: int = PAGE_SIZE) -> tuple[list[TimelineEntry], Watermark]:
    """Entries written after the watermark (`sent_at|event id`), newest first, and the watermark after them."""
    subscriber = await subscriber_of(workspace_id, subscriber_id)
    seen = _seen(since)
    rows = await statements.run("engagement.timeline-since", workspace_id, subscriber["email"], seen.event_id,
                                seen.sent_at, limit)
    if not rows:
        return [], seen
    events = [row["id"] for row in rows if row["rank"] == EVENT]
    sends = [row["at"] for row in rows if row["rank"] == SENT]
    after = Watermark(max(events, default=seen.event_id),
                      max([*sends, seen.sent_at] if seen.sent_at else sends, default=None))
    return await _entries(workspace_id, rows), after


async def flow_paths(workspace_id: int, subscriber_id: int) -> list[FlowPath]:
    """The flows the person entered (any of their subscriptions), newest first, with the steps each ran."""
    subscriber = await subscriber_of(workspace_id, subscriber_id)
    return await person_paths(workspace_id, subscriber["email"])
