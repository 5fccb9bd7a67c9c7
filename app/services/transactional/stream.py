"""The workspace's stream campaign: the one campaign every transactional delivery of the workspace belongs to."""

from __future__ import annotations

from app.services import statements
from app.services.tenancy import checked_workspace_id

# Made once per workspace and removed only with it; workspace ids are never reused, so entries never go stale.
_STREAMS: dict[int, int] = {}


async def stream_campaign_id(workspace_id: int) -> int:
    """The id of the workspace's stream campaign, made on first use."""
    found = _STREAMS.get(workspace_id)
    if found is not None:
        return found
    checked = checked_workspace_id(workspace_id)
    rows = await statements.run("transactional.stream", checked) or await statements.run(
        "transactional.stream", checked)
    _STREAMS[workspace_id] = rows[0]["id"]
    return rows[0]["id"]

