"""The demo workspace that a fresh installation starts with, ready to send a first campaign.

Everything a campaign needs is in place, and nothing leaves the machine: the
only delivery server is the development capture, whose messages show in the
Mailing portal's development inbox.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlparse

from app.db.accounts import User
from app.services import lists, sending_domains, templates
from app.services.accounts import add_member, create_user, create_workspace
from app.services.delivery_servers import create_server
from app.services.subscribers import add_subscriber
from app.settings import get_settings

DEMO_EMAIL = "admin@example.com"
DEMO_WORKSPACE = "Demo Workspace"
DEMO_DOMAIN = "example.com"
DEMO_SENDER = f"news@{DEMO_DOMAIN}"
DEMO_LIST = "Demo subscribers"
DEMO_SUBSCRIBERS = ({"email": "ada@example.com"}, {"email": "grace@example.com"}, {"email": "alan@example.com"})
DEMO_LAYOUT = "single-offer"


async def create_demo_workspace() -> tuple[str, str] | None:
    """On an empty installation, a demo workspace with an owner; returns (email, password) once."""
    if await User.exists():
        return None
    password = secrets.token_urlsafe(12)
    async with User._meta.db.transaction():
        workspace = await create_workspace(DEMO_WORKSPACE)
        user = await create_user(DEMO_EMAIL, password, name="Demo Admin")
        await add_member(workspace["id"], user["id"], "owner")
        await add_campaign_basics(workspace["id"], user["id"])
    return DEMO_EMAIL, password


async def add_campaign_basics(workspace_id: int, user_id: int) -> None:
    """A sending domain, the development capture as the delivery server, a small list and a template."""
    domain = await sending_domains.add_domain(workspace_id, DEMO_DOMAIN)
    # Verified without asking DNS: its mail only reaches the development capture, which no provider authenticates.
    records = sending_domains.records_to_publish(domain, urlparse(get_settings().base_url).hostname or "localhost")
    await sending_domains.save_check(workspace_id, domain["id"], [
        sending_domains.RecordCheck(record, True, "demo domain: mail stays on this machine") for record in records])
    await create_server(workspace_id, "capture", {"name": "Development inbox"})
    demo_list = await lists.create_list(workspace_id, {
        "name": DEMO_LIST, "from_name": "Demo Shop", "from_email": DEMO_SENDER, "company_name": "Demo Shop",
        "company_address": "1 Sample Street, Springfield"})
    for subscriber in DEMO_SUBSCRIBERS:
        await add_subscriber(workspace_id, demo_list["id"], subscriber)
    await templates.create_from_gallery(workspace_id, DEMO_LAYOUT, user_id)
