"""A workspace with everything a campaign needs: a list of subscribers, a template and a sending domain."""

from __future__ import annotations

from dataclasses import dataclass

from app.services.templates import create_template
from tests.factories import make_list, make_subscribers
from tests.integration.campaigns.helpers import HTML, sending_domain


@dataclass(frozen=True)
class Ready:
    list_id: int
    template_id: int
    domain: str


async def ready_workspace(workspace: dict, subscribers: int = 3, domain: str = "news.example.com") -> Ready:
    mailing_list = await make_list(workspace, "Customers")
    await make_subscribers(mailing_list, subscribers, prefix="reader")
    await sending_domain(workspace["id"], domain)
    template = await create_template(workspace["id"], {"name": "Offer", "subject": "Hello {{ first_name }}",
                                                       "html": HTML}, None)
    return Ready(mailing_list["id"], template["id"], domain)
