"""When each recipient's message goes: a time in a chosen zone, each one's local time, each one's best hour, the
sending window, the speed limit, and the sweep that queues rows as they fall due.

Time moves forward by writing past times into rows, or by passing `now` to the batch; never by sleeping.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.db.accounts import Workspace
from app.db.campaigns import Campaign, Delivery
from app.services import campaigns
from app.services.accounts import now
from app.services.campaigns import send_times, speed
from app.services.campaigns.batches import OUTSIDE_WINDOW, SPEED_LIMITED
from app.services.sqlparams import Params, fetch
from tests.factories import make_list, make_subscriber, make_workspace
from tests.integration.campaigns.helpers import PERSON, ready_campaign


async def _deliveries(campaign_id: int) -> dict[str, dict]:
    rows = await Delivery.select().where(Delivery.campaign_id == campaign_id)
    return {row["email"]: row for row in rows}


async def _materialised(redis, queue, workspace_id: int, campaign_id: int) -> None:
    while queue.materialising:
        await campaigns.materialise(redis, queue, *queue.materialising.pop(0))


async def _run_batches(redis, queue, adapters, moment: datetime | None = None) -> int:
    """Run the batches queued so far (with the clock at `moment`); returns how many rows they claimed."""
    claimed = 0
    while queue.batches:
        batch = queue.batches.pop(0)
        claimed += await campaigns.send_campaign_batch(redis, queue, adapters, *batch[:4], now=moment)
    return claimed


async def _due_now(campaign_id: int) -> None:
    """Time moves on: every waiting row of the campaign has come due."""
    await Delivery.update({Delivery.next_attempt_at: now()}).where(
        Delivery.campaign_id == campaign_id, Delivery.status.is_in(["queued", "deferred"]))


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M")


async def test_a_campaign_scheduled_in_another_time_zone_starts_at_that_moment_and_sends(redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscriber(mailing_list, "ann@example.com", status="confirmed")
    draft = await ready_campaign(workspace["id"], [mailing_list["id"]], send_mode="at", timezone="Asia/Kolkata",
                                 scheduled_at="2099-01-15T09:00")
    assert draft["scheduled_at"] == datetime(2099, 1, 15, 3, 30, tzinfo=UTC)  # India is UTC+5:30
    scheduled = await campaigns.launch(redis, queue, workspace["id"], draft["id"], PERSON)
    assert scheduled["status"] == "scheduled" and await campaigns.start_due(redis, queue) == []

    await Campaign.update({Campaign.scheduled_at: now() - timedelta(minutes=2)}).where(Campaign.id == draft["id"])
    assert await campaigns.start_due(redis, queue) == [draft["id"]]
    await _materialised(redis, queue, workspace["id"], draft["id"])
    assert await _run_batches(redis, queue, adapters) == 1
    assert (await _deliveries(draft["id"]))["ann@example.com"]["status"] == "sent"


async def test_each_recipient_gets_it_at_the_chosen_time_in_their_own_zone(redis, queue, adapters):
    workspace = await make_workspace()
    await Workspace.update({Workspace.timezone: "Australia/Sydney"}).where(Workspace.id == workspace["id"])
    mailing_list = await make_list(workspace)
    await make_subscriber(mailing_list, "ny@example.com", status="confirmed", timezone="America/New_York")
    await make_subscriber(mailing_list, "tokyo@example.com", status="confirmed", timezone="Asia/Tokyo")
    await make_subscriber(mailing_list, "berlin@example.com", {"country": "de"}, status="confirmed")
    await make_subscriber(mailing_list, "lisbon@example.com", {"country": " Portugal"}, status="confirmed",
                          timezone="Not/AZone")
    await make_subscriber(mailing_list, "nowhere@example.com", status="confirmed")
    # Ten minutes ago where the day starts first (UTC+14): still ahead everywhere these people live.
    chosen = (datetime.now(ZoneInfo(send_times.EARLIEST_ZONE)) - timedelta(minutes=10)).replace(
        second=0, microsecond=0, tzinfo=None)
    draft = await ready_campaign(workspace["id"], [mailing_list["id"]], send_mode="local",
                                 timezone=send_times.EARLIEST_ZONE, scheduled_at=chosen.isoformat(timespec="minutes"))
    assert send_times.starts_at(draft) == draft["scheduled_at"]
    started = await campaigns.launch(redis, queue, workspace["id"], draft["id"], PERSON)
    assert started["status"] == "sending"
    await _materialised(redis, queue, workspace["id"], draft["id"])

    rows = await _deliveries(draft["id"])
    expected = {"ny@example.com": "America/New_York", "tokyo@example.com": "Asia/Tokyo",
                "berlin@example.com": "Europe/Berlin", "lisbon@example.com": "Europe/Lisbon",
                "nowhere@example.com": "Australia/Sydney"}
    for email, zone in expected.items():
        assert rows[email]["next_attempt_at"] == chosen.replace(tzinfo=ZoneInfo(zone)), email
    assert len({row["next_attempt_at"] for row in rows.values()}) == 5
    # None is due yet: nothing was queued, and a batch over every row claims none of them.
    assert queue.batches == []
    ids = sorted(row["id"] for row in rows.values())
    assert await campaigns.send_campaign_batch(redis, queue, adapters, workspace["id"], draft["id"],
                                               ids[0], ids[-1]) == 0

    # Tokyo's moment comes: the reaper's minute sweep queues that row alone, once.
    await Delivery.update({Delivery.next_attempt_at: now()}).where(Delivery.id == rows["tokyo@example.com"]["id"])
    await campaigns.reap(redis, queue)
    assert [batch[2:4] for batch in queue.batches] == [(rows["tokyo@example.com"]["id"],) * 2]
    assert await send_times.queue_fallen_due(redis, queue, workspace["id"], draft["id"]) == 0
    assert await _run_batches(redis, queue, adapters) == 1
    sent = {email for email, row in (await _deliveries(draft["id"])).items() if row["status"] == "sent"}
    assert sent == {"tokyo@example.com"}


def test_a_campaign_in_local_time_starts_when_the_first_zone_reaches_its_time():
    campaign = {"send_mode": "local", "timezone": "Europe/Paris",
                "scheduled_at": datetime(2099, 1, 15, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))}
    assert send_times.starts_at(campaign) == datetime(2099, 1, 14, 19, 0, tzinfo=UTC)
    assert send_times.starts_at({**campaign, "send_mode": "at"}) == campaign["scheduled_at"]
    assert send_times.timing_problem({**campaign, "scheduled_at": None}) == "Choose the date and time."
    assert send_times.timing_problem({**campaign, "send_mode": "now", "scheduled_at": None}) is None


def _hour_of_week(moment: datetime) -> int:
    moment = moment.astimezone(UTC)
    return moment.weekday() * 24 + moment.hour


def _next_occurrence(hour: int, start: datetime) -> datetime:
    """The first moment from `start` on whose hour of the week (UTC) is `hour` (an independent reckoning)."""
    base = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    ahead = (hour - _hour_of_week(base)) % 168
    return start if ahead == 0 else base + timedelta(hours=ahead)


async def _opens(workspace_id: int, subscriber_id: int, hour: int, count: int) -> None:
    """`count` opens in earlier weeks, each in the given hour of the week."""
    first = _next_occurrence(hour, now()) - timedelta(weeks=count + 1)
    params = Params()
    await fetch(
        "INSERT INTO events (workspace_id, subscriber_id, kind, occurred_at) "
        f"SELECT {params.add(workspace_id)}, {params.add(subscriber_id)}, 'open', "
        f"{params.add(first)}::timestamptz + make_interval(weeks => k, mins => 17) "
        f"FROM generate_series(0, {params.add(count - 1)}) k", params)


async def test_best_hour_comes_from_the_subscribers_opens_then_their_lists_then_the_chosen_time(redis, queue):
    workspace = await make_workspace()
    engaged, quiet = await make_list(workspace), await make_list(workspace)
    reader = await make_subscriber(engaged, "reader@example.com", status="confirmed")
    other = await make_subscriber(engaged, "other@example.com", status="confirmed")
    await make_subscriber(engaged, "silent@example.com", status="confirmed")
    await make_subscriber(quiet, "new@example.com", status="confirmed")
    current = _hour_of_week(now())
    favourite, evening = (current + 5) % 168, (current + 30) % 168
    await _opens(workspace["id"], reader["id"], favourite, 3)
    await _opens(workspace["id"], reader["id"], evening, 1)
    await _opens(workspace["id"], other["id"], evening, 2)
    # Opens in another workspace say nothing about this one.
    stranger = await make_workspace()
    await _opens(stranger["id"], other["id"], favourite, 5)

    fallback = (now() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    draft = await ready_campaign(workspace["id"], [engaged["id"], quiet["id"]], send_mode="best_hour",
                                 timezone="UTC", scheduled_at=fallback)
    started = await campaigns.launch(redis, queue, workspace["id"], draft["id"], PERSON)
    await _materialised(redis, queue, workspace["id"], draft["id"])
    rows = await _deliveries(draft["id"])
    start = started["started_at"]
    assert rows["reader@example.com"]["next_attempt_at"] == _next_occurrence(favourite, start)
    assert rows["other@example.com"]["next_attempt_at"] == _next_occurrence(evening, start)
    # No opens of their own: their list's best hour (the reader's three opens outweigh the others).
    assert rows["silent@example.com"]["next_attempt_at"] == _next_occurrence(favourite, start)
    # Nobody on the quiet list ever opened: the chosen time, which has come already.
    assert rows["new@example.com"]["next_attempt_at"] <= rows["new@example.com"]["created_at"]
    assert all(start <= row["next_attempt_at"] - timedelta(minutes=1) < start + timedelta(days=7)
               for email, row in rows.items() if email != "new@example.com")


async def test_the_sending_window_defers_a_message_to_its_opening_then_sends_it(redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscriber(mailing_list, "ann@example.com", status="confirmed", timezone="UTC")
    opens = now() + timedelta(hours=2)
    draft = await ready_campaign(workspace["id"], [mailing_list["id"]], window_start=_clock(opens),
                                 window_end=_clock(opens + timedelta(hours=1)))
    await campaigns.launch(redis, queue, workspace["id"], draft["id"], PERSON)
    await _materialised(redis, queue, workspace["id"], draft["id"])
    row = (await _deliveries(draft["id"]))["ann@example.com"]
    assert abs(row["next_attempt_at"] - opens.replace(second=0, microsecond=0)) < timedelta(minutes=1)
    assert queue.batches == []

    # A retry that comes due outside the window goes back to wait for it, its attempts unchanged.
    await Delivery.update({Delivery.status: "deferred", Delivery.attempts: 1, Delivery.next_attempt_at: now()}).where(
        Delivery.id == row["id"])
    assert await send_times.queue_fallen_due(redis, queue, workspace["id"], draft["id"]) == 0  # not a queued row
    await campaigns.queue_due(redis, queue, workspace["id"], draft["id"])
    assert await _run_batches(redis, queue, adapters, moment=datetime.now(UTC)) == 1
    waiting = (await _deliveries(draft["id"]))["ann@example.com"]
    assert (waiting["status"], waiting["attempts"], waiting["last_answer"]) == ("queued", 1, OUTSIDE_WINDOW)
    assert waiting["next_attempt_at"] > now() + timedelta(minutes=110)

    # The window opens: the sweep queues the row and it goes.
    await _due_now(draft["id"])
    assert await send_times.queue_fallen_due(redis, queue, workspace["id"], draft["id"]) == 1
    assert await _run_batches(redis, queue, adapters, moment=opens + timedelta(minutes=5)) == 1
    sent = (await _deliveries(draft["id"]))["ann@example.com"]
    assert (sent["status"], sent["attempts"]) == ("sent", 2)


async def test_the_speed_limit_lets_through_only_its_rate_and_the_rest_waits_its_turn(redis, queue, adapters):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    for number in range(4):
        await make_subscriber(mailing_list, f"r{number}@example.com", status="confirmed")
    draft = await ready_campaign(workspace["id"], [mailing_list["id"]], speed_per_hour="60")
    await campaigns.launch(redis, queue, workspace["id"], draft["id"], PERSON)
    await _materialised(redis, queue, workspace["id"], draft["id"])
    start = datetime.now(UTC)
    assert await _run_batches(redis, queue, adapters, moment=start) == 4
    rows = sorted((await _deliveries(draft["id"])).values(), key=lambda row: row["next_attempt_at"])
    assert [row["status"] for row in rows].count("sent") == 1
    waiting = [row for row in rows if row["status"] == "queued"]
    assert {(row["attempts"], row["last_answer"]) for row in waiting} == {(0, SPEED_LIMITED)}
    # One a minute: each waits a minute longer than the one before.
    gaps = [(later["next_attempt_at"] - earlier["next_attempt_at"]).total_seconds()
            for earlier, later in itertools.pairwise(waiting)]
    assert all(59 <= gap <= 61 for gap in gaps)

    # Half a minute on, there is no token yet; a minute on, one more goes.
    for seconds, sent in ((30, 1), (60, 2)):
        await _due_now(draft["id"])
        await campaigns.queue_due(redis, queue, workspace["id"], draft["id"])
        await _run_batches(redis, queue, adapters, moment=start + timedelta(seconds=seconds))
        statuses = [row["status"] for row in (await _deliveries(draft["id"])).values()]
        assert statuses.count("sent") == sent


async def test_the_speed_limit_holds_over_an_hour_whatever_the_demand(redis):
    campaign = {"id": 987_654_321, "speed_per_hour": 120}
    start = time.time()
    granted = 0
    for step in range(360):  # a batch of 5 every 10 seconds for an hour: 1,800 asked for
        allowed = await speed.allowance(redis, campaign, list(range(5)), now=start + step * 10)
        granted += len(allowed.now)
    assert 120 <= granted <= 120 + 2  # the limit, plus the two a minute's burst holds at the start


async def test_a_local_time_campaign_is_started_by_the_scheduler_when_the_earliest_zone_reaches_its_time(
        redis, queue):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscriber(mailing_list, "ann@example.com", status="confirmed", timezone="Pacific/Kiritimati")
    # 09:00 in Paris, tomorrow: already past in UTC+14 only once its clock reads 09:00 there.
    paris_time = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=1)).replace(hour=9, minute=0, second=0,
                                                                                      microsecond=0)
    draft = await ready_campaign(workspace["id"], [mailing_list["id"]], send_mode="local", timezone="Europe/Paris",
                                 scheduled_at=paris_time.strftime("%Y-%m-%dT%H:%M"))
    scheduled = await campaigns.launch(redis, queue, workspace["id"], draft["id"], PERSON)
    assert scheduled["status"] == "scheduled"
    starts = send_times.starts_at(scheduled)
    assert starts is not None and starts < scheduled["scheduled_at"]

    # Time moves on to a minute after the earliest zone's 09:00, still hours before Paris's.
    moved = starts - now() + timedelta(minutes=1)
    await Campaign.update({Campaign.scheduled_at: scheduled["scheduled_at"] - moved}).where(
        Campaign.id == draft["id"])
    assert await campaigns.start_due(redis, queue) == [draft["id"]]
    assert (await campaigns.get_campaign(workspace["id"], draft["id"]))["status"] == "sending"


async def test_a_timed_mode_without_its_time_cannot_launch(redis, queue):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscriber(mailing_list, "ann@example.com", status="confirmed")
    draft = await ready_campaign(workspace["id"], [mailing_list["id"]])
    await Campaign.update({Campaign.send_mode: "best_hour"}).where(Campaign.id == draft["id"])
    try:
        await campaigns.launch(redis, queue, workspace["id"], draft["id"], PERSON)
    except campaigns.CampaignError as refused:
        assert refused.errors["scheduled_at"] == "Choose the date and time."
    else:
        raise AssertionError("launched without a time")
    assert (await campaigns.get_campaign(workspace["id"], draft["id"]))["status"] == "draft"
