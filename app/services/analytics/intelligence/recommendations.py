"""Recommendations, each with the figure behind it: what to do about inactive subscribers, complaints, churn
risk, falling engagement, the best hours and tests that won. `recommend` is pure; `sending_30_days` reads the
rollups it needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from app.services.analytics.intelligence.hours import Heatmap
from app.services.analytics.intelligence.learnings import Learning
from app.services.analytics.intelligence.list_health import ListHealth
from app.services.analytics.intelligence.scores import Distribution
from app.services.sqlparams import Params, fetch
from app.services.tenancy import checked_workspace_id

SUNSET_SHARE = 0.10
COMPLAINT_SHARE = 0.001
HIGH_RISK_PERCENT = 50
FALLING_POINTS = 3.0


@dataclass(frozen=True)
class Sending:
    """The workspace's last 30 days of sending, from `performance_days`."""

    sent: int
    complaints: int

    @property
    def complaints_per_thousand(self) -> float:
        return 1000 * self.complaints / self.sent if self.sent else 0.0


@dataclass(frozen=True)
class Recommendation:
    kind: str
    title: str
    figure: str
    detail: str
    href: str = ""
    link: str = "Open"


async def sending_30_days(workspace_id: int, today: date) -> Sending:
    params = Params()
    rows = await fetch(
        "SELECT coalesce(sum(sent), 0)::bigint AS sent, coalesce(sum(complaints), 0)::bigint AS complaints "
        f"FROM performance_days WHERE workspace_id = {params.add(checked_workspace_id(workspace_id))} "
        f"AND day > {params.add(today - timedelta(days=30))} AND day <= {params.add(today)}", params)
    return Sending(int(rows[0]["sent"]), int(rows[0]["complaints"]))


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%" if share >= 0.01 else f"{share * 100:.2f}%"


def sunsets(lists: list[ListHealth], mailable: int, sending: Sending) -> list[Recommendation]:
    """Lists whose inactive share is large: what a sunset segment would cut, in volume and complaints."""
    found = []
    for health in lists:
        share = health.inactive_share
        if share is None or share < SUNSET_SHARE:
            continue
        # Complaints a month per mailable subscriber at the workspace's rate, for the inactive part of the list:
        # a floor, since people who stopped reading complain more than the average.
        avoided = sending.complaints * health.inactive / mailable if mailable else 0.0
        complaints = (f" and complaints by an estimated {avoided:,.0f} a month (at the workspace's 30-day rate of "
                      f"{sending.complaints_per_thousand:.2f} per 1,000 sent)" if round(avoided) else "")
        found.append(Recommendation(
            "sunset", f"Sunset the inactive part of {health.name}",
            f"{_percent(share)} of {health.name} ({health.inactive:,} subscribers on it for 180 days or more) has "
            "not opened or clicked in 180 days",
            f"A sunset segment would cut the list's volume {_percent(share)}{complaints}.",
            f"/mailing/lists/{health.list_id}", f"Open {health.name}"))
    return found


def complaint_lists(lists: list[ListHealth]) -> list[Recommendation]:
    return [Recommendation(
        "complaints", f"Check where {health.name}'s subscribers came from",
        f"{_percent(health.complaint_share)} of everyone ever on {health.name} ({health.complained:,}) complained",
        "Complaints above 0.1% hurt every server's reputation: confirm new subscribers (double opt-in) and "
        "suppress the sources that bring complainers.", f"/mailing/lists/{health.list_id}", f"Open {health.name}")
        for health in lists if health.total and health.complaint_share >= COMPLAINT_SHARE]


def churn(model: dict[str, Any] | None, at_risk: int) -> list[Recommendation]:
    if not model or model.get("auc") is None or not at_risk:
        return []
    return [Recommendation(
        "churn", "Win back the subscribers about to churn",
        f"{at_risk:,} subscribers have a churn risk of {HIGH_RISK_PERCENT}% or more (model AUC {model['auc']:.2f} on "
        f"{model['held_out']:,} held-out subscribers)",
        "Export them as a CSV for a re-engagement campaign or flow before they leave or go silent.",
        f"/analytics/intelligence/at-risk.csv?min_risk={HIGH_RISK_PERCENT}", "Download them (CSV)")]


def falling_engagement(scores: Distribution | None) -> list[Recommendation]:
    if scores is None or scores.mean_before is None or scores.mean_before - scores.mean < FALLING_POINTS:
        return []
    return [Recommendation(
        "engagement", "Engagement is falling",
        f"The mean engagement score fell from {scores.mean_before:.1f} to {scores.mean:.1f} since "
        f"{scores.compared_with.isoformat() if scores.compared_with else 'last week'}",
        "Send less to the least engaged and test new subjects on the rest.", "/mailing/segments", "Segments")]


def best_hours(heatmap: Heatmap) -> list[Recommendation]:
    if not heatmap.best or heatmap.follows_sends:
        return []
    top = heatmap.best[0]
    share = sum(hour.share for hour in heatmap.best)
    best = "the best hour" if len(heatmap.best) == 1 else f"the best {len(heatmap.best)} hours"
    return [Recommendation(
        "hours", f"Send around {top.label}",
        f"{_percent(share)} of human opens came in {best} of the week "
        f"({', '.join(hour.label for hour in heatmap.best)})",
        "Schedule campaigns then, or choose Best hour on a campaign's Delivery step: it sends each subscriber at "
        "their own most frequent open hour.", "/mailing/campaigns", "Campaigns")]


def content_wins(wins: list[Learning]) -> list[Recommendation]:
    return [Recommendation(
        "content", f"Keep what won in {win.campaign}",
        f"{win.dimension_words} variant {win.variant} beat the control by {(win.lift or 0) * 100:+.0f}% on "
        f"{win.metric} (p = {win.p_value:.3f}, {win.sample_size:,} recipients)",
        f"“{win.content}”" if win.content else "Reuse the winning variant in the next sends.",
        f"/mailing/campaigns/{win.campaign_id}", f"Open {win.campaign}") for win in wins[:3]]


def recommend(lists: list[ListHealth], scores: Distribution | None, heatmap: Heatmap, model: dict[str, Any] | None,
              at_risk: int, wins: list[Learning], sending: Sending) -> list[Recommendation]:
    mailable = sum(health.mailable for health in lists)
    return [*sunsets(lists, mailable, sending), *complaint_lists(lists), *churn(model, at_risk),
            *falling_engagement(scores), *best_hours(heatmap), *content_wins(wins)]
