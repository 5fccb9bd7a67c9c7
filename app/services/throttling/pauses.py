"""Pauses decided by bounce and complaint rates: a server for one domain group, or a campaign.

The breaker stops a whole server and AIMD never slows a pair to zero; a complaint rate above the
workspace's pause threshold stops one server for one domain group (`route_pauses`, which routing consults
when it picks servers) for a day, or until a person lifts it. A hard-bounce rate above the threshold pauses
the campaign through the campaign lifecycle's own pause. Every decision (warn, pause, lift) is recorded.

Gmail sends no complaint reports, so a domain group holding gmail.com is judged by its blocks (spam-policy
rejections, the signal Gmail does give) against the same thresholds.

A rate rests on enough messages to mean something: below `MIN_SENT_FOR_COMPLAINTS` (or
`MIN_SENT_FOR_HARD` for a campaign) one report would be a rate above any threshold, so nothing is decided.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from app.services import statements
from app.services.audit import SYSTEM
from app.services.bounces import rates
from app.services.bounces.model import FeedbackSettings
from app.services.bounces.rates import Rates
from app.services.bounces.thresholds import feedback_settings
from app.services.tenancy import checked_workspace_id

PAUSE_FOR = timedelta(hours=24)
# After a person lifts a pause, the same day's evidence does not pause the pair again.
LIFT_HOLDS_FOR = timedelta(hours=24)
WARN_EVERY = timedelta(hours=24)
MIN_SENT_FOR_COMPLAINTS = 1000
MIN_SENT_FOR_HARD = 100
WARN, PAUSE, LIFT, CAMPAIGN_PAUSE = "warn", "pause", "lift", "campaign_pause"


class FeedbackKey(Protocol):
    """What a processed report was about (a `rates.FeedbackCount` is one): whose rates to look at again."""

    server_id: int | None
    domain_group: str
    campaign_id: int | None


@dataclass(frozen=True)
class RoutePause:
    server_id: int
    domain_group: str
    reason: str
    ends_at: datetime

    @property
    def why(self) -> str:
        """What routing says of a server it skips for this pause."""
        return f"paused for {self.domain_group} until {self.ends_at:%Y-%m-%d %H:%M} UTC: {self.reason}"


@dataclass(frozen=True)
class Judgement:
    """What the rates call for: WARN, PAUSE, CAMPAIGN_PAUSE or "" (nothing), with the rate that decided it."""

    action: str
    rate: float = 0.0
    threshold: float = 0.0
    reason: str = ""


def _evidence(name: str, count: int, sent: int, rate: float, threshold: float, window: str) -> str:
    return f"{name} {rate:.2%} ({count:,} of {sent:,} sent{window}), above {threshold:.2%}"


def judge_pair(day: Rates, settings: FeedbackSettings, *, complaint_reports: bool = True) -> Judgement:
    """A (server, domain group)'s verdict from its last 24 hours; without complaint reports, blocks stand in."""
    if day.sent < MIN_SENT_FOR_COMPLAINTS:
        return Judgement("")
    name, count, note = ("complaint rate", day.complaint, "") if complaint_reports else (
        "block rate", day.block, "; its provider sends no complaint reports, so blocks stand in for them")
    rate = count / day.sent
    for action, threshold in ((PAUSE, settings.complaint_pause_rate), (WARN, settings.complaint_warn_rate)):
        if rate > threshold:
            evidence = _evidence(name, count, day.sent, rate, threshold, " in 24 h")
            return Judgement(action, rate, threshold, evidence + note)
    return Judgement("")


def judge_campaign(totals: Rates, settings: FeedbackSettings) -> Judgement:
    """A campaign's verdict from its hard bounces so far."""
    if totals.sent < MIN_SENT_FOR_HARD or totals.hard_rate <= settings.hard_pause_rate:
        return Judgement("")
    return Judgement(CAMPAIGN_PAUSE, totals.hard_rate, settings.hard_pause_rate, _evidence(
        "hard-bounce rate", totals.hard, totals.sent, totals.hard_rate, settings.hard_pause_rate, ""))


async def route_pauses(workspace_id: int) -> dict[tuple[int, str], RoutePause]:
    """The pauses in force now by (server id, domain group name): routing skips these pairs."""
    return {(row["server_id"], row["domain_group"]): RoutePause(
        row["server_id"], row["domain_group"], row["reason"], row["ends_at"])
        for row in await statements.run("pauses.active", checked_workspace_id(workspace_id))}


async def active_pauses(workspace_id: int) -> list[dict]:
    """The pauses in force now, with their server's name, for the Delivery page."""
    return await statements.run("pauses.active", checked_workspace_id(workspace_id))


async def recent_decisions(workspace_id: int, limit: int = 20) -> list[dict]:
    """The newest decisions, with the names of their server and campaign."""
    return await statements.run("pauses.recent", checked_workspace_id(workspace_id), limit)


async def _record(workspace_id: int, kind: str, judgement: Judgement, *, server_id: int | None = None,
                  domain_group: str = "", campaign_id: int | None = None) -> None:
    await statements.run("pauses.record", workspace_id, kind, server_id, domain_group, campaign_id,
                         judgement.rate, judgement.threshold, judgement.reason)


async def pause_route(workspace_id: int, server_id: int, domain_group: str, judgement: Judgement) -> bool:
    """Pause the pair for `PAUSE_FOR` and record it; False when it was paused already, lately lifted, or the
    server is not this workspace's."""
    rows = await statements.run("pauses.pause", checked_workspace_id(workspace_id), server_id, domain_group,
                                judgement.reason, PAUSE_FOR, LIFT_HOLDS_FOR)
    if rows:
        await _record(workspace_id, PAUSE, judgement, server_id=server_id, domain_group=domain_group)
    return bool(rows)


async def lift(workspace_id: int, server_id: int, domain_group: str, who: str) -> None:
    """End the pair's pause now, recorded with who lifted it; LookupError when no pause of this workspace's
    server for that group is in force."""
    rows = await statements.run("pauses.lift", checked_workspace_id(workspace_id), server_id, domain_group, who)
    if not rows:
        raise LookupError(f"pause of server {server_id} for {domain_group}")
    await _record(workspace_id, LIFT, Judgement(LIFT, reason=f"lifted by {who}; it was: {rows[0]['reason']}"),
                  server_id=server_id, domain_group=domain_group)


async def _groups_without_complaint_reports(workspace_id: int) -> set[str]:
    return {row["name"] for row in await statements.run("pauses.groups-without-complaint-reports", workspace_id)}


async def _decided_lately(workspace_id: int, kind: str, within: timedelta | None, *, server_id: int | None = None,
                          domain_group: str = "", campaign_id: int | None = None) -> bool:
    """Whether such a decision about this subject was recorded within `within` (None: ever)."""
    [row] = await statements.run("pauses.decided-lately", workspace_id, kind, server_id, domain_group, campaign_id,
                                 within)
    return bool(row["found"])


async def _evaluate_pair(workspace_id: int, server_id: int, domain_group: str, settings: FeedbackSettings,
                         silent_groups: set[str]) -> None:
    day = await rates.pair_rates(workspace_id, server_id, domain_group, rates.DAY)
    judgement = judge_pair(day, settings, complaint_reports=domain_group not in silent_groups)
    if judgement.action == PAUSE:
        await pause_route(workspace_id, server_id, domain_group, judgement)
    elif judgement.action == WARN and not await _decided_lately(
            workspace_id, WARN, WARN_EVERY, server_id=server_id, domain_group=domain_group):
        await _record(workspace_id, WARN, judgement, server_id=server_id, domain_group=domain_group)


async def _evaluate_campaign(workspace_id: int, campaign_id: int, settings: FeedbackSettings) -> None:
    # Imported here: sending routes through this module's pauses, and the campaign engine sends.
    from app.redis_client import get_redis
    from app.services.campaigns import lifecycle
    from app.services.campaigns.drafts import CampaignError

    judgement = judge_campaign(await rates.campaign_rates(workspace_id, campaign_id), settings)
    # A campaign a person resumed after an automatic pause is theirs to watch: it is not paused twice.
    if not judgement.action or await _decided_lately(
            workspace_id, CAMPAIGN_PAUSE, None, campaign_id=campaign_id):
        return
    try:
        await lifecycle.pause(get_redis(), workspace_id, campaign_id, SYSTEM, reason=judgement.reason)
    except (CampaignError, LookupError):
        return  # no longer sending (finished, paused or cancelled meanwhile), or gone
    await _record(workspace_id, CAMPAIGN_PAUSE, judgement, campaign_id=campaign_id)


async def evaluate(workspace_id: int, keys: Iterable[FeedbackKey]) -> None:
    """Look at the rates of these keys against the workspace's thresholds; warn, pause, record each decision.

    Call it after the transaction that counted the reports has committed (from the task, not inside it),
    e.g. with the same `FeedbackCount`s given to `count_feedback`.
    """
    keys = list(keys)
    settings = await feedback_settings(workspace_id)
    silent_groups = await _groups_without_complaint_reports(workspace_id)
    for server_id, domain_group in sorted({(k.server_id, k.domain_group) for k in keys if k.server_id}):
        await _evaluate_pair(workspace_id, server_id, domain_group, settings, silent_groups)
    for campaign_id in sorted({k.campaign_id for k in keys if k.campaign_id}):
        await _evaluate_campaign(workspace_id, campaign_id, settings)
