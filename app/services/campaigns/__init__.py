"""Campaigns and the sending engine core: drafts, audience, launch, deliveries, send batches, the reaper.

The pieces, in the order a campaign meets them: `drafts` (saved step by step),
`audience` (lists and segments minus exclusions and everyone not mailable),
`lifecycle` (launch with a content snapshot, schedule, pause, resume, cancel),
`materialise` (one delivery row per recipient, in chunks, batches queued as
they land), `batches` (claim, render, send, write back), `ending` (progress and
the end), `counters` (Redis while sending, the row for pages), `reaper`
(expired leases, lost queues), `reports` (live figures, the send log). `queue` is the port the task
module fills.
"""

from app.services.campaigns.audience import Audience, recipient_count
from app.services.campaigns.batches import send_campaign_batch
from app.services.campaigns.counters import flush as flush_counters
from app.services.campaigns.drafts import (
    CampaignError,
    campaigns_page,
    create_draft,
    duplicate,
    get_campaign,
    scheduled_instant,
    update_draft,
)
from app.services.campaigns.ending import finish_if_done
from app.services.campaigns.lifecycle import cancel, launch, pause, queue_due, resume, start_due, unschedule
from app.services.campaigns.materialise import materialise
from app.services.campaigns.queue import SendQueue, id_ranges
from app.services.campaigns.reaper import Reaped, reap
from app.services.campaigns.reports import delivery_log, live_figures

__all__ = [
    "Audience",
    "CampaignError",
    "Reaped",
    "SendQueue",
    "campaigns_page",
    "cancel",
    "create_draft",
    "delivery_log",
    "duplicate",
    "finish_if_done",
    "flush_counters",
    "get_campaign",
    "id_ranges",
    "launch",
    "live_figures",
    "materialise",
    "pause",
    "queue_due",
    "reap",
    "recipient_count",
    "resume",
    "scheduled_instant",
    "send_campaign_batch",
    "start_due",
    "unschedule",
    "update_draft",
]
