"""The reaper: PostgreSQL is the truth about what is left to send, and this sweep makes the queue agree with it.

Run every minute by the scheduler, across workspaces:
- a claim whose lease ran out (its worker died) goes back to the queue;
- rows that came due since the last sweep (a recipient's local time or best
  hour, a window opening, a speed limit's turn) are queued;
- a sending campaign that nobody has claimed from for `requeue_after` while
  rows are due has lost its queued messages (a Redis restart, say): its due
  rows are queued again. Progress is what is checked, not each row's age, so a
  long queue that is being worked through is never queued twice;
- a campaign whose materialiser died gets a new one (it resumes at its cursor);
- counters are flushed, and a campaign with nothing left is marked sent.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from redis.asyncio import Redis

from app.db.campaigns import Campaign
from app.services import statements
from app.services.campaigns import counters
from app.services.campaigns.ending import finish_if_done, seconds_since_progress
from app.services.campaigns.lifecycle import queue_due
from app.services.campaigns.queue import SendQueue, enqueue_ranges, id_ranges
from app.services.campaigns.send_times import queue_fallen_due
from app.settings import get_settings


@dataclass
class Reaped:
    expired_leases: int = 0
    requeued_campaigns: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)


async def reap(redis: Redis, queue: SendQueue, requeue_after: float | None = None) -> Reaped:
    sending = get_settings().sending
    requeue_after = sending.requeue_after_seconds if requeue_after is None else requeue_after
    report = Reaped()
    expired: dict[int, list[int]] = defaultdict(list)
    for row in await statements.run("campaigns.expire-leases"):
        if row["status"] == "queued":
            expired[row["campaign_id"]].append(row["id"])
        report.expired_leases += 1
    active = await Campaign.select(Campaign.id, Campaign.workspace_id, Campaign.status, Campaign.materialised_at).where(
        Campaign.status.is_in(["sending", "paused"]))
    for campaign in active:
        workspace_id, campaign_id = campaign["workspace_id"], campaign["id"]
        if campaign["materialised_at"] is None:
            queue.materialise(workspace_id, campaign_id)
        if campaign["status"] != "sending":
            continue
        enqueue_ranges(queue, workspace_id, campaign_id, id_ranges(expired.get(campaign_id, []), sending.batch_size))
        await queue_fallen_due(redis, queue, workspace_id, campaign_id)
        idle = await seconds_since_progress(redis, campaign_id)
        if idle is None or idle >= requeue_after:
            if await queue_due(redis, queue, workspace_id, campaign_id):
                report.requeued_campaigns.append(campaign_id)
        await counters.flush(redis, workspace_id, campaign_id)
        if await finish_if_done(redis, workspace_id, campaign_id):
            report.finished.append(campaign_id)
    return report
