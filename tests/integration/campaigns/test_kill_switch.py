"""Kill switches: a workspace's (owners and admins, with a reason) and the operator's (CLI and setting)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest

from app.db.accounts import Workspace
from app.db.audit import AuditEntry
from app.db.campaigns import Campaign, Delivery
from app.services import campaigns, kill_switch
from app.services.accounts import now
from app.services.audit import SYSTEM, Actor
from app.services.forms import FormError
from tests.factories import make_list, make_subscribers, make_user, make_workspace
from tests.integration.campaigns.helpers import PERSON, ready_campaign, smtp_server
from tests.integration.campaigns.recorder import RecordingServer

REASON = "Spamhaus listed our IP"


async def _draft_like(first: dict, list_ids: list[int]) -> dict:
    """Another campaign of the workspace of `first`, from the same sender and template."""
    return await campaigns.create_draft(first["workspace_id"], {
        "name": "Another", "from_email": first["from_email"], "template_id": str(first["template_id"]),
        "list_ids": [str(i) for i in list_ids]})


async def _sending(redis, queue, workspace: dict, people: int, prefix: str = "sub", like: dict | None = None) -> dict:
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, people, prefix=prefix)
    campaign = (await _draft_like(like, [mailing_list["id"]]) if like
                else await ready_campaign(workspace["id"], [mailing_list["id"]]))
    return await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)


async def _status(campaign: dict) -> tuple[str, str]:
    row = await Campaign.select(Campaign.status, Campaign.status_reason).where(Campaign.id == campaign["id"]).first()
    return row["status"], row["status_reason"]


async def _sent(campaign: dict) -> int:
    return await Delivery.count().where(Delivery.campaign_id == campaign["id"], Delivery.status == "sent")


async def test_stopping_needs_a_reason_and_changes_nothing_without_one(redis):
    workspace = await make_workspace()
    with pytest.raises(FormError) as refused:
        await kill_switch.stop_workspace(redis, workspace["id"], PERSON, "   ")
    assert refused.value.field == "reason"
    assert await kill_switch.workspace_stop(workspace["id"]) is None
    assert not await AuditEntry.exists().where(AuditEntry.workspace_id == workspace["id"])


async def test_a_workspace_stop_halts_its_campaigns_until_restarted_and_leaves_others_alone(redis, queue, adapters):
    workspace, neighbour = await make_workspace(), await make_workspace()
    owner = await make_user(workspace)
    actor = Actor(user_id=owner["id"], email=owner["email"])
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        await smtp_server(neighbour["id"], smtp.port)
        running = await _sending(redis, queue, workspace, 30)
        paused_by_hand = await _sending(redis, queue, workspace, 5, prefix="vip", like=running)
        await campaigns.pause(redis, workspace["id"], paused_by_hand["id"], PERSON)
        theirs = await _sending(redis, queue, neighbour, 7)

        stop = await kill_switch.stop_workspace(redis, workspace["id"], actor, f"  {REASON} ")
        assert (stop.reason, stop.by) == (REASON, owner["email"])
        await queue.drain(redis, adapters)
        assert await _sent(running) == 0 and await _sent(theirs) == 7
        assert await _status(running) == ("paused", kill_switch.PAUSED_BY_STOP + REASON)
        entry = await AuditEntry.select().where(AuditEntry.workspace_id == workspace["id"],
                                                AuditEntry.action == "sending.stopped").first().output(load_json=True)
        assert entry["details"]["reason"] == REASON and entry["user_id"] == owner["id"]
        assert (await kill_switch.workspace_stop(workspace["id"])).by == owner["email"]

        with pytest.raises(kill_switch.SendingStopped, match=REASON):
            await campaigns.resume(redis, queue, workspace["id"], running["id"], PERSON)
        draft = await _draft_like(running, running["list_ids"])
        with pytest.raises(kill_switch.SendingStopped, match=REASON):
            await campaigns.launch(redis, queue, workspace["id"], draft["id"], PERSON)
        assert (await _status(draft))[0] == "draft"

        assert await kill_switch.restart_workspace(redis, workspace["id"], actor, queue) == [running["id"]]
        await queue.drain(redis, adapters)
        assert await _sent(running) == 30
        assert await _status(paused_by_hand) == ("paused", "")
    assert await kill_switch.workspace_stop(workspace["id"]) is None
    assert await AuditEntry.exists().where(AuditEntry.action == "sending.restarted")


async def test_the_scheduler_leaves_a_due_campaign_scheduled_while_its_workspace_is_stopped(redis, queue):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 3)
    campaign = await ready_campaign(workspace["id"], [mailing_list["id"]], send_mode="at",
                                    scheduled_at=(now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    assert (await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON))["status"] == "scheduled"
    await Campaign.update({Campaign.scheduled_at: now() - timedelta(minutes=1)}).where(Campaign.id == campaign["id"])
    await kill_switch.stop_workspace(redis, workspace["id"], PERSON, REASON)
    assert await campaigns.start_due(redis, queue) == []
    assert (await _status(campaign))[0] == "scheduled"
    await kill_switch.restart_workspace(redis, workspace["id"], PERSON)
    assert await campaigns.start_due(redis, queue) == [campaign["id"]]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True,
                          env=os.environ, timeout=60)


async def test_the_operator_stops_and_restarts_every_workspace_from_the_command_line(redis, queue):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 3)
    campaign = await ready_campaign(workspace["id"], [mailing_list["id"]])

    assert _cli("stop-sending").returncode == 2  # --reason is required
    stopped = _cli("stop-sending", "--reason", "Upstream provider incident", "--by", "ops")
    assert stopped.returncode == 0, stopped.stderr
    stop = await kill_switch.platform_stop()
    assert (stop.reason, stop.by, stop.scope) == ("Upstream provider incident", "ops", "platform")
    assert (await kill_switch.stop_for(workspace["id"])).scope == "platform"
    assert await kill_switch.held_by_operator(redis, campaign["id"])
    with pytest.raises(kill_switch.SendingStopped, match="every workspace"):
        await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON)
    assert not await kill_switch.may_start(workspace["id"], SYSTEM)

    resumed = _cli("resume-sending")
    assert resumed.returncode == 0 and "restarted" in resumed.stdout
    assert await kill_switch.platform_stop() is None
    assert not await kill_switch.held_by_operator(redis, campaign["id"])
    assert (await campaigns.launch(redis, queue, workspace["id"], campaign["id"], PERSON))["status"] == "sending"


async def test_the_sending_stopped_setting_stops_every_workspace(monkeypatch):
    from app.settings import get_settings

    workspace = await make_workspace()
    monkeypatch.setenv("SENDING_STOPPED", "1")
    get_settings.cache_clear()
    try:
        stop = await kill_switch.stop_for(workspace["id"])
        assert stop is not None and stop.scope == "platform" and "SENDING_STOPPED" in stop.reason
    finally:
        monkeypatch.delenv("SENDING_STOPPED")
        get_settings.cache_clear()
    assert await kill_switch.stop_for(workspace["id"]) is None
    assert await Workspace.exists().where(Workspace.id == workspace["id"])
