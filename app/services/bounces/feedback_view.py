"""What the Delivery page shows of bounces and complaints: rates per server and per domain group, the pauses
in force, and the latest decisions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields

from app.services.bounces import rates
from app.services.bounces.rates import PairRates, Rates
from app.services.delivery_servers import servers
from app.services.throttling import pauses


@dataclass(frozen=True)
class RatesRow:
    """One line of a rates table: a server or a domain group, over a day and a week."""

    label: str
    day: Rates
    week: Rates


@dataclass(frozen=True)
class FeedbackView:
    by_server: list[RatesRow]
    by_group: list[RatesRow]
    pauses: list[dict]
    decisions: list[dict]
    # Below these, one report would be a rate above any threshold: nothing is decided yet.
    judged_from: int = pauses.MIN_SENT_FOR_COMPLAINTS
    campaign_judged_from: int = pauses.MIN_SENT_FOR_HARD


def _sum(many: Iterable[Rates]) -> Rates:
    totals = {f.name: 0 for f in fields(Rates)}
    for one in many:
        for name in totals:
            totals[name] += getattr(one, name)
    return Rates(**totals)


def _rows(pairs: list[PairRates], key: Callable[[PairRates], object], label: Callable[[object], str]) -> list[RatesRow]:
    grouped: dict[object, list[PairRates]] = defaultdict(list)
    for pair in pairs:
        grouped[key(pair)].append(pair)
    return sorted((RatesRow(label(k), _sum(p.day for p in group), _sum(p.week for p in group))
                   for k, group in grouped.items()), key=lambda row: row.label.lower())


async def feedback_view(workspace_id: int) -> FeedbackView:
    pairs = await rates.rates_by_pair(workspace_id)
    names = {server["id"]: server["name"] for server in await servers(workspace_id)}
    by_server = _rows(pairs, lambda p: p.server_id, lambda server_id: names.get(server_id, "Unknown server"))
    by_group = _rows(pairs, lambda p: p.domain_group, lambda group: str(group) or "Unknown group")
    return FeedbackView(by_server=by_server, by_group=by_group, pauses=await pauses.active_pauses(workspace_id),
                        decisions=await pauses.recent_decisions(workspace_id, limit=20))
