"""Draft → scheduled → sending ⇄ paused → sent / cancelled: launching, scheduling, pausing, resuming, cancelling.

Launching a draft first reviews it (`review.py`) and refuses while a check
finds a problem; it then snapshots the template (subject, HTML, text,
preheader, version), and each A/B variant's content on the variant's row, so
editing a template later never changes a campaign already on its way.
Every change is a compare-and-set on the status, so two people (or a person
and the scheduler) acting at once cannot both win, and each is audited with
its change in one transaction.

A scheduled campaign starts when the scheduler finds it due. One whose time
passed more than the latest-start grace ago (the platform was down) is held
instead: it stays scheduled with the reason, and waits for a person to start
it or pick a new time, rather than going out hours late.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from app.db.campaigns import Campaign
from app.services import audit, kill_switch, statements
from app.services.accounts import now
from app.services.audit import SYSTEM, Actor
from app.services.campaigns import counters, send_times
from app.services.campaigns.drafts import CampaignError, get_campaign
from app.services.campaigns.ending import note_progress
from app.services.campaigns.materialise import materialise
from app.services.campaigns.queue import SendQueue, enqueue_ranges
from app.services.campaigns.review import launch_review
from app.services.campaigns.variants import SentContent, store_snapshots
from app.services.routing import domain_groups
from app.services.sqlparams import fetch
from app.services.tenancy import owned_by
from app.settings import get_settings

CANCELLABLE = ("scheduled", "sending", "paused")


async def _reviewed_snapshot(redis: Redis, workspace_id: int, campaign: dict) -> tuple[dict, list[SentContent]]:
    """The content the draft will send, frozen now (an A/B test's own snapshot is its first variant's).

    CampaignError names every problem the review finds, field by field.
    """
    checked = await launch_review(redis, workspace_id, campaign)
    if not checked.can_launch:
        raise CampaignError(checked.problems_by_field())
    return {**checked.sent[0].snapshot(), "snapshot_at": now()}, checked.sent


async def _move(redis: Redis, workspace_id: int, campaign_id: int, actor: Actor, action: str,
                from_statuses: tuple[str, ...], values: Mapping[Any, Any], details: dict | None = None,
                variants: Sequence[SentContent] = ()) -> bool:
    """Change the campaign when it is in one of `from_statuses`, with its audit entry; False when it was not.

    `variants` are the A/B variants whose snapshots are frozen with the change.
    """
    async with audit.change(redis, workspace_id, actor) as change:
        rows = await Campaign.update({**values, Campaign.updated_at: now()}).where(
            owned_by(Campaign, workspace_id), Campaign.id == campaign_id, Campaign.status.is_in(list(from_statuses))
        ).returning(Campaign.id)
        if rows:
            await store_snapshots(workspace_id, campaign_id, variants)
            change.note(action, "campaign", campaign_id, details)
    return bool(rows)


async def launch(redis: Redis, queue: SendQueue, workspace_id: int, campaign_id: int, actor: Actor) -> dict:
    """Send a draft now, or schedule it when it has a time in the future; a scheduled campaign starts now."""
    campaign = await get_campaign(workspace_id, campaign_id)
    if campaign["status"] not in ("draft", "scheduled"):
        raise CampaignError(f"This campaign is {campaign['status']}: it cannot be launched again. "
                            "Duplicate it to send the same content as a new campaign.")
    values: dict[Any, Any] = {}
    variants: list[SentContent] = []
    if campaign["status"] == "draft":
        values, variants = await _reviewed_snapshot(redis, workspace_id, campaign)
    # A local-time campaign starts when the earliest time zone reaches its time.
    future = (start := send_times.starts_at(campaign)) is not None and start > now()
    if campaign["status"] == "draft" and future:
        await _move(redis, workspace_id, campaign_id, actor, "campaign.scheduled", ("draft",),
                    {**values, Campaign.status: "scheduled", Campaign.status_reason: ""},
                    {"at": campaign["scheduled_at"].isoformat(), "timezone": campaign["timezone"]}, variants)
    else:
        await _start(redis, queue, workspace_id, campaign_id, actor, values, variants)
    return await get_campaign(workspace_id, campaign_id)


async def _start(redis: Redis, queue: SendQueue, workspace_id: int, campaign_id: int, actor: Actor,
                 values: Mapping[Any, Any], variants: Sequence[SentContent] = ()) -> bool:
    if not await kill_switch.may_start(workspace_id, actor):
        return False
    # Created here, once: send workers routing their first batches at the same moment would race to create them.
    await domain_groups(workspace_id)
    started = await _move(redis, workspace_id, campaign_id, actor, "campaign.started", ("draft", "scheduled"), {
        **values, Campaign.status: "sending", Campaign.status_reason: "", Campaign.started_at: now()},
        variants=variants)
    if started:
        await note_progress(redis, campaign_id)
        # The first, small chunk right here: its batches reach the workers without waiting for a materialiser.
        await materialise(redis, queue, workspace_id, campaign_id, chunks=1)
        queue.materialise(workspace_id, campaign_id)
    return started


async def unschedule(redis: Redis, workspace_id: int, campaign_id: int, actor: Actor) -> dict:
    """Back to a draft, to change it or its time."""
    await get_campaign(workspace_id, campaign_id)
    if not await _move(redis, workspace_id, campaign_id, actor, "campaign.unscheduled", ("scheduled",),
                       {Campaign.status: "draft", Campaign.status_reason: ""}):
        raise CampaignError("Only a scheduled campaign can go back to draft.")
    return await get_campaign(workspace_id, campaign_id)


async def pause(redis: Redis, workspace_id: int, campaign_id: int, actor: Actor, reason: str = "") -> dict:
    """No batch is claimed from now on; batches already rendering put their messages back. `reason` says
    on the campaign's page why, when it was not a person's choice."""
    await get_campaign(workspace_id, campaign_id)
    if not await _move(redis, workspace_id, campaign_id, actor, "campaign.paused", ("sending",),
                       {Campaign.status: "paused", Campaign.status_reason: reason},
                       {"reason": reason} if reason else None):
        raise CampaignError("Only a campaign that is sending can be paused.")
    await counters.flush(redis, workspace_id, campaign_id)
    return await get_campaign(workspace_id, campaign_id)


async def queue_due(redis: Redis, queue: SendQueue, workspace_id: int, campaign_id: int) -> int:
    """Queue every delivery a send actor could claim now, in batches; returns how many batches."""
    ranges = await statements.run("campaigns.due-ranges", workspace_id, campaign_id,
                                  get_settings().sending.batch_size)
    await note_progress(redis, campaign_id)
    return enqueue_ranges(queue, workspace_id, campaign_id, [(row["first_id"], row["last_id"]) for row in ranges])


async def resume(redis: Redis, queue: SendQueue, workspace_id: int, campaign_id: int, actor: Actor) -> dict:
    campaign = await get_campaign(workspace_id, campaign_id)
    await kill_switch.refuse_while_stopped(workspace_id)
    if not await _move(redis, workspace_id, campaign_id, actor, "campaign.resumed", ("paused",),
                       {Campaign.status: "sending", Campaign.status_reason: ""}):
        raise CampaignError("Only a paused campaign can be resumed.")
    if campaign["materialised_at"] is None:
        queue.materialise(workspace_id, campaign_id)
    await queue_due(redis, queue, workspace_id, campaign_id)
    return await get_campaign(workspace_id, campaign_id)


async def cancel(redis: Redis, workspace_id: int, campaign_id: int, actor: Actor) -> dict:
    """Stop for good: nothing more is claimed, and every delivery still waiting is cancelled."""
    await get_campaign(workspace_id, campaign_id)
    if not await _move(redis, workspace_id, campaign_id, actor, "campaign.cancelled", CANCELLABLE,
                       {Campaign.status: "cancelled", Campaign.finished_at: now()}):
        raise CampaignError("Only a scheduled, sending or paused campaign can be cancelled.")
    await statements.run("campaigns.cancel-open", workspace_id, campaign_id)
    await counters.reconcile(redis, workspace_id, campaign_id)
    return await get_campaign(workspace_id, campaign_id)


def held_reason(scheduled_at: datetime, late: timedelta) -> str:
    minutes = int(late.total_seconds() // 60)
    return (f"Not started: its time ({scheduled_at:%Y-%m-%d %H:%M} UTC) passed {minutes} minutes ago while sending "
            "was stopped. Start it now or choose a new time.")


async def start_due(redis: Redis, queue: SendQueue, latest_start: timedelta | None = None) -> list[int]:
    """Start the scheduled campaigns whose time has come (across workspaces); hold those too late to start."""
    grace = latest_start or timedelta(minutes=get_settings().sending.latest_start_minutes)
    # A local-time campaign starts up to 27 hours before its scheduled_at (its time in UTC+14 vs its own zone);
    # the bound keeps the scheduled_at index in use.
    due = await fetch(f"SELECT c.id, c.workspace_id, {send_times.STARTS_AT_SQL} AS starts_at, now() AS now "
                      "FROM campaigns c WHERE c.status = 'scheduled' AND c.status_reason = '' "
                      f"AND c.scheduled_at <= now() + interval '27 hours' AND {send_times.STARTS_AT_SQL} <= now() "
                      "ORDER BY 3")
    started = []
    for row in due:
        late = row["now"] - row["starts_at"]
        if late > grace:
            await _move(redis, row["workspace_id"], row["id"], SYSTEM, "campaign.held", ("scheduled",),
                        {Campaign.status_reason: held_reason(row["starts_at"], late)},
                        {"late_minutes": int(late.total_seconds() // 60)})
        elif await _start(redis, queue, row["workspace_id"], row["id"], SYSTEM, {}):
            started.append(row["id"])
    return started
