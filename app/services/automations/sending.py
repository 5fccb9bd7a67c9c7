"""Flow emails: a send step's batch of enrolments becomes deliveries of the step's own campaign."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any


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

    `enrolments` are (enrolment_id, subscriber_id, visit) at `step` of the flow's `version`.
    """
    return {enrolment_id: ("skipped", "not built") for enrolment_id, _, _ in enrolments}
