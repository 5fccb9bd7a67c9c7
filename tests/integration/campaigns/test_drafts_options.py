"""The Setup, Audience and Delivery choices of a draft: saved when right, refused field by field when not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.db.campaigns import Campaign
from app.db.content import SendingDomain
from app.services import campaigns
from app.services.accounts import now
from app.services.campaigns import CampaignError
from app.services.delivery_servers import create_server
from app.services.sending_domains import add_domain
from tests.factories import make_list, make_verified_domain, make_workspace
from tests.integration.campaigns.helpers import ready_campaign


async def _draft() -> tuple[dict, dict]:
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    return workspace, await ready_campaign(workspace["id"], [mailing_list["id"]])


async def _server(workspace_id: int, name: str) -> dict:
    return await create_server(workspace_id, "smtp", {"name": name, "setting_host": "127.0.0.1",
                                                      "setting_port": "2525", "setting_security": "none"})


async def test_every_choice_is_saved_and_a_duplicate_copies_them():
    workspace, draft = await _draft()
    servers = [await _server(workspace["id"], name) for name in ("First", "Second")]
    saved = await campaigns.update_draft(workspace["id"], draft["id"], {
        "tags": "spring, Sale,  spring ,vip", "utm_source": "newsletter", "utm_campaign": "spring-sale",
        "utm_medium": "", "pool_server_ids": [str(servers[1]["id"]), str(servers[0]["id"])],
        "exclude_recent_days": "7", "send_mode": "local", "scheduled_at": "2099-04-01T09:30",
        "timezone": "Europe/Paris", "window_start": "08:00", "window_end": "20:00", "speed_per_hour": "5000"})
    assert saved["tags"] == ["spring", "Sale", "vip"]
    assert saved["utm"] == {"utm_source": "newsletter", "utm_campaign": "spring-sale"}
    assert saved["pool_server_ids"] == sorted(server["id"] for server in servers)
    assert (saved["exclude_recent_days"], saved["send_mode"], saved["speed_per_hour"]) == (7, "local", 5000)
    assert (saved["window_start"], saved["window_end"]) == (8 * 60, 20 * 60)
    assert saved["scheduled_at"] == datetime(2099, 4, 1, 7, 30, tzinfo=UTC)  # Paris keeps summer time in April

    # A step submits only its own fields: one UTM parameter changed leaves the others, a blank one drops it.
    saved = await campaigns.update_draft(workspace["id"], draft["id"], {"utm_source": "", "utm_term": "shoes"})
    assert saved["utm"] == {"utm_campaign": "spring-sale", "utm_term": "shoes"} and saved["tags"][0] == "spring"

    copy = await campaigns.duplicate(workspace["id"], draft["id"])
    for field in ("tags", "utm", "pool_server_ids", "exclude_recent_days", "send_mode", "window_start",
                  "window_end", "speed_per_hour", "timezone", "scheduled_at"):
        assert copy[field] == saved[field], field


async def test_a_copy_does_not_keep_a_time_already_past():
    workspace, draft = await _draft()
    await campaigns.update_draft(workspace["id"], draft["id"], {"send_mode": "at",
                                                                "scheduled_at": "2020-01-01T09:00"})
    copy = await campaigns.duplicate(workspace["id"], draft["id"])
    assert (copy["send_mode"], copy["scheduled_at"]) == ("at", None)


async def test_sending_now_drops_the_time_and_a_time_without_a_mode_means_at_that_time():
    workspace, draft = await _draft()
    timed = await campaigns.update_draft(workspace["id"], draft["id"], {"scheduled_at": "2099-01-01T10:00"})
    assert timed["send_mode"] == "at" and timed["scheduled_at"] is not None
    now_mode = await campaigns.update_draft(workspace["id"], draft["id"], {"send_mode": "now",
                                                                           "scheduled_at": "2099-01-01T10:00"})
    assert (now_mode["send_mode"], now_mode["scheduled_at"]) == ("now", None)
    cleared = await campaigns.update_draft(workspace["id"], draft["id"], {"window_start": "", "window_end": ""})
    assert (cleared["window_start"], cleared["window_end"]) == (None, None)
    wrapping = await campaigns.update_draft(workspace["id"], draft["id"], {"window_start": "22:00",
                                                                           "window_end": "06:00"})
    assert (wrapping["window_start"], wrapping["window_end"]) == (22 * 60, 6 * 60)


@pytest.mark.parametrize(("raw", "fields"), [
    ({"tags": "x" * 65}, {"tags"}),
    ({"tags": ",".join(f"t{i}" for i in range(21))}, {"tags"}),
    ({"utm_source": "s" * 256, "utm_term": "t" * 256}, {"utm_source", "utm_term"}),
    ({"pool_server_ids": ["first"]}, {"pool_server_ids"}),
    ({"exclude_recent_days": "0"}, {"exclude_recent_days"}),
    ({"exclude_recent_days": "366"}, {"exclude_recent_days"}),
    ({"exclude_recent_days": "a week"}, {"exclude_recent_days"}),
    ({"send_mode": "tomorrow"}, {"send_mode"}),
    ({"send_mode": "at", "scheduled_at": ""}, {"scheduled_at"}),
    ({"send_mode": "local"}, {"scheduled_at"}),
    ({"send_mode": "best_hour", "scheduled_at": "soon"}, {"scheduled_at"}),
    ({"send_mode": "at", "scheduled_at": "2099-01-01T09:00", "timezone": "Mars/Olympus"}, {"timezone"}),
    ({"window_start": "25:00", "window_end": "8"}, {"window_start", "window_end"}),
    ({"window_start": "08:00", "window_end": ""}, {"window_end"}),
    ({"window_start": "", "window_end": "20:00"}, {"window_start"}),
    ({"window_start": "08:00", "window_end": "08:00"}, {"window_end"}),
    ({"window_start": "24:00", "window_end": "08:00"}, {"window_start"}),
    ({"speed_per_hour": "0"}, {"speed_per_hour"}),
    ({"speed_per_hour": "fast"}, {"speed_per_hour"}),
    ({"name": "", "speed_per_hour": "-5", "tags": "y" * 70}, {"name", "speed_per_hour", "tags"}),
])
async def test_bad_values_are_refused_by_field_and_nothing_is_saved(raw, fields):
    workspace, draft = await _draft()
    with pytest.raises(CampaignError) as refused:
        await campaigns.update_draft(workspace["id"], draft["id"], raw)
    assert set(refused.value.errors) == fields
    after = await campaigns.get_campaign(workspace["id"], draft["id"])
    assert {key: after[key] for key in after if key != "updated_at"} == {
        key: draft[key] for key in draft if key != "updated_at"}


async def test_a_delivery_server_of_another_workspace_is_not_found():
    workspace, draft = await _draft()
    other = await make_workspace()
    foreign = await _server(other["id"], "Theirs")
    with pytest.raises(LookupError):
        await campaigns.update_draft(workspace["id"], draft["id"], {"pool_server_ids": [str(foreign["id"])]})
    assert (await campaigns.get_campaign(workspace["id"], draft["id"]))["pool_server_ids"] == []


async def test_the_sender_must_be_on_a_verified_sending_domain():
    workspace = await make_workspace()
    with pytest.raises(CampaignError) as refused:
        await campaigns.create_draft(workspace["id"], {"name": "A", "from_email": "a@brand.example"})
    assert "Add the sender's domain" in refused.value.errors["from_email"]

    domain = await add_domain(workspace["id"], "brand.example")
    with pytest.raises(CampaignError) as refused:
        await campaigns.create_draft(workspace["id"], {"name": "A", "from_email": "a@brand.example"})
    assert refused.value.errors == {"from_email": "brand.example is not verified yet: publish its DNS records and "
                                                  "check them under Delivery → Sending domains."}

    # A check that found DKIM missing does not verify it either.
    await SendingDomain.update({SendingDomain.checked_at: now(), SendingDomain.dns_status: {
        "SPF": True, "DKIM": False, "DMARC": True}}).where(SendingDomain.id == domain["id"])
    with pytest.raises(CampaignError):
        await campaigns.create_draft(workspace["id"], {"name": "A", "from_email": "a@brand.example"})

    await make_verified_domain(workspace["id"], "verified.example")
    with pytest.raises(CampaignError) as refused:
        await campaigns.create_draft(workspace["id"], {"name": "A", "from_email": "a@elsewhere.example"})
    assert refused.value.errors["from_email"] == "Send from one of your verified sending domains: verified.example."
    draft = await campaigns.create_draft(workspace["id"], {"name": "A", "from_email": "a@verified.example"})
    assert draft["from_email"] == "a@verified.example"
    assert await Campaign.count().where(Campaign.workspace_id == workspace["id"]) == 1
