"""What the flow-email tests share: flow emails queued in the test process and sent from it, and a published
flow with a send step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from app.db.automations import Flow
from app.redis_client import get_redis
from app.services.accounts import now
from app.services.automations import sending
from app.services.sending import Adapters
from app.services.templates import create_template
from tests.integration.campaigns.helpers import HTML, LocalQueue, sending_domain


@dataclass
class LocalSending:
    """The send queue kept in a list, and the adapters a send worker would use to drain it."""

    queue: LocalQueue
    redis: Any
    adapters: Adapters

    async def drain(self) -> int:
        return await self.queue.drain(self.redis, self.adapters)


@asynccontextmanager
async def local_sending() -> AsyncIterator[LocalSending]:
    """What send steps queue lands in a local queue while the block runs (the task module's port otherwise)."""
    kept = list(sending._queues)
    local = LocalSending(LocalQueue(), get_redis(), Adapters())
    sending.send_with(local.queue)
    try:
        yield local
    finally:
        sending._queues[:] = kept
        await local.adapters.aclose()


async def flow_with_send_step(workspace_id: int, *, with_domain: bool = True, **params: Any) -> tuple[int, dict]:
    """A published flow (its row; the engine's tables are not needed here) and its send step; `with_domain`
    False when a campaign of the test made the sending domain already."""
    if with_domain:
        await sending_domain(workspace_id)
    template = await create_template(workspace_id, {"name": "Welcome", "subject": "Welcome {{ first_name }}",
                                                    "html": HTML}, None)
    rows = await Flow.insert(Flow(workspace_id=workspace_id, name="Welcome series", status="active", version=1,
                                  created_at=now(), updated_at=now())).returning(Flow.id)
    step = {"id": "s1", "kind": "send", "next": None, "params": {
        "template_id": template["id"], "subject": "", "from_email": "offers@news.example.com",
        "from_name": "Shop", **params}}
    return rows[0]["id"], step
