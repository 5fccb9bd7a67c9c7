"""A workspace with everything a campaign needs: a list of subscribers, a template and a verified sending domain."""

from __future__ import annotations

from dataclasses import dataclass

from app.db.content import SendingDomain
from app.services.accounts import now
from app.services.sending_domains import add_domain
from app.services.templates import create_template
from tests.factories import make_list, make_subscribers
from tests.integration.campaigns.helpers import HTML


@dataclass(frozen=True)
class Ready:
    list_id: int
    template_id: int
    domain: str


async def verified_domain(workspace_id: int, domain: str = "news.example.com") -> dict:
    """A sending domain whose last DNS check passed (and without a DKIM key: these tests are not about signing)."""
    row = await add_domain(workspace_id, domain)
    await SendingDomain.update({SendingDomain.dkim_private_key: "", SendingDomain.checked_at: now(),
                                SendingDomain.dns_status: {"SPF": True, "DKIM": True, "DMARC": True}}).where(
        SendingDomain.id == row["id"])
    return row


async def ready_workspace(workspace: dict, subscribers: int = 3, domain: str = "news.example.com") -> Ready:
    mailing_list = await make_list(workspace, "Customers")
    await make_subscribers(mailing_list, subscribers, prefix="reader")
    await verified_domain(workspace["id"], domain)
    template = await create_template(workspace["id"], {"name": "Offer", "subject": "Hello {{ first_name }}",
                                                       "html": HTML}, None)
    return Ready(mailing_list["id"], template["id"], domain)
