"""Kill switches: stop every send of a workspace (owners and admins), or of every workspace (the operator).

A workspace stop is written on the workspace row (when, why, by whom) and
audited with its reason. In the same transaction every campaign of the
workspace that is sending is paused, with the stop's reason as its status
reason: a paused campaign's batches are no longer claimed, and a batch
already claimed puts its messages back when it reads the status before
sending, so sending ends within seconds through the path a pause already
takes. Restarting lifts the stop and resumes exactly the campaigns it paused
(campaigns paused by a person stay paused).

The operator's stop is the SENDING_STOPPED setting or the one row of
`platform_sending_stop` (`ignite stop-sending` / `ignite resume-sending`):
PostgreSQL keeps it across restarts of everything else. It pauses nothing
(resuming would then have to know which campaigns it paused across every
workspace): instead each send batch asks `held_by_operator` before it claims
anything, and while the stop is on the batch is queued again for a minute
later, its rows untouched, so they go out within a minute of the restart.

Launching, resuming and the scheduler's starts refuse while a switch is on
(`may_start`, `refuse_while_stopped`, called by the campaign lifecycle).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from app.db.accounts import Workspace
from app.db.campaigns import Campaign
from app.services import audit, statements
from app.services.accounts import now
from app.services.audit import SYSTEM, Actor
from app.services.campaigns import counters
from app.services.campaigns.ending import note_progress
from app.services.campaigns.queue import SendQueue, enqueue_ranges
from app.services.forms import FormError
from app.services.sqlparams import fetch_positional
from app.services.tenancy import checked_workspace_id, owned_by
from app.settings import get_settings

# The status reason of a campaign paused by the workspace's stop; restarting resumes exactly these.
PAUSED_BY_STOP = "Sending stopped for the workspace: "
REASON_LENGTH = 500
# How often a batch held by the operator's stop looks again.
HELD_RETRY_SECONDS = 60
_STOPS = """
SELECT 'platform' AS scope, stopped_at AS at, reason, stopped_by AS by FROM platform_sending_stop
UNION ALL
SELECT 'workspace', w.sending_stopped_at, w.sending_stopped_reason, coalesce(u.email, '')
FROM workspaces w LEFT JOIN users u ON u.id = w.sending_stopped_by
WHERE w.id = $1::integer AND w.sending_stopped_at IS NOT NULL
"""


class SendingStopped(FormError):
    """Something would start sending while a kill switch is on."""


@dataclass(frozen=True)
class Stop:
    reason: str
    at: datetime | None
    by: str
    # "workspace", or "platform" for the operator's stop.
    scope: str = "workspace"

    def describe(self) -> str:
        who = "the operator" if self.scope == "platform" else (self.by or "an owner or admin")
        where = "every workspace" if self.scope == "platform" else "this workspace"
        return f"Sending is stopped for {where} by {who}: {self.reason}"


def _cleaned_reason(reason: str) -> str:
    cleaned = " ".join(str(reason or "").split())
    if not cleaned:
        raise FormError({"reason": "Say why sending is stopped: the team and the audit log will read it."})
    if len(cleaned) > REASON_LENGTH:
        raise FormError({"reason": f"Keep the reason under {REASON_LENGTH} characters."})
    return cleaned


def _setting_stop() -> Stop | None:
    if get_settings().sending.stopped:
        return Stop("the SENDING_STOPPED setting is on", None, "operator", "platform")
    return None


async def _stops(workspace_id: int) -> list[Stop]:
    rows = await fetch_positional(_STOPS, [checked_workspace_id(workspace_id)])
    return [Stop(row["reason"], row["at"], row["by"], row["scope"]) for row in rows]


async def stop_for(workspace_id: int) -> Stop | None:
    """Why nothing of the workspace may be sent now (the operator's stop first), or None: one query."""
    return _setting_stop() or next(iter(await _stops(workspace_id)), None)


async def workspace_stop(workspace_id: int) -> Stop | None:
    return next((stop for stop in await _stops(workspace_id) if stop.scope == "workspace"), None)


async def platform_stop() -> Stop | None:
    if stop := _setting_stop():
        return stop
    rows = await fetch_positional("SELECT stopped_at, reason, stopped_by FROM platform_sending_stop", [])
    return Stop(rows[0]["reason"], rows[0]["stopped_at"], rows[0]["stopped_by"], "platform") if rows else None


async def held_by_operator(redis: Redis, campaign_id: int) -> bool:
    """True while the operator's stop is on. The campaign's queue is then noted alive, so the reaper does
    not take its held batches for lost ones and queue them a second time."""
    if await platform_stop() is None:
        return False
    await note_progress(redis, campaign_id)
    return True


async def stop_workspace(redis: Redis, workspace_id: int, actor: Actor, reason: str) -> Stop:
    """Stop every send of the workspace now and pause its sending campaigns, audited with the reason."""
    cleaned = _cleaned_reason(reason)
    async with audit.change(redis, workspace_id, actor) as change:
        stopped = await Workspace.update({
            Workspace.sending_stopped_at: now(), Workspace.sending_stopped_reason: cleaned,
            Workspace.sending_stopped_by: actor.user_id,
        }).where(Workspace.id == checked_workspace_id(workspace_id)).returning(Workspace.sending_stopped_at)
        if not stopped:
            raise LookupError("workspace")
        paused = await Campaign.update({
            Campaign.status: "paused", Campaign.status_reason: PAUSED_BY_STOP + cleaned, Campaign.updated_at: now(),
        }).where(owned_by(Campaign, workspace_id), Campaign.status == "sending").returning(Campaign.id)
        change.note("sending.stopped", "workspace", workspace_id,
                    {"reason": cleaned, "paused_campaigns": [row["id"] for row in paused]})
    for row in paused:
        await counters.flush(redis, workspace_id, row["id"])
    return Stop(cleaned, stopped[0]["sending_stopped_at"], actor.email)


async def restart_workspace(redis: Redis, workspace_id: int, actor: Actor, queue: SendQueue | None = None) -> list[int]:
    """Lift the workspace's stop and resume the campaigns it paused; returns their ids.

    With a queue their waiting messages are queued at once; without one the reaper queues them within
    its next minute (their progress mark is cleared, which it reads as "queue lost")."""
    async with audit.change(redis, workspace_id, actor) as change:
        lifted = await Workspace.update({
            Workspace.sending_stopped_at: None, Workspace.sending_stopped_reason: "",
            Workspace.sending_stopped_by: None,
        }).where(Workspace.id == checked_workspace_id(workspace_id),
                 Workspace.sending_stopped_at.is_not_null()).returning(Workspace.id)
        if not lifted:
            return []
        resumed = await Campaign.update({
            Campaign.status: "sending", Campaign.status_reason: "", Campaign.updated_at: now(),
        }).where(owned_by(Campaign, workspace_id), Campaign.status == "paused",
                 Campaign.status_reason.like(PAUSED_BY_STOP + "%")).returning(Campaign.id)
        ids = [row["id"] for row in resumed]
        change.note("sending.restarted", "workspace", workspace_id, {"resumed_campaigns": ids})
    for campaign_id in ids:
        await _requeue(redis, queue, workspace_id, campaign_id)
    return ids


async def _requeue(redis: Redis, queue: SendQueue | None, workspace_id: int, campaign_id: int) -> None:
    if queue is None:
        await redis.delete(counters.key(campaign_id, "progress"))
        return
    ranges = await statements.run("campaigns.due-ranges", workspace_id, campaign_id,
                                  get_settings().sending.batch_size)
    await note_progress(redis, campaign_id)
    enqueue_ranges(queue, workspace_id, campaign_id, [(row["first_id"], row["last_id"]) for row in ranges])


async def may_start(workspace_id: int, actor: Actor) -> bool:
    """Whether a campaign may start now. The scheduler (SYSTEM) just hears False and leaves the campaign
    scheduled for its next minute; a person is told why (SendingStopped)."""
    stop = await stop_for(workspace_id)
    if stop is None:
        return True
    if actor == SYSTEM:
        return False
    raise SendingStopped(f"{stop.describe()}. Nothing can start until sending is restarted.")


async def refuse_while_stopped(workspace_id: int) -> None:
    """Resuming a campaign while a switch is on is refused, naming the stop."""
    if stop := await stop_for(workspace_id):
        raise SendingStopped(f"{stop.describe()}. Restart sending before resuming a campaign.")


async def stop_platform(reason: str, by: str) -> Stop:
    """The operator's stop of every workspace (kept until `resume_platform`, across restarts)."""
    cleaned = _cleaned_reason(reason)
    rows = await fetch_positional(
        "INSERT INTO platform_sending_stop (reason, stopped_by) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE "
        "SET reason = excluded.reason, stopped_by = excluded.stopped_by, stopped_at = now() RETURNING stopped_at",
        [cleaned, by[:320]])
    return Stop(cleaned, rows[0]["stopped_at"], by, "platform")


async def resume_platform() -> bool:
    """Lift the operator's stop; False when there was none (the SENDING_STOPPED setting is not touched)."""
    return bool(await fetch_positional("DELETE FROM platform_sending_stop RETURNING id", []))
