"""The engagement score of a subscriber (`subscribers.engagement_score`, 0 to 100), from human opens and clicks.

How it is computed: the aggregator's statement (tracking.sql `record`) works it out for every subscriber
of a batch at once, in the UPDATE that moves their last open and click. A message's first human open adds
`FIRST_OPEN` points and each later open of it `REPEAT_OPEN`; its first human click adds `FIRST_CLICK` and
each later click `REPEAT_CLICK`; the total is capped at 100. Machine opens and bot clicks add nothing.

How it decays: exponentially, halving every `HALF_LIFE_DAYS` days without engagement. The score is stored
with the moment it was worked out (`engagement_scored_at`); before points are added, the stored score is
decayed from that moment to the newest event of the batch. `decay_scores` applies the same decay to
everyone who has not engaged lately (the scheduler runs it daily), writing only the scores whose rounded
value changes: a score left as it was keeps its older moment, so nothing is decayed twice.
"""

from __future__ import annotations

from datetime import datetime

from app.db.accounts import Workspace
from app.services import statements
from app.services.tenancy import checked_workspace_id

FIRST_OPEN = 10
REPEAT_OPEN = 1
FIRST_CLICK = 20
REPEAT_CLICK = 2
HALF_LIFE_DAYS = 30
HALF_LIFE_SECONDS = HALF_LIFE_DAYS * 86400


def score_arguments() -> tuple[int, int, int, int, int]:
    """The points and half-life, as the `record` statement takes them ($10 to $14)."""
    return FIRST_OPEN, REPEAT_OPEN, FIRST_CLICK, REPEAT_CLICK, HALF_LIFE_SECONDS


async def decay_scores(workspace_id: int, now: datetime) -> int:
    """Each score of the workspace decayed to `now`; returns how many changed."""
    rows = await statements.run("tracking.decay-scores", checked_workspace_id(workspace_id), now,
                                HALF_LIFE_SECONDS)
    return rows[0]["changed"]


async def decay_every_workspace(now: datetime) -> int:
    changed = 0
    for row in await Workspace.select(Workspace.id):
        changed += await decay_scores(row["id"], now)
    return changed
