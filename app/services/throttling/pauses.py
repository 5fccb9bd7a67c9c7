"""Pauses decided by bounce and complaint rates: a server for one domain group, or a campaign."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class FeedbackKey(Protocol):
    """What a processed report was about (a `rates.FeedbackCount` is one): whose rates to look at again."""

    server_id: int | None
    domain_group: str
    campaign_id: int | None


async def evaluate(workspace_id: int, keys: Iterable[FeedbackKey]) -> None:
    """Look at the rates of these keys against the workspace's thresholds; warn, pause, record each decision.

    Call it after the transaction that counted the reports has committed (from the task, not inside it),
    e.g. with the same `FeedbackCount`s given to `count_feedback`.
    """
    del workspace_id, keys
