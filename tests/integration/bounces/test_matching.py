"""Matching a report's outcome to its delivery: VERP first, then provider ids, the Message-ID, the address;
never a delivery of another workspace."""

from __future__ import annotations

from app.services import campaigns
from app.services.bounces.matching import delivery_for
from app.services.bounces.model import HARD, Outcome, Report
from app.services.bounces.return_paths import verp_address
from app.services.sqlparams import fetch_positional
from app.services.templates import create_template
from app.settings import get_settings
from tests.factories import make_workspace
from tests.integration.bounces.helpers_processing import GROUP, SERVER_ID, sent_delivery
from tests.integration.campaigns.helpers import HTML

EMAIL = "ann@example.org"


def _outcome(recipient: str = EMAIL, provider_id: str = "") -> Outcome:
    return Outcome(recipient=recipient, category=HARD, status="5.1.1", provider_message_id=provider_id)


def _report(*outcomes: Outcome, envelope_to: str = "", message_id: str = "", delivery_id: int | None = None) -> Report:
    return Report(kind="dsn", outcomes=outcomes or (_outcome(),), envelope_to=envelope_to,
                  original_message_id=message_id, delivery_id=delivery_id)


def _verp(delivery: dict) -> str:
    return verp_address(get_settings(), delivery["workspace_id"], delivery["id"], "bounces.news.example.com")


async def _second_delivery(workspace: dict, email: str) -> dict:
    """A delivery of another campaign to `email`, sent a minute after the first (made by `sent_delivery`)."""
    template = await create_template(workspace["id"], {"name": "Later", "subject": "Hi", "html": HTML}, None)
    [first] = await fetch_positional("SELECT list_ids FROM campaigns WHERE workspace_id = $1 LIMIT 1",
                                     [workspace["id"]])
    campaign = await campaigns.create_draft(workspace["id"], {
        "name": "Later offer", "from_email": "offers@news.example.com", "from_name": "Shop",
        "template_id": str(template["id"]), "list_ids": [str(i) for i in first["list_ids"]]})
    [row] = await fetch_positional(
        "INSERT INTO deliveries (workspace_id, campaign_id, email, domain, status, sent_at) "
        "VALUES ($1, $2, $3, 'example.org', 'sent', now() + interval '1 minute') RETURNING *",
        [workspace["id"], campaign["id"], email])
    return row


async def test_the_return_path_names_the_delivery_with_everything_the_actions_need() -> None:
    workspace = await make_workspace()
    delivery = await sent_delivery(workspace, EMAIL)
    await _second_delivery(workspace, EMAIL)

    match = await delivery_for(workspace["id"], _report(envelope_to=_verp(delivery)), _outcome())

    assert match is not None
    assert (match.delivery_id, match.workspace_id, match.campaign_id, match.subscriber_id, match.server_id,
            match.domain_group, match.email) == (delivery["id"], workspace["id"], delivery["campaign_id"],
                                                  delivery["subscriber_id"], SERVER_ID, GROUP, EMAIL)


async def test_a_report_of_no_known_workspace_is_matched_by_its_return_path_only() -> None:
    workspace = await make_workspace()
    delivery = await sent_delivery(workspace, EMAIL)

    found = await delivery_for(None, _report(envelope_to=_verp(delivery)), _outcome())
    assert found is not None and found.delivery_id == delivery["id"]
    report = _report(message_id=f"<{delivery['id']}@news.example.com>", delivery_id=delivery["id"])
    assert await delivery_for(None, report, _outcome()) is None


async def test_a_return_path_of_another_workspace_is_ignored() -> None:
    mine, theirs = await make_workspace(), await make_workspace()
    their_delivery = await sent_delivery(theirs, EMAIL)

    assert await delivery_for(mine["id"], _report(envelope_to=_verp(their_delivery)), _outcome()) is None


async def test_a_provider_message_id_names_its_delivery_in_the_workspace_only() -> None:
    mine, theirs = await make_workspace(), await make_workspace()
    delivery = await sent_delivery(mine, EMAIL)
    await _second_delivery(mine, EMAIL)
    await fetch_positional("UPDATE deliveries SET provider_message_id = '0100018c-ses' WHERE id = $1", [delivery["id"]])

    found = await delivery_for(mine["id"], _report(), _outcome(provider_id="0100018c-ses"))
    assert found is not None and found.delivery_id == delivery["id"]
    # Mailgun gives its ids in angle brackets in some places and without in others.
    found = await delivery_for(mine["id"], _report(), _outcome(provider_id="<0100018c-ses>"))
    assert found is not None and found.delivery_id == delivery["id"]
    assert await delivery_for(theirs["id"], _report(), _outcome(provider_id="0100018c-ses")) is None


async def test_the_message_id_names_a_delivery_of_the_workspace_only() -> None:
    mine, theirs = await make_workspace(), await make_workspace()
    delivery = await sent_delivery(mine, EMAIL)
    later = await _second_delivery(mine, EMAIL)
    message_id = f"<{delivery['id']}@news.example.com>"

    found = await delivery_for(mine["id"], _report(message_id=message_id), _outcome())
    assert found is not None and found.delivery_id == delivery["id"]
    # In another workspace the same id names nothing, and the address is not theirs either.
    assert await delivery_for(theirs["id"], _report(message_id=message_id), _outcome()) is None
    # An id that is not one of ours falls back to the address's latest delivery.
    found = await delivery_for(mine["id"], _report(message_id="<abc@elsewhere.example>"), _outcome())
    assert found is not None and found.delivery_id == later["id"]


async def test_a_report_on_several_recipients_matches_each_to_its_own_delivery() -> None:
    workspace = await make_workspace()
    ann = await sent_delivery(workspace, EMAIL)
    bob = await _second_delivery(workspace, "bob@example.org")
    report = _report(_outcome(), _outcome("bob@example.org"), message_id=f"<{ann['id']}@news.example.com>")

    matches = [await delivery_for(workspace["id"], report, outcome) for outcome in report.outcomes]

    assert [match.delivery_id if match else None for match in matches] == [ann["id"], bob["id"]]


async def test_the_delivery_id_a_provider_echoes_is_held_to_the_workspace() -> None:
    mine, theirs = await make_workspace(), await make_workspace()
    delivery = await sent_delivery(mine, EMAIL)

    found = await delivery_for(mine["id"], _report(delivery_id=delivery["id"]), _outcome(""))
    assert found is not None and found.delivery_id == delivery["id"]
    assert await delivery_for(theirs["id"], _report(delivery_id=delivery["id"]), _outcome("")) is None


async def test_the_address_alone_finds_the_latest_sent_delivery_to_it() -> None:
    workspace = await make_workspace()
    await sent_delivery(workspace, EMAIL)
    later = await _second_delivery(workspace, EMAIL)

    found = await delivery_for(workspace["id"], _report(_outcome("Ann@Example.org")), _outcome("Ann@Example.org"))

    assert found is not None and found.delivery_id == later["id"]
    assert await delivery_for(workspace["id"], _report(), _outcome("nobody@example.org")) is None
    assert await delivery_for(workspace["id"], _report(), _outcome("")) is None
