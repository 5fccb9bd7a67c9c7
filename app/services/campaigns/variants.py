"""A/B tests: the variants a campaign tries, who gets which, and the rest held for the winner."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def assignment_sql(campaign: Mapping[str, Any]) -> tuple[str, str]:
    """SQL expressions over the subscriber `s` for a new delivery's variant and status.

    Without a test every delivery is variant 0 and queued.
    """
    return "0", "'queued'"
