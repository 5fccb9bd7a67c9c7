"""What A/B tests taught: `content_learnings` rows (variant, metric, rate, lift, sample size, p-value) per test."""

from __future__ import annotations

from dataclasses import dataclass

from app.services.sqlparams import Params, fetch
from app.services.tenancy import checked_workspace_id

SIGNIFICANT = 0.05
SHOWN = 30
DIMENSION_WORDS = {"subject": "Subject", "from_name": "From name", "content": "Content"}


@dataclass(frozen=True)
class Learning:
    campaign_id: int
    campaign: str
    dimension: str
    variant: int
    content: str
    metric: str
    sample_size: int
    rate: float
    lift: float | None
    p_value: float | None
    winner: bool

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < SIGNIFICANT

    @property
    def dimension_words(self) -> str:
        return DIMENSION_WORDS.get(self.dimension, self.dimension)


async def recent(workspace_id: int, limit: int = SHOWN) -> list[Learning]:
    """The newest tests' variants, each test's variants together in variant order."""
    params = Params()
    rows = await fetch(
        "SELECT l.campaign_id, c.name AS campaign, l.dimension, l.variant, l.content, l.metric, l.sample_size, "
        "l.rate, l.lift, l.p_value, l.winner FROM content_learnings l JOIN campaigns c ON c.id = l.campaign_id "
        f"WHERE l.workspace_id = {params.add(checked_workspace_id(workspace_id))} "
        f"ORDER BY l.created_at DESC, l.campaign_id DESC, l.variant LIMIT {params.add(limit)}", params)
    return [Learning(**row) for row in rows]


def significant_wins(learnings: list[Learning]) -> list[Learning]:
    """Winning variants that beat the control by more than chance (p < 0.05), largest lift first."""
    return sorted((row for row in learnings if row.winner and row.significant and (row.lift or 0) > 0),
                  key=lambda row: -(row.lift or 0))

