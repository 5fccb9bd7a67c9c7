"""Marketing limits: the settings' checks, quiet hours in the subscriber's local time, and the daily cap across
flow emails and campaigns."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.db.campaigns import Delivery
from app.services import campaigns
from app.services.accounts import now
from app.services.automations import limits, sending
from tests.factories import make_list, make_subscriber, make_workspace
from tests.integration.automations.send_helpers import flow_with_send_step, local_sending
from tests.integration.campaigns.helpers import PERSON, ready_campaign, smtp_server
from tests.integration.campaigns.recorder import RecordingServer


async def test_bad_limits_are_refused_by_field_and_nothing_changes() -> None:
    workspace = await make_workspace()
    saved = await limits.save_limits(workspace["id"], {"max_per_day": "2", "quiet_start": "21:00",
                                                       "quiet_end": "08:00"})
    assert saved == {"max_per_day": "2", "quiet_start": "21:00", "quiet_end": "08:00"}
    with pytest.raises(limits.LimitsError) as refused:
        await limits.save_limits(workspace["id"], {"max_per_day": "0", "quiet_start": "25:00", "quiet_end": "7"})
    assert set(refused.value.errors) == {"max_per_day", "quiet_start", "quiet_end"}
    with pytest.raises(limits.LimitsError) as refused:
        await limits.save_limits(workspace["id"], {"max_per_day": "", "quiet_start": "22:00", "quiet_end": ""})
    assert set(refused.value.errors) == {"quiet_end"}
    with pytest.raises(limits.LimitsError) as refused:
        await limits.save_limits(workspace["id"], {"quiet_start": "22:00", "quiet_end": "22:00"})
    assert set(refused.value.errors) == {"quiet_end"}
    assert await limits.get_limits(workspace["id"]) == saved
    cleared = await limits.save_limits(workspace["id"], {"max_per_day": "", "quiet_start": "", "quiet_end": ""})
    assert cleared == {"max_per_day": "", "quiet_start": "", "quiet_end": ""}


async def test_quiet_hours_hold_a_flow_email_until_they_end_in_the_subscribers_own_time() -> None:
    workspace = await make_workspace()
    people = await make_list(workspace)
    berlin = await make_subscriber(people, "berlin@example.com", timezone="Europe/Berlin")
    new_york = await make_subscriber(people, "ny@example.com", timezone="America/New_York")
    await limits.save_limits(workspace["id"], {"quiet_start": "21:00", "quiet_end": "08:00"})
    flow_id, step = await flow_with_send_step(workspace["id"])
    evening = datetime(2026, 6, 10, 20, 30, tzinfo=UTC)  # 22:30 in Berlin, 16:30 in New York
    async with local_sending():
        answers = await sending.send_step(workspace["id"], flow_id, 1, step,
                                          [(1, berlin["id"], 0), (2, new_york["id"], 0)], now=evening)
        assert answers[2][0] == "sent"
        assert answers[1] == ("later", datetime(2026, 6, 11, 8, 0, tzinfo=ZoneInfo("Europe/Berlin")))
        # The engine tries again when told: quiet hours are over in Berlin.
        again = await sending.send_step(workspace["id"], flow_id, 1, step, [(1, berlin["id"], 0)],
                                        now=answers[1][1])
    assert again[1][0] == "sent"


async def test_a_campaign_sent_today_holds_a_flow_email_until_the_next_local_day() -> None:
    workspace = await make_workspace()
    people = await make_list(workspace)
    others = await make_list(workspace)
    ada = await make_subscriber(people, "ada@example.com")
    bob = await make_subscriber(others, "bob@example.com")
    await limits.save_limits(workspace["id"], {"max_per_day": "1"})
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        async with local_sending() as local:
            campaign = await ready_campaign(workspace["id"], [people["id"]])
            await campaigns.launch(local.redis, local.queue, workspace["id"], campaign["id"], PERSON)
            await local.drain()
            flow_id, step = await flow_with_send_step(workspace["id"], with_domain=False)
            moment = now()
            answers = await sending.send_step(workspace["id"], flow_id, 1, step,
                                              [(1, ada["id"], 0), (2, bob["id"], 0)], now=moment)
            await local.drain()
        assert sorted(smtp.handler.recipients) == ["ada@example.com", "bob@example.com"]
    assert answers[2][0] == "sent"
    assert answers[1] == ("later", limits.day_bounds(moment, ZoneInfo("UTC"))[1])


async def test_a_flow_email_waiting_to_go_counts_and_the_campaign_skips_that_person() -> None:
    workspace = await make_workspace()
    people = await make_list(workspace)
    ada = await make_subscriber(people, "ada@example.com")
    await make_subscriber(people, "bob@example.com")
    await limits.save_limits(workspace["id"], {"max_per_day": "1"})
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        async with local_sending() as local:
            campaign = await ready_campaign(workspace["id"], [people["id"]])
            flow_id, step = await flow_with_send_step(workspace["id"], with_domain=False)
            answers = await sending.send_step(workspace["id"], flow_id, 1, step, [(1, ada["id"], 0)], now=now())
            await campaigns.launch(local.redis, local.queue, workspace["id"], campaign["id"], PERSON)
            await local.drain()
        assert sorted(smtp.handler.recipients) == ["ada@example.com", "bob@example.com"]
    assert answers[1][0] == "sent"
    rows = {row["email"]: row for row in await Delivery.select().where(Delivery.campaign_id == campaign["id"])}
    assert rows["ada@example.com"]["status"] == "cancelled"
    assert rows["ada@example.com"]["last_answer"] == limits.FREQUENCY_CAPPED
    assert rows["bob@example.com"]["status"] == "sent"


async def test_two_subscribers_at_one_address_share_its_allowance() -> None:
    workspace = await make_workspace()
    first, second = await make_list(workspace), await make_list(workspace)
    one = await make_subscriber(first, "ada@example.com")
    two = await make_subscriber(second, "ada@example.com")
    await limits.save_limits(workspace["id"], {"max_per_day": "1"})
    flow_id, step = await flow_with_send_step(workspace["id"])
    async with local_sending():
        answers = await sending.send_step(workspace["id"], flow_id, 1, step,
                                          [(1, one["id"], 0), (2, two["id"], 0)], now=now())
    assert sorted(outcome for outcome, _ in answers.values()) == ["later", "sent"]
