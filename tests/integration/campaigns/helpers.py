"""Building a campaign ready to launch, and running its queue in the test process when no worker is wanted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app.services import campaigns
from app.services.audit import Actor
from app.services.delivery_servers import create_server
from app.services.sending import Adapters
from app.services.templates import create_template
from tests.factories import make_verified_domain

PERSON = Actor(user_id=None, email="tester@example.com")
HTML = ("<html><body><p>Hello {{ first_name | default('there') }}, this is for {{ email }}.</p>"
        "<p><a href=\"https://shop.example.com/offer\">See the offer</a></p>"
        "<p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a> {{ physical_address }}</p></body></html>")


@dataclass
class LocalQueue:
    """The service's SendQueue kept in a list: the test drains it itself, as a worker would."""

    batches: list[tuple[int, int, int, int, float]] = field(default_factory=list)
    materialising: list[tuple[int, int]] = field(default_factory=list)

    def send_batch(self, workspace_id: int, campaign_id: int, first_id: int, last_id: int,
                   delay_seconds: float = 0.0) -> None:
        self.batches.append((workspace_id, campaign_id, first_id, last_id, delay_seconds))

    def materialise(self, workspace_id: int, campaign_id: int) -> None:
        self.materialising.append((workspace_id, campaign_id))

    async def drain(self, redis: Any, adapters: Adapters, include_delayed: bool = False) -> int:
        """Run everything queued (materialising first) until nothing immediate is left; returns batches run.

        With `include_delayed`, the delayed batches queued before the call run too (their time has come);
        ones queued while draining wait for the next call, as they would on a real queue.
        """
        due = [batch for batch in self.batches if batch[4]] if include_delayed else []
        ran = 0
        while self.materialising or due or any(not delay for *_, delay in self.batches):
            if self.materialising:
                workspace_id, campaign_id = self.materialising.pop(0)
                await campaigns.materialise(redis, self, workspace_id, campaign_id)
                continue
            batch = due.pop(0) if due else next(b for b in self.batches if not b[4])
            self.batches.remove(batch)
            await campaigns.send_campaign_batch(redis, self, adapters, *batch[:4])
            ran += 1
        return ran


async def sending_domain(workspace_id: int, domain: str = "news.example.com") -> dict:
    """A verified sending domain without a DKIM key: these tests are about delivery, not signing."""
    return await make_verified_domain(workspace_id, domain)


async def smtp_server(workspace_id: int, port: int, name: str = "Recorder", pool_size: int = 4) -> dict:
    return await create_server(workspace_id, "smtp", {
        "name": name, "setting_host": "127.0.0.1", "setting_port": str(port), "setting_security": "none",
        "setting_pool_size": str(pool_size), "weight": "100"})


async def ready_campaign(workspace_id: int, list_ids: list[int], html: str = HTML, **values: Any) -> dict:
    """A draft with a sender, a template and an audience, ready to launch."""
    await sending_domain(workspace_id)
    template = await create_template(workspace_id, {"name": "Offer", "subject": "Hi {{ first_name }}",
                                                    "html": html}, None)
    return await campaigns.create_draft(workspace_id, {
        "name": "Spring offer", "from_email": "offers@news.example.com", "from_name": "Shop",
        "template_id": str(template["id"]), "list_ids": [str(i) for i in list_ids], **values})


async def wait_for(check: Callable[[], Awaitable[Any]], seconds: float, every: float = 0.1,
                   what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy; fail after `seconds` (a deadline, not a sleep)."""
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        await asyncio.sleep(every)
