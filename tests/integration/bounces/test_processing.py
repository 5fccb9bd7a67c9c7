"""Processing: a stored report is parsed, matched to its delivery and acted on, exactly once."""

from __future__ import annotations

import asyncio

import pytest

from app.redis_client import get_redis
from app.services.bounces import actions, intake, processing
from app.services.bounces.intake import Incoming
from app.services.sqlparams import fetch_positional
from app.services.throttling.adaptive import window_outcomes
from tests.factories import make_workspace
from tests.integration.bounces.helpers_processing import (
    GROUP,
    SERVER_ID,
    arf,
    autoreply,
    blacklisted,
    bounces_of,
    counters,
    dsn,
    sent_delivery,
    statuses,
)

EMAIL = "ann@example.org"


async def _report(workspace_id: int | None, raw: bytes, ref: str = "mbox:1:1", source: str = "imap") -> int:
    report_id = await intake.accept(Incoming(source, ref, raw=raw, workspace_id=workspace_id))
    assert report_id is not None
    return report_id


async def _report_row(report_id: int) -> dict:
    [row] = await fetch_positional("SELECT * FROM bounce_reports WHERE id = $1", [report_id])
    return row


async def test_a_report_received_twice_is_stored_once():
    workspace = await make_workspace()
    incoming = Incoming("imap", "mbox:1:1", raw=dsn(EMAIL), workspace_id=workspace["id"])
    first = await intake.accept(incoming)
    assert first is not None
    assert await intake.accept(incoming) is None
    assert await intake.accept(Incoming("pop3", "mbox:1:1", raw=b"x")) not in (None, first)


async def test_a_huge_report_is_kept_up_to_the_cap_with_its_size():
    report_id = await intake.accept(Incoming("mx", "huge", raw=b"x" * (intake.MAX_RAW_BYTES + 10)))
    row = await _report_row(report_id)
    assert (len(row["raw"]), row["raw_size"]) == (intake.MAX_RAW_BYTES, intake.MAX_RAW_BYTES + 10)


async def test_an_unknown_source_is_refused():
    with pytest.raises(ValueError, match="source"):
        await intake.accept(Incoming("fax", "1"))


async def test_a_hard_bounce_suppresses_every_subscription_blacklists_and_counts():
    workspace = await make_workspace()
    delivery = await sent_delivery(workspace, EMAIL, lists=2)
    report_id = await _report(workspace["id"], dsn(EMAIL, delivery_id=delivery["id"]))

    [done] = await processing.process_reports(get_redis(), [report_id])

    assert done.workspace_id == workspace["id"]
    assert await statuses(workspace["id"], EMAIL) == ["bounced", "bounced"]
    assert await blacklisted(workspace["id"]) == [EMAIL]
    [bounce] = await bounces_of(workspace["id"])
    assert (bounce["category"], bounce["status"], bounce["action_taken"], bounce["delivery_id"],
            bounce["campaign_id"], bounce["server_id"], bounce["domain_group"], bounce["report_id"]) == (
        "hard", "5.1.1", actions.SUPPRESSED, delivery["id"], delivery["campaign_id"], SERVER_ID, GROUP, report_id)
    assert bounce["rule"] and "User unknown" in bounce["diagnostic"]
    assert (await counters(workspace["id"]))["hard"] == 1
    [event] = await fetch_positional("SELECT kind, subscriber_id, delivery_id FROM events WHERE workspace_id = $1",
                                     [workspace["id"]])
    assert (event["kind"], event["subscriber_id"], event["delivery_id"]) == (
        "bounce", delivery["subscriber_id"], delivery["id"])
    history = await fetch_positional(
        "SELECT from_status, to_status, source FROM subscriber_status_changes WHERE workspace_id = $1",
        [workspace["id"]])
    assert [(h["from_status"], h["to_status"]) for h in history] == [("confirmed", "bounced")] * 2
    assert all(h["source"].startswith("hard") for h in history)
    assert (await _report_row(report_id))["processed_at"] is not None


async def test_a_report_processed_again_or_by_two_workers_at_once_acts_once():
    workspace = await make_workspace()
    await sent_delivery(workspace, EMAIL)
    report_id = await _report(workspace["id"], dsn(EMAIL))

    results = await asyncio.gather(*[processing.process_report(report_id) for _ in range(4)])
    again = await processing.process_reports(get_redis(), [report_id, report_id])

    assert sum(result is not None for result in results) == 1 and again == []
    assert len(await bounces_of(workspace["id"])) == 1
    assert (await counters(workspace["id"]))["hard"] == 1


async def test_soft_bounces_count_until_the_limit_then_suppress():
    workspace = await make_workspace()
    await sent_delivery(workspace, EMAIL)
    soft = dsn(EMAIL, "4.2.2", "452 4.2.2 Mailbox full", action="delayed")
    ids = [await _report(workspace["id"], soft, ref=f"mbox:1:{n}") for n in range(3)]

    await processing.process_reports(get_redis(), ids[:2])
    assert await statuses(workspace["id"], EMAIL) == ["confirmed"]
    await processing.process_reports(get_redis(), ids[2:])

    assert [b["action_taken"] for b in await bounces_of(workspace["id"])] == [
        actions.COUNTED, actions.COUNTED, actions.SOFT_LIMIT]
    assert await statuses(workspace["id"], EMAIL) == ["bounced"]
    assert (await counters(workspace["id"]))["soft"] == 3


async def test_soft_bounces_older_than_the_window_do_not_count():
    workspace = await make_workspace()
    await sent_delivery(workspace, EMAIL)
    soft = dsn(EMAIL, "4.2.2", "452 4.2.2 Mailbox full", action="delayed")
    ids = [await _report(workspace["id"], soft, ref=f"mbox:1:{n}") for n in range(3)]
    await processing.process_reports(get_redis(), ids[:2])
    await fetch_positional("UPDATE bounces SET occurred_at = now() - interval '31 days' WHERE workspace_id = $1",
                           [workspace["id"]])
    await processing.process_reports(get_redis(), ids[2:])
    assert await statuses(workspace["id"], EMAIL) == ["confirmed"]


async def test_a_block_is_counted_against_the_server_and_suppresses_nobody():
    workspace = await make_workspace()
    await sent_delivery(workspace, EMAIL)
    report_id = await _report(workspace["id"], dsn(EMAIL, "5.7.1", "550 5.7.1 Message rejected as spam by Content "
                                                                   "Filtering"))
    await processing.process_reports(get_redis(), [report_id])
    assert await statuses(workspace["id"], EMAIL) == ["confirmed"]
    assert await blacklisted(workspace["id"]) == []
    assert (await counters(workspace["id"]))["block"] == 1
    assert [b["category"] for b in await bounces_of(workspace["id"])] == ["block"]
    window = await window_outcomes(get_redis(), SERVER_ID, GROUP, actions.AIMD_POLICY)
    assert window.bounced == 1


async def test_a_complaint_marks_every_subscription_complained_and_blacklists():
    workspace = await make_workspace()
    delivery = await sent_delivery(workspace, EMAIL, lists=2)
    await fetch_positional("UPDATE subscribers SET status = 'unsubscribed' WHERE id = $1", [delivery["subscriber_id"]])
    report_id = await _report(workspace["id"], arf(EMAIL, delivery["id"]), source="imap")
    await processing.process_reports(get_redis(), [report_id])
    assert await statuses(workspace["id"], EMAIL) == ["complained", "complained"]
    assert await blacklisted(workspace["id"]) == [EMAIL]
    [bounce] = await bounces_of(workspace["id"])
    assert (bounce["category"], bounce["feedback_type"], bounce["action_taken"]) == ("complaint", "abuse",
                                                                                      actions.COMPLAINED)
    assert (await counters(workspace["id"]))["complaint"] == 1


async def test_an_autoreply_is_stored_and_changes_nothing():
    workspace = await make_workspace()
    await sent_delivery(workspace, EMAIL)
    await processing.process_reports(get_redis(), [await _report(workspace["id"], autoreply(EMAIL))])
    assert await statuses(workspace["id"], EMAIL) == ["confirmed"]
    assert [(b["category"], b["action_taken"]) for b in await bounces_of(workspace["id"])] == [
        ("autoreply", actions.STORED)]
    assert await counters(workspace["id"]) == {"hard": 0, "soft": 0, "block": 0, "complaint": 0}


async def test_a_workspace_rule_decides_before_the_built_in_ones():
    workspace = await make_workspace()
    await sent_delivery(workspace, EMAIL)
    [rule] = await fetch_positional(
        "INSERT INTO bounce_rules (workspace_id, position, name, pattern, category) "
        "VALUES ($1, 1, 'Our relay', 'virtual mailbox table', 'block') RETURNING id", [workspace["id"]])
    await processing.process_reports(get_redis(), [await _report(workspace["id"], dsn(EMAIL))])
    [bounce] = await bounces_of(workspace["id"])
    assert (bounce["category"], bounce["rule"]) == ("block", f"workspace-rule:{rule['id']}")
    assert await statuses(workspace["id"], EMAIL) == ["confirmed"]


async def test_a_report_from_the_mx_naming_no_delivery_is_finished_with_the_reason():
    workspace = await make_workspace()
    await sent_delivery(workspace, EMAIL)
    report_id = await _report(None, dsn(EMAIL), source="mx")
    [done] = await processing.process_reports(get_redis(), [report_id])
    assert done.workspace_id is None
    row = await _report_row(report_id)
    assert row["processed_at"] is not None and "no delivery" in row["error"]
    assert await bounces_of(workspace["id"]) == []


async def test_a_crash_before_the_commit_leaves_the_report_for_the_sweep(monkeypatch):
    workspace = await make_workspace()
    await sent_delivery(workspace, EMAIL)
    report_id = await _report(workspace["id"], dsn(EMAIL))

    monkeypatch.setattr(processing.statements, "run", _failing_on("bounces.finish-report", processing.statements.run))
    assert await processing.process_reports(get_redis(), [report_id]) == []
    row = await _report_row(report_id)
    assert (row["processed_at"], row["attempts"]) == (None, 1) and "worker died" in row["error"]
    assert await bounces_of(workspace["id"]) == [] and await statuses(workspace["id"], EMAIL) == ["confirmed"]

    monkeypatch.undo()
    await fetch_positional("UPDATE bounce_reports SET received_at = now() - interval '1 hour'", [])
    [done] = await processing.sweep(get_redis())
    assert done.report_id == report_id and await statuses(workspace["id"], EMAIL) == ["bounced"]


def _failing_on(name: str, run):
    async def failing(statement: str, *args):
        if statement == name:
            raise RuntimeError("worker died")
        return await run(statement, *args)

    return failing


async def test_the_sweep_leaves_fresh_reports_and_ones_tried_too_often():
    workspace = await make_workspace()
    await sent_delivery(workspace, EMAIL)
    fresh = await _report(workspace["id"], dsn(EMAIL), ref="a")
    tired = await _report(workspace["id"], dsn(EMAIL), ref="b")
    await fetch_positional("UPDATE bounce_reports SET received_at = now() - interval '1 hour', attempts = $2 "
                           "WHERE id = $1", [tired, processing.MAX_ATTEMPTS])
    assert await processing.sweep(get_redis()) == []
    assert (await _report_row(fresh))["processed_at"] is None


async def test_a_report_in_a_format_nothing_reads_records_its_error():
    workspace = await make_workspace()
    report_id = await intake.accept(Incoming("mx", "1", format="postcard", raw=b"{}", workspace_id=workspace["id"]))
    assert await processing.process_reports(get_redis(), [report_id]) == []
    row = await _report_row(report_id)
    assert row["attempts"] == 1 and "No reader" in row["error"]


async def test_an_unreadable_provider_event_is_kept_for_review():
    workspace = await make_workspace()
    report_id = await intake.accept(Incoming("ses", "m-1", format="ses", raw=b"[]", workspace_id=workspace["id"]))
    await processing.process_reports(get_redis(), [report_id])
    assert [(b["category"], b["action_taken"], b["email"]) for b in await bounces_of(workspace["id"])] == [
        ("unknown", actions.REVIEW, "")]
