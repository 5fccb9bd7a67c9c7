"""The bounce log and rules pages: filters, keyset pages, the raw report escaped, reclassifying, rules."""

from __future__ import annotations

from app.piccolo_conf import DB
from app.redis_client import get_redis
from app.services.bounces import actions, intake, log, processing, rules
from app.services.bounces.intake import Incoming
from app.services.bounces.matching import DeliveryMatch
from app.services.bounces.model import UNKNOWN, FeedbackSettings, Outcome
from app.services.sqlparams import fetch_positional
from tests.factories import make_workspace, post_form, signed_in_client
from tests.integration.bounces.helpers_processing import bounces_of, dsn, sent_delivery, statuses

HX = {"hx-request": "true"}
ODD = "550 <{r}>: frobnicated by the gateway"


async def _processed(workspace_id: int, raw: bytes, ref: str) -> None:
    report_id = await intake.accept(Incoming("imap", ref, raw=raw, workspace_id=workspace_id))
    await processing.process_reports(get_redis(), [report_id])


async def _unknown(workspace_id: int, delivery: dict) -> None:
    """An outcome the classifier could not place, about this delivery."""
    match = DeliveryMatch(delivery["id"], workspace_id, delivery["campaign_id"], delivery["subscriber_id"],
                          delivery["server_id"], delivery["domain_group"], delivery["email"])
    outcome = Outcome(delivery["email"], UNKNOWN, diagnostic=ODD.format(r=delivery["email"]))
    async with DB.transaction():
        await actions.apply(workspace_id, [actions.Feedback(outcome, match)], FeedbackSettings())


async def test_the_empty_log_says_how_to_connect_a_mailbox_or_webhook(client):
    await signed_in_client(client)
    page = await client.get("/mailing/bounces")
    assert page.status_code == 200
    assert 'data-testid="empty-state"' in page.text and "/mailing/bounces/mailboxes" in page.text


async def test_the_log_filters_by_category_and_email_and_pages_back(client, monkeypatch):
    workspace, _ = await signed_in_client(client)
    await sent_delivery(workspace, "ann@example.org")
    await sent_delivery(workspace, "bob@example.org")
    await _processed(workspace["id"], dsn("ann@example.org"), "1")
    await _processed(workspace["id"], dsn("bob@example.org", "4.2.2", "452 4.2.2 Mailbox full", action="delayed"),
                     "2")
    await _processed(workspace["id"], dsn("bob@example.org", "4.2.2", "452 4.2.2 Mailbox full", action="delayed"),
                     "3")

    hard = await client.get("/mailing/bounces", params={"category": "hard"}, headers=HX)
    assert hard.text.count('data-testid="bounce-row"') == 1 and "ann@example.org" in hard.text
    assert "<html" not in hard.text
    bob = await client.get("/mailing/bounces", params={"q": "BOB@"})
    rows = bob.text.split('id="bounce-log-body"')[1]
    assert rows.count('data-testid="bounce-row"') == 2 and "ann@example.org" not in rows
    none = await client.get("/mailing/bounces", params={"q": "zed"}, headers=HX)
    assert 'data-testid="bounce-no-match"' in none.text

    monkeypatch.setattr(log, "PAGE_SIZE", 2)
    first, cursor = await log.log_page(workspace["id"], log.LogFilter())
    second, last = await log.log_page(workspace["id"], log.LogFilter(), cursor)
    assert [len(first), len(second), last] == [2, 1, None]
    assert {row["id"] for row in first}.isdisjoint(row["id"] for row in second)


async def test_another_workspaces_bounce_is_not_found(client):
    await signed_in_client(client)
    theirs = await make_workspace()
    await sent_delivery(theirs, "ann@example.org")
    await _processed(theirs["id"], dsn("ann@example.org"), "1")
    [bounce] = await bounces_of(theirs["id"])
    assert (await client.get(f"/mailing/bounces/{bounce['id']}")).status_code == 404
    refused = await post_form(client, f"/mailing/bounces/{bounce['id']}/reclassify", {"category": "hard"})
    assert refused.status_code == 404


async def test_the_raw_report_is_shown_escaped(client):
    workspace, _ = await signed_in_client(client)
    await sent_delivery(workspace, "ann@example.org")
    await _processed(workspace["id"], dsn("ann@example.org", diagnostic="550 <script>alert(1)</script> unknown user"),
                     "1")
    [bounce] = await bounces_of(workspace["id"])
    page = await client.get(f"/mailing/bounces/{bounce['id']}")
    assert page.status_code == 200 and 'data-testid="bounce-raw-text"' in page.text
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)" in page.text


async def test_reclassifying_an_unknown_bounce_acts_and_can_save_a_rule(client):
    workspace, _ = await signed_in_client(client)
    delivery = await sent_delivery(workspace, "ann@example.org")
    await _unknown(workspace["id"], delivery)
    [bounce] = await bounces_of(workspace["id"])
    assert bounce["action_taken"] == actions.REVIEW

    refused = await post_form(client, f"/mailing/bounces/{bounce['id']}/reclassify",
                              {"category": "hard", "save_rule": "on", "name": "Gateway", "pattern": "frobnicated("})
    assert refused.status_code == 422 and 'data-testid="error-pattern"' in refused.text
    assert (await bounces_of(workspace["id"]))[0]["category"] == "unknown"
    assert await rules.workspace_rules(workspace["id"]) == []

    done = await post_form(client, f"/mailing/bounces/{bounce['id']}/reclassify",
                           {"category": "hard", "save_rule": "on", "name": "Gateway", "pattern": "frobnicated"})
    assert done.status_code == 303
    [rule] = await rules.workspace_rules(workspace["id"])
    [after] = await bounces_of(workspace["id"])
    assert (after["category"], after["rule"]) == ("hard", f"workspace-rule:{rule['id']}")
    assert await statuses(workspace["id"], "ann@example.org") == ["bounced"]
    again = await post_form(client, f"/mailing/bounces/{bounce['id']}/reclassify", {"category": "soft"})
    assert again.status_code == 422

    await sent_delivery(workspace, "bob@example.org")
    await _processed(workspace["id"], dsn("bob@example.org", "", ODD), "2")
    assert [b["category"] for b in await bounces_of(workspace["id"])] == ["hard", "hard"]


async def test_rules_are_added_checked_reordered_disabled_and_deleted(client):
    workspace, _ = await signed_in_client(client)
    bad = await post_form(client, "/mailing/bounces/rules", {"name": "Broken", "pattern": "(unclosed",
                                                              "category": "soft"})
    assert bad.status_code == 422 and 'data-testid="error-pattern"' in bad.text and "(unclosed" in bad.text
    for name in ("First", "Second"):
        added = await post_form(client, "/mailing/bounces/rules", {"name": name, "pattern": name.lower(),
                                                                    "category": "soft", "status": "4.2.2"})
        assert added.status_code == 303
    duplicate = await post_form(client, "/mailing/bounces/rules", {"name": "first", "pattern": "x",
                                                                    "category": "soft"})
    assert duplicate.status_code == 422 and 'data-testid="error-name"' in duplicate.text
    first, second = await rules.workspace_rules(workspace["id"])
    await post_form(client, f"/mailing/bounces/rules/{second['id']}/move", {"direction": "up"})
    assert [r["name"] for r in await rules.workspace_rules(workspace["id"])] == ["Second", "First"]
    await post_form(client, f"/mailing/bounces/rules/{first['id']}/enabled", {"enabled": "0"})
    assert [r.name for r in await processing.workspace_rules(workspace["id"])] == [str(second["id"])]
    edited = await post_form(client, f"/mailing/bounces/rules/{first['id']}",
                             {"name": "First", "pattern": "first", "category": "block", "status": "55"})
    assert edited.status_code == 422 and 'data-testid="error-status"' in edited.text
    await post_form(client, f"/mailing/bounces/rules/{second['id']}/delete", {})
    [left] = await rules.workspace_rules(workspace["id"])
    assert (left["name"], left["position"]) == ("First", 1)
    page = await client.get("/mailing/bounces/rules")
    assert 'data-testid="built-in-rule"' in page.text and 'data-testid="rule-row"' in page.text


async def test_an_analyst_sees_the_log_but_cannot_change_rules(client):
    workspace, _ = await signed_in_client(client, role="analyst")
    assert (await client.get("/mailing/bounces")).status_code == 200
    refused = await post_form(client, "/mailing/bounces/rules", {"name": "A", "pattern": "a", "category": "soft"})
    assert refused.status_code == 403
    assert await fetch_positional("SELECT id FROM bounce_rules WHERE workspace_id = $1", [workspace["id"]]) == []
