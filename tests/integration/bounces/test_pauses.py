"""Thresholds act: a complaint rate pauses a server for one domain group, a hard-bounce rate pauses a campaign."""

from __future__ import annotations

from typing import Any

import pytest

from app.embedded import free_port
from app.redis_client import get_redis
from app.services import campaigns
from app.services.bounces import rates
from app.services.bounces.model import FeedbackSettings
from app.services.bounces.rates import FeedbackCount, Rates
from app.services.bounces.thresholds import save_settings
from app.services.delivery_servers import create_server
from app.services.routing import route
from app.services.throttling import pauses
from tests.factories import make_list, make_subscribers, make_workspace
from tests.integration.bounces.helpers_rates import add_sent
from tests.integration.campaigns.helpers import PERSON, LocalQueue, ready_campaign


@pytest.fixture
def redis() -> Any:
    return get_redis()


async def _server(workspace_id: int, name: str = "Main") -> dict:
    # Routing only reads the server's row: nothing listens on the port.
    return await create_server(workspace_id, "smtp", {
        "name": name, "setting_host": "127.0.0.1", "setting_port": str(free_port()), "setting_security": "none",
        "weight": "100"})


async def _complaints(workspace_id: int, server_id: int, group: str, sent: int, complaints: int) -> list[FeedbackCount]:
    await add_sent(workspace_id, server_id, group, sent)
    counts = [FeedbackCount(server_id, group, None, "complaint", n=complaints)]
    await rates.count_feedback(workspace_id, counts)
    return counts


def test_a_pair_is_judged_against_the_warning_and_pause_rates():
    settings = FeedbackSettings()
    assert pauses.judge_pair(Rates(sent=10_000, complaint=10), settings).action == ""  # 0.1% is not over 0.1%
    assert pauses.judge_pair(Rates(sent=10_000, complaint=11), settings).action == pauses.WARN
    assert pauses.judge_pair(Rates(sent=10_000, complaint=30), settings).action == pauses.WARN
    paused = pauses.judge_pair(Rates(sent=10_000, complaint=31), settings)
    assert paused.action == pauses.PAUSE and paused.rate == 0.0031 and paused.threshold == 0.003
    assert "complaint rate 0.31% (31 of 10,000 sent in 24 h), above 0.30%" in paused.reason
    # Too few messages for a rate to mean anything: one complaint in 500 decides nothing.
    assert pauses.judge_pair(Rates(sent=500, complaint=5), settings).action == ""


def test_without_complaint_reports_blocks_stand_in():
    settings = FeedbackSettings()
    quiet = Rates(sent=10_000, complaint=0, block=40)
    assert pauses.judge_pair(quiet, settings).action == ""
    judged = pauses.judge_pair(quiet, settings, complaint_reports=False)
    assert judged.action == pauses.PAUSE and judged.reason.startswith("block rate 0.40% (40 of 10,000 sent in 24 h)")
    assert "no complaint reports" in judged.reason


def test_a_campaign_is_judged_on_its_hard_bounces():
    settings = FeedbackSettings(hard_pause_rate=0.05)
    assert pauses.judge_campaign(Rates(sent=1000, hard=50), settings).action == ""
    assert pauses.judge_campaign(Rates(sent=1000, hard=51), settings).action == pauses.CAMPAIGN_PAUSE
    assert pauses.judge_campaign(Rates(sent=50, hard=40), settings).action == ""


async def test_complaints_over_the_pause_rate_stop_the_server_for_that_group_only(redis):
    workspace = await make_workspace()
    main, spare = await _server(workspace["id"]), await _server(workspace["id"], "Spare")
    counts = await _complaints(workspace["id"], main["id"], "Microsoft", 2000, 7)
    assert (await route(redis, workspace["id"], "a@outlook.com")).chosen is not None
    await pauses.evaluate(workspace["id"], counts)
    to_microsoft = await route(redis, workspace["id"], "a@outlook.com")
    skipped = {c.name: c.skipped for c in to_microsoft.candidates}
    assert skipped["Main"].startswith("paused for Microsoft until ") and "complaint rate 0.35%" in skipped["Main"]
    assert skipped["Spare"] == "" and to_microsoft.chosen.name == "Spare"
    to_yahoo = await route(redis, workspace["id"], "a@yahoo.com")
    assert {c.name: c.skipped for c in to_yahoo.candidates} == {"Main": "", "Spare": ""}
    [paused] = await pauses.active_pauses(workspace["id"])
    assert (paused["server_name"], paused["domain_group"]) == ("Main", "Microsoft")
    [decision] = await pauses.recent_decisions(workspace["id"])
    assert (decision["kind"], decision["server_name"], decision["domain_group"]) == ("pause", "Main", "Microsoft")
    assert decision["rate"] == 0.0035 and decision["threshold"] == 0.003
    assert spare["id"] not in {p["server_id"] for p in await pauses.active_pauses(workspace["id"])}


async def test_a_pause_is_decided_once_and_lifting_it_holds_against_the_same_evidence(redis):
    workspace = await make_workspace()
    main = await _server(workspace["id"])
    counts = await _complaints(workspace["id"], main["id"], "Microsoft", 2000, 7)
    for _ in range(3):
        await pauses.evaluate(workspace["id"], counts)
    assert [d["kind"] for d in await pauses.recent_decisions(workspace["id"])] == ["pause"]
    await pauses.lift(workspace["id"], main["id"], "Microsoft", "owner@example.com")
    assert (await route(redis, workspace["id"], "a@outlook.com")).chosen.name == "Main"
    await pauses.evaluate(workspace["id"], counts)
    assert await pauses.active_pauses(workspace["id"]) == []
    lifted, _ = await pauses.recent_decisions(workspace["id"])
    assert lifted["kind"] == "lift" and lifted["reason"].startswith("lifted by owner@example.com; it was: ")
    with pytest.raises(LookupError):
        await pauses.lift(workspace["id"], main["id"], "Microsoft", "owner@example.com")


async def test_a_warning_is_recorded_once_a_day_and_stops_nothing(redis):
    workspace = await make_workspace()
    main = await _server(workspace["id"])
    counts = await _complaints(workspace["id"], main["id"], "Yahoo/AOL", 5000, 8)
    await pauses.evaluate(workspace["id"], counts)
    await pauses.evaluate(workspace["id"], counts)
    [warned] = await pauses.recent_decisions(workspace["id"])
    assert warned["kind"] == "warn" and "complaint rate 0.16%" in warned["reason"]
    assert await pauses.active_pauses(workspace["id"]) == []
    assert (await route(redis, workspace["id"], "a@yahoo.com")).chosen.name == "Main"


async def test_gmail_is_paused_on_its_blocks_since_it_sends_no_complaints(redis):
    workspace = await make_workspace()
    main = await _server(workspace["id"])
    await route(redis, workspace["id"], "a@gmail.com")  # the workspace's domain groups are made on first use
    await add_sent(workspace["id"], main["id"], "Gmail", 4000)
    counts = [FeedbackCount(main["id"], "Gmail", None, "block", n=20)]
    await rates.count_feedback(workspace["id"], counts)
    await pauses.evaluate(workspace["id"], counts)
    [paused] = await pauses.active_pauses(workspace["id"])
    assert paused["domain_group"] == "Gmail" and "block rate 0.50%" in paused["reason"]


async def test_the_workspace_thresholds_decide(redis):
    workspace = await make_workspace()
    main = await _server(workspace["id"])
    await save_settings(workspace["id"], {"soft_limit": "3", "soft_days": "30", "complaint_warn_rate": "0.5",
                                          "complaint_pause_rate": "1", "hard_pause_rate": "5"})
    counts = await _complaints(workspace["id"], main["id"], "Microsoft", 2000, 7)
    await pauses.evaluate(workspace["id"], counts)
    assert await pauses.recent_decisions(workspace["id"]) == []


async def test_another_workspace_cannot_pause_or_lift_my_server():
    mine, theirs = await make_workspace(), await make_workspace()
    server = await _server(mine["id"])
    counts = await _complaints(theirs["id"], server["id"], "Microsoft", 2000, 10)
    await pauses.evaluate(theirs["id"], counts)
    assert await pauses.active_pauses(mine["id"]) == [] and await pauses.active_pauses(theirs["id"]) == []
    await pauses.evaluate(mine["id"], await _complaints(mine["id"], server["id"], "Microsoft", 2000, 10))
    with pytest.raises(LookupError):
        await pauses.lift(theirs["id"], server["id"], "Microsoft", "intruder@example.com")
    assert len(await pauses.active_pauses(mine["id"])) == 1


async def test_hard_bounces_over_the_threshold_pause_a_sending_campaign_once(redis):
    workspace = await make_workspace()
    people = await make_list(workspace)
    await make_subscribers(people, 3)
    queue = LocalQueue()
    campaign = await ready_campaign(workspace["id"], [people["id"]])
    await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
    await add_sent(workspace["id"], None, "Others", 400, campaign_id=campaign["id"])
    counts = [FeedbackCount(None, "Others", campaign["id"], "hard", n=19)]
    await rates.count_feedback(workspace["id"], counts)
    await pauses.evaluate(workspace["id"], counts)
    assert (await campaigns.get_campaign(workspace["id"], campaign["id"]))["status"] == "sending"  # 4.75%
    counts = [FeedbackCount(None, "Others", campaign["id"], "hard", n=2)]
    await rates.count_feedback(workspace["id"], counts)
    await pauses.evaluate(workspace["id"], counts)
    paused = await campaigns.get_campaign(workspace["id"], campaign["id"])
    # Its page says why it stopped, in the words of the decision.
    assert paused["status"] == "paused" and "hard-bounce rate 5.25%" in paused["status_reason"]
    [decision] = await pauses.recent_decisions(workspace["id"])
    assert decision["kind"] == "campaign_pause" and decision["campaign_name"] == campaign["name"]
    assert "hard-bounce rate 5.25% (21 of 400 sent), above 5.00%" in decision["reason"]
    # A person resumes it knowingly: more bounces of the same campaign do not pause it again.
    await campaigns.resume(redis, queue, workspace["id"], campaign["id"], PERSON)
    await pauses.evaluate(workspace["id"], counts)
    resumed = await campaigns.get_campaign(workspace["id"], campaign["id"])
    assert resumed["status"] == "sending" and resumed["status_reason"] == ""
    assert len(await pauses.recent_decisions(workspace["id"])) == 1
