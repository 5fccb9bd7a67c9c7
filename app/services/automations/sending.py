"""Flow emails: a send step's batch of enrolments becomes deliveries of the step's own campaign.

Each send step of each published version has a campaign (`kind = 'flow'`, hidden from campaign pages, sending
from birth and never finishing; see the migration `m2026_12_05_0300_marketing_limits`) holding the step's
template snapshot, taken when the step first sends. Its deliveries go through the campaigns' send path like
any campaign's: claimed with a lease, mailability read again, rendered with merge tags, spintax, tracked links
and List-Unsubscribe, routed, throttled, each acceptance recorded, tracked, bounces mapped; the step's sent,
opens, clicks, conversions and revenue are that campaign's counters.

A batch is written by one statement. `flow_sends` keys each delivery by (step campaign, enrolment, visit):
a second worker or a re-run after a crash writes nothing and answers with the delivery written first. People
who may not be mailed are skipped; people inside quiet hours or over the daily cap are answered `later`
(see `limits`). Written rows are queued on the `send` queue at once (through the port the task module sets
with `send_with`); rows a lost queue message left behind are queued by the reaper's minute sweep.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from app.db.automations import Flow
from app.db.campaigns import Campaign, CampaignVariant
from app.piccolo_conf import DB
from app.redis_client import get_redis
from app.services import kill_switch, statements
from app.services.automations import limits
from app.services.campaigns.ending import note_progress
from app.services.campaigns.queue import SendQueue, enqueue_ranges, id_ranges
from app.services.campaigns.send_times import advance_cursor, workspace_zone
from app.services.sqlparams import Params, fetch
from app.services.suppression import mailable_sql
from app.services.templates import get_template
from app.services.tenancy import checked_workspace_id, owned_by
from app.settings import get_settings

NOT_MAILABLE = "not mailable: unsubscribed, suppressed or removed"
NO_TEMPLATE = "the step's template no longer exists, or no sender address is set (the step's or a list's)"
# Rows written inside the caller's transaction are claimable only once it commits: their batch is queued after
# each of these delays (a second look costs one queue message; the claim takes only rows still waiting).
AFTER_COMMIT_SECONDS = (1.0, 10.0)
# Knuth's multiplicative hash spreads consecutive enrolment ids evenly over the variants' weights.
_HASH = 2654435761
_HASH_POINTS = 1 << 32
_queues: list[SendQueue] = []
# A step's campaign never changes once made, and flow ids are never reused.
_CAMPAIGNS: dict[tuple[int, int, int, str], int] = {}


def send_with(queue: SendQueue) -> None:
    """The task module's way to have written flow emails sent at once (a port: services never import tasks)."""
    _queues[:] = [queue]


async def _recipients(workspace_id: int, subscriber_ids: Sequence[int]) -> dict[int, dict]:
    """The subscribers that may be mailed now, by id, with what the limits need (address, zone, fields)."""
    params = Params()
    workspace = params.add(checked_workspace_id(workspace_id))
    rows = await fetch(
        "SELECT s.id, s.email, s.timezone, s.fields FROM subscribers s "
        f"WHERE s.id = ANY({params.add(list(subscriber_ids))}::bigint[]) AND s.workspace_id = {workspace} "
        f"AND {mailable_sql(params, workspace_id)}", params)
    return {row["id"]: {**row, "fields": json.loads(row["fields"]) if isinstance(row["fields"], str) else row["fields"]}
            for row in rows}


def _variants(step: Mapping[str, Any]) -> list[dict]:
    return [variant for variant in step["params"].get("variants") or [] if int(variant.get("weight") or 0) > 0]


def variant_of(step: Mapping[str, Any], enrolment_id: int) -> int:
    """The A/B variant an enrolment is sent (1-based, by weight), or 0 when the step tests nothing."""
    weights = [int(variant["weight"]) for variant in _variants(step)]
    if not weights:
        return 0
    point = (enrolment_id * _HASH) % _HASH_POINTS * sum(weights) // _HASH_POINTS
    for variant, weight in enumerate(weights, start=1):
        if point < weight:
            return variant
        point -= weight
    return len(weights)


def _snapshot(template: Mapping[str, Any], subject: str) -> dict[str, Any]:
    return {"snapshot_subject": subject or template["subject"], "snapshot_html": template["html"],
            "snapshot_text": template["text_part"], "snapshot_preheader": template["preheader"],
            "snapshot_version": template["version"]}


async def _sender(workspace_id: int, params: Mapping[str, Any], trigger: Mapping[str, Any]) -> tuple[str, str] | None:
    """The step's sender, else the one of the list the flow is triggered by, else of the workspace's first list
    that has one; None when nobody is named anywhere."""
    if params.get("from_email"):
        return params["from_email"].strip(), params.get("from_name") or ""
    rows = await statements.run("flow_sending.list-sender", checked_workspace_id(workspace_id),
                                int(trigger.get("list_id") or 0))
    if not rows:
        return None
    return rows[0]["from_email"], params.get("from_name") or rows[0]["from_name"]


async def _made(workspace_id: int, flow_id: int, version: int, step: Mapping[str, Any], moment: datetime) -> int | None:
    """A new step campaign with the step's snapshot (and each variant's); None when a template is gone or no
    sender is known."""
    params = step["params"]
    template = await get_template(workspace_id, params.get("template_id"))
    variants = [(variant, await get_template(workspace_id, variant.get("template_id"))) for variant in _variants(step)]
    if template is None or any(found is None for _, found in variants):
        return None
    flow = await Flow.select(Flow.name, Flow.trigger).where(owned_by(Flow, workspace_id), Flow.id == flow_id).output(
        load_json=True).first()
    sender = await _sender(workspace_id, params, (flow or {}).get("trigger") or {})
    if sender is None:
        return None
    stop = await kill_switch.workspace_stop(workspace_id)
    # Made while the workspace's stop is on, it is paused as the stop paused the others, and resumes with them.
    status = {"status": "paused", "status_reason": kill_switch.PAUSED_BY_STOP + stop.reason} if stop else \
        {"status": "sending"}
    rows = await Campaign.insert(Campaign(
        workspace_id=checked_workspace_id(workspace_id), kind="flow",
        name=f"{flow['name'] if flow else 'Flow'} · v{version} · {step['id']}"[:160],
        from_email=sender[0], from_name=sender[1],
        subject=params.get("subject") or template["subject"], template_id=template["id"],
        snapshot_at=moment, started_at=moment, materialised_at=moment, created_at=moment, updated_at=moment,
        **_snapshot(template, params.get("subject") or ""), **status)).returning(Campaign.id)
    campaign_id = rows[0]["id"]
    if variants:
        await CampaignVariant.insert(*[CampaignVariant(
            workspace_id=workspace_id, campaign_id=campaign_id, variant=number, subject=variant.get("subject") or "",
            template_id=found["id"], created_at=moment, updated_at=moment,
            **_snapshot(found, variant.get("subject") or "")) for number, (variant, found) in
            enumerate(variants, start=1)])
    await statements.run("flow_sending.link-step", workspace_id, flow_id, version, step["id"], campaign_id)
    return campaign_id


async def step_campaign_id(workspace_id: int, flow_id: int, version: int, step: Mapping[str, Any],
                           moment: datetime) -> int | None:
    """The campaign of the step in this version, made (once, whatever the number of callers) on first use."""
    key = (checked_workspace_id(workspace_id), flow_id, version, str(step["id"]))
    if (found := _CAMPAIGNS.get(key)) is not None:
        return found
    args = (workspace_id, flow_id, version, str(step["id"]))
    rows = await statements.run("flow_sending.step-campaign", *args)
    made = None
    if not rows:
        async with DB.transaction():
            await statements.run("flow_sending.lock-step", *args[1:])
            rows = await statements.run("flow_sending.step-campaign", *args)
            if not rows:
                made = await _made(workspace_id, flow_id, version, step, moment)
                if made is None:
                    return None
                rows = [{"campaign_id": made}]
    if made is not None:
        # The reaper's minute sweep queues rows that come due from here on, should a queue message be lost.
        await advance_cursor(get_redis(), made, moment)
    _CAMPAIGNS[key] = rows[0]["campaign_id"]
    return rows[0]["campaign_id"]


async def step_campaigns(workspace_id: int, flow_id: int) -> dict[tuple[int, str], int]:
    """The campaign of each send step of the flow that has sent, by (version, step id): its figures are the
    step's sent, opens, clicks, conversions and revenue."""
    rows = await statements.run("flow_sending.flow-campaigns", checked_workspace_id(workspace_id), flow_id)
    return {(row["version"], row["step_id"]): row["campaign_id"] for row in rows}


async def _queued(workspace_id: int, campaign_id: int, delivery_ids: Sequence[int]) -> None:
    if not delivery_ids or not _queues:
        return
    ranges = id_ranges(delivery_ids, get_settings().sending.batch_size)
    for delay in AFTER_COMMIT_SECONDS if DB.current_transaction.get() is not None else (0.0,):
        enqueue_ranges(_queues[0], workspace_id, campaign_id, ranges, delay)
    await note_progress(get_redis(), campaign_id)


async def _written(workspace_id: int, campaign_id: int, step: Mapping[str, Any],
                   enrolments: Sequence[tuple[int, int, int]]) -> dict[int, tuple[str, Any]]:
    """One delivery per enrolment and visit, written by one statement (or found, when written before)."""
    ids, subscribers = [e[0] for e in enrolments], [e[1] for e in enrolments]
    visits = [e[2] for e in enrolments]
    rows = await statements.run("flow_sending.materialise", workspace_id, campaign_id, ids, visits, subscribers,
                                [variant_of(step, enrolment_id) for enrolment_id in ids])
    written = {row["enrolment_id"]: row["delivery_id"] for row in rows}
    await _queued(workspace_id, campaign_id, sorted(written.values()))
    if len(written) < len(ids):
        earlier = await statements.run("flow_sending.written", workspace_id, campaign_id, ids, visits)
        written.update({row["enrolment_id"]: row["delivery_id"] for row in earlier})
    return {enrolment_id: ("sent", written[enrolment_id]) if enrolment_id in written else ("skipped", NOT_MAILABLE)
            for enrolment_id in ids}


async def send_step(
    workspace_id: int,
    flow_id: int,
    version: int,
    step: dict,
    enrolments: Sequence[tuple[int, int, int]],
    *,
    now: datetime,
) -> dict[int, tuple[str, Any]]:
    """Each enrolment's outcome: ("sent", delivery_id), ("later", due_at) or ("skipped", reason).

    `enrolments` are (enrolment_id, subscriber_id, visit) at `step` of the flow's `version`. Calling it again
    for the same enrolment and visit sends nothing more and answers the same delivery. Best called outside a
    transaction: rows written inside one are queued after the delays of `AFTER_COMMIT_SECONDS`.
    """
    if not enrolments:
        return {}
    recipients = await _recipients(workspace_id, sorted({subscriber_id for _, subscriber_id, _ in enrolments}))
    answers: dict[int, tuple[str, Any]] = {
        enrolment_id: ("skipped", NOT_MAILABLE) for enrolment_id, subscriber_id, _ in enrolments
        if subscriber_id not in recipients}
    going = [enrolment for enrolment in enrolments if enrolment[1] in recipients]
    persons = limits.people([recipients[subscriber_id] for _, subscriber_id, _ in going],
                            await workspace_zone(workspace_id))
    held = await limits.held_until(workspace_id, persons, now)
    answers.update({enrolment_id: ("later", held[subscriber_id]) for enrolment_id, subscriber_id, _ in going
                    if subscriber_id in held})
    going = [enrolment for enrolment in going if enrolment[1] not in held]
    if not going:
        return answers
    campaign_id = await step_campaign_id(workspace_id, flow_id, version, step, now)
    if campaign_id is None:
        answers.update({enrolment_id: ("skipped", NO_TEMPLATE) for enrolment_id, _, _ in going})
        return answers
    answers.update(await _written(workspace_id, campaign_id, step, going))
    return answers
