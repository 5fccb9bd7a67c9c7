"""Everflow: the pull reads every page of the conversion report from a local Everflow, upserts by conversion id
and reconciles with the postbacks; the list is acted on (record in Ignite, dismiss), exported, and errors show
with the time of the last good pull."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import dramatiq
import httpx
import pytest

from app.db.everflow import EverflowConnection, EverflowConversion, EverflowRecord
from app.services.accounts import now
from app.services.analytics import everflow, reconciliation
from app.services.forms import FormError
from app.services.tracking.figures import campaign_figures
from app.services.vault import encrypt
from app.services.webhooks.endpoints import allow_private_targets
from app.tasks import everflow as everflow_tasks
from app.tasks.scheduler import JOBS
from tests.factories import login, make_user, make_workspace, post_form
from tests.integration.analytics.everflow_helpers import connect, reconciliation_scenario
from tests.integration.analytics.everflow_server import LocalEverflow, everflow_record
from tests.integration.tracking.offer_helpers import conversions

HX = {"HX-Request": "true"}


@pytest.fixture
def local_everflow() -> Iterator[LocalEverflow]:
    server = LocalEverflow().start()
    yield server
    server.stop()


async def _open_rows(workspace_id: int) -> dict[str, str]:
    rows = await EverflowRecord.select().where(EverflowRecord.workspace_id == workspace_id,
                                               EverflowRecord.state == "open")
    return {row["transaction_id"]: row["kind"] for row in rows}


async def _pull(workspace_id: int) -> everflow.PullResult:
    # An hour ahead, so the postbacks just recorded are past the grace a postback gets to follow its record.
    return await everflow.pull(workspace_id, now() + timedelta(hours=1))


async def test_a_pull_reads_every_page_with_the_key_and_stores_each_field(local_everflow, monkeypatch):
    monkeypatch.setattr(everflow, "PAGE_SIZE", 2)
    workspace = await make_workspace()
    at = now() - timedelta(hours=3)
    local_everflow.records = [everflow_record(str(n), f"tx-{n}", at + timedelta(minutes=n), "2.5") for n in range(4)]
    local_everflow.records.append(everflow_record("90", "tx-0", at, "1.2345", event="Upsell", currency="eur",
                                                  is_scrub=True, sale_amount="99.90", sub1="c", sub5="placement"))
    await connect(workspace["id"], local_everflow)

    result = await everflow.pull(workspace["id"])

    assert (result.error, result.records, result.new) == ("", 5, 5)
    assert [r["query"]["page"] for r in local_everflow.requests] == [["1"], ["2"], ["3"]]
    assert {r["key"] for r in local_everflow.requests} == {local_everflow.api_key}
    body = local_everflow.requests[0]["body"]
    assert (body["timezone_id"], body["show_conversions"], body["show_events"]) == (67, True, True)
    assert body["from"] <= (at - timedelta(days=1)).date().isoformat() and body["to"] > now().date().isoformat()
    stored = await EverflowConversion.select().where(EverflowConversion.conversion_id == "90").first()
    assert (stored["transaction_id"], stored["event_name"], stored["payout"], stored["sale_amount"]) == (
        "tx-0", "Upsell", Decimal("1.2345"), Decimal("99.9"))
    assert (stored["currency"], stored["is_scrub"], stored["offer_id"], stored["sub1"], stored["sub5"]) == (
        "EUR", True, "7", "c", "placement")
    assert stored["converted_at"] == at.replace(microsecond=0)


async def test_an_overlapping_pull_never_duplicates_and_takes_the_record_as_it_now_stands(local_everflow):
    workspace = await make_workspace()
    at = now() - timedelta(hours=1)
    local_everflow.records = [everflow_record("1", "tx-1", at, "3"), everflow_record("2", "tx-2", at, "3")]
    await connect(workspace["id"], local_everflow)
    await everflow.pull(workspace["id"])
    local_everflow.records[0] = everflow_record("1", "tx-1", at, "3", status="rejected", is_scrub=True)

    again = await everflow.pull(workspace["id"], now() + timedelta(minutes=15))

    assert (again.records, again.new) == (2, 0)
    rows = await EverflowConversion.select().where(EverflowConversion.workspace_id == workspace["id"]).order_by(
        EverflowConversion.conversion_id)
    assert [(r["conversion_id"], r["status"], r["is_scrub"]) for r in rows] == [
        ("1", "rejected", True), ("2", "approved", False)]
    # The second window starts before the first one ended.
    first, second = (r["body"] for r in local_everflow.requests)
    assert second["from"] <= first["to"]


async def test_reconciliation_finds_each_kind_of_disagreement_and_counts_them(local_everflow, redis):
    sent = await reconciliation_scenario(redis, local_everflow)
    workspace_id = sent.workspace["id"]

    await _pull(workspace_id)

    assert await _open_rows(workspace_id) == {
        "tx-everflow-only": "missing_in_ignite", "tx-ignite-only": "missing_in_everflow", "tx-scrub": "scrubbed",
        "tx-repriced": "payout_changed", "tx-rejected": "rejected"}
    assert await reconciliation.open_counts(workspace_id) == {
        "missing_in_ignite": 1, "missing_in_everflow": 1, "scrubbed": 1, "payout_changed": 1, "rejected": 1}
    repriced = await EverflowRecord.select().where(EverflowRecord.transaction_id == "tx-repriced").first()
    assert (repriced["everflow_payout"], repriced["ignite_revenue"]) == (Decimal("4.25"), Decimal(5))


async def test_a_postback_not_yet_arrived_is_not_called_missing_within_the_grace(local_everflow, redis):
    workspace = await make_workspace()
    local_everflow.records = [everflow_record("1", "tx-just-now", now() - timedelta(minutes=5), "5")]
    await connect(workspace["id"], local_everflow)

    await everflow.pull(workspace["id"])

    assert await _open_rows(workspace["id"]) == {}


async def test_a_conversion_on_both_sides_is_compared_at_once_and_only_a_one_sided_one_waits(local_everflow, redis):
    sent = await reconciliation_scenario(redis, local_everflow)
    workspace_id = sent.workspace["id"]
    just_now = now() - timedelta(minutes=5)
    d = sent.deliveries
    local_everflow.records = [
        everflow_record("3", "tx-scrub", just_now, "5", is_scrub=True, status="rejected", sub3=str(d[2]["id"])),
        everflow_record("4", "tx-repriced", just_now, "4.25", sub3=str(d[3]["id"])),
        everflow_record("5", "tx-rejected", just_now, "5", status="rejected", sub3=str(d[4]["id"])),
        everflow_record("2", "tx-everflow-only", just_now, "7.5", sub3=str(d[5]["id"])),
        everflow_record("1", "tx-agree", just_now, "5", sub3=str(d[0]["id"]))]

    await everflow.pull(workspace_id)

    assert await _open_rows(workspace_id) == {"tx-scrub": "scrubbed", "tx-repriced": "payout_changed",
                                              "tx-rejected": "rejected"}
    await _pull(workspace_id)
    assert await _open_rows(workspace_id) == {
        "tx-scrub": "scrubbed", "tx-repriced": "payout_changed", "tx-rejected": "rejected",
        "tx-everflow-only": "missing_in_ignite", "tx-ignite-only": "missing_in_everflow"}


async def test_recording_a_missing_conversion_goes_through_the_postback_and_settles_the_row(local_everflow, redis):
    sent = await reconciliation_scenario(redis, local_everflow)
    workspace_id = sent.workspace["id"]
    await _pull(workspace_id)
    row = await EverflowRecord.select().where(EverflowRecord.transaction_id == "tx-everflow-only").first()

    conversion_id = await reconciliation.record_in_ignite(redis, workspace_id, row["id"], "ann@example.com")

    recorded = next(c for c in await conversions() if c["transaction_id"] == "tx-everflow-only")
    assert (recorded["id"], recorded["delivery_id"], recorded["campaign_id"], recorded["revenue"]) == (
        conversion_id, sent.deliveries[5]["id"], sent.campaign["id"], Decimal("7.5"))
    figures = await campaign_figures(redis, workspace_id, sent.campaign["id"])
    assert (figures["conversions"], figures["revenue"]) == (6, Decimal("32.5"))
    settled = await EverflowRecord.select().where(EverflowRecord.id == row["id"]).first()
    assert (settled["state"], settled["conversion_id"]) == ("recorded", conversion_id)
    with pytest.raises(FormError):
        await reconciliation.record_in_ignite(redis, workspace_id, row["id"], "ann@example.com")
    await _pull(workspace_id)
    assert "tx-everflow-only" not in await _open_rows(workspace_id)


async def test_a_conversion_the_postback_would_refuse_is_not_recorded_and_says_why(local_everflow, redis):
    workspace = await make_workspace()
    local_everflow.records = [everflow_record("1", "tx-orphan", now() - timedelta(hours=2), "5", sub3="999999")]
    await connect(workspace["id"], local_everflow)
    await _pull(workspace["id"])
    row = await EverflowRecord.select().where(EverflowRecord.transaction_id == "tx-orphan").first()

    with pytest.raises(FormError, match="No delivery 999999"):
        await reconciliation.record_in_ignite(redis, workspace["id"], row["id"], "ann@example.com")

    assert await conversions() == []
    assert (await EverflowRecord.select().where(EverflowRecord.id == row["id"]).first())["state"] == "open"


async def test_a_dismissed_row_stays_dismissed_and_an_open_one_resolves_when_the_sides_agree(local_everflow, redis):
    sent = await reconciliation_scenario(redis, local_everflow)
    workspace_id = sent.workspace["id"]
    await _pull(workspace_id)
    scrub = await EverflowRecord.select().where(EverflowRecord.transaction_id == "tx-scrub").first()
    await reconciliation.dismiss(workspace_id, scrub["id"], "ann@example.com")
    local_everflow.records.append(everflow_record("7", "tx-ignite-only", now() - timedelta(hours=2), "5"))
    local_everflow.records[3] = everflow_record("4", "tx-repriced", now() - timedelta(hours=2), "5")

    await _pull(workspace_id)

    rows = {r["transaction_id"]: r["state"] for r in await EverflowRecord.select().where(
        EverflowRecord.workspace_id == workspace_id)}
    assert rows == {"tx-everflow-only": "open", "tx-ignite-only": "resolved", "tx-scrub": "dismissed",
                    "tx-repriced": "resolved", "tx-rejected": "open"}


@pytest.mark.parametrize(("mode", "message"), [("bad_json", "not JSON"), ("down", "answered 500"),
                                                ("slow", "did not answer within")])
async def test_an_everflow_failure_is_noted_and_the_last_good_pull_kept(local_everflow, monkeypatch, mode, message):
    monkeypatch.setattr(everflow, "TIMEOUT", httpx.Timeout(0.3))
    local_everflow.delay = 1.5
    workspace = await make_workspace()
    await connect(workspace["id"], local_everflow)
    assert (await everflow.pull(workspace["id"])).error == ""
    good = await everflow.connection(workspace["id"])
    local_everflow.mode = mode

    result = await everflow.pull(workspace["id"], now() + timedelta(minutes=15))

    assert message in result.error
    after = await everflow.connection(workspace["id"])
    assert message in after["last_error"]
    assert (after["last_good_pull_at"], after["pulled_until"]) == (good["last_good_pull_at"], good["pulled_until"])


async def test_a_refused_key_shows_on_the_page_with_the_last_good_pull(local_everflow, client):
    workspace = await make_workspace()
    user = await make_user(workspace, "analyst")
    await connect(workspace["id"], local_everflow)
    await everflow.pull(workspace["id"])
    await EverflowConnection.update({EverflowConnection.api_key: encrypt("revoked-key")}).where(
        EverflowConnection.workspace_id == workspace["id"])
    await everflow.pull(workspace["id"])
    await login(client, user["email"])

    response = await client.get("/analytics/revenue/everflow")

    assert response.status_code == 200
    assert 'data-testid="everflow-last-error"' in response.text
    assert "refused the API key (401)" in response.text
    assert "The figures below are from the last good pull" in response.text


async def test_an_empty_workspace_is_told_how_toconnect(client):
    workspace = await make_workspace()
    user = await make_user(workspace, "analyst")
    await login(client, user["email"])

    response = await client.get("/analytics/revenue/everflow")

    assert response.status_code == 200
    assert 'data-testid="empty-state"' in response.text and "Everflow is not connected" in response.text
    assert 'data-testid="everflow-form"' not in response.text


async def test_bad_connection_settings_are_refused_next_to_their_fields_and_nothing_is_saved(client):
    workspace = await make_workspace()
    user = await make_user(workspace, "admin")
    await login(client, user["email"])

    response = await post_form(client, "/analytics/revenue/everflow/connection", {
        "base_url": "ftp://api.example.com", "api_key": "", "timezone_id": "utc", "enabled": "on"}, headers=HX)

    assert response.status_code == 422
    for field in ("base_url", "api_key", "timezone_id"):
        assert f'data-testid="error-{field}"' in response.text
    assert await EverflowConnection.count() == 0


@pytest.mark.parametrize("address", ["http://127.0.0.1:8000/v1", "http://localhost/v1", "http://[::1]/v1",
                                     "http://169.254.169.254/latest", "http://10.0.0.5/v1", "http://192.168.1.1/v1"])
async def test_a_private_or_loopback_address_is_refused_beside_its_field_unless_private_targets_are_allowed(
        client, address):
    workspace = await make_workspace()
    user = await make_user(workspace, "admin")
    await login(client, user["email"])
    form = {"base_url": address, "api_key": "key-123", "timezone_id": "67"}

    refused = await post_form(client, "/analytics/revenue/everflow/connection", form, headers=HX)

    assert refused.status_code == 422 and 'data-testid="error-base_url"' in refused.text
    assert "private, loopback or link-local" in refused.text
    assert await EverflowConnection.count().where(EverflowConnection.workspace_id == workspace["id"]) == 0
    await allow_private_targets(workspace["id"], True)
    assert (await post_form(client, "/analytics/revenue/everflow/connection", form, headers=HX)).status_code == 200
    assert (await everflow.connection(workspace["id"]))["base_url"] == address


async def test_a_name_resolving_to_loopback_is_never_requested_once_private_targets_are_disallowed(local_everflow):
    workspace = await make_workspace()
    local_everflow.records = [everflow_record("1", "tx-1", now() - timedelta(hours=1), "3")]
    await allow_private_targets(workspace["id"], True)
    await everflow.save_connection(workspace["id"], {
        "base_url": local_everflow.base_url.replace("127.0.0.1", "localhost"), "api_key": local_everflow.api_key,
        "timezone_id": "67", "enabled": "on"})
    await allow_private_targets(workspace["id"], False)

    pulled = await everflow.pull(workspace["id"])
    with pytest.raises(everflow.EverflowError, match="loopback"):
        await everflow.check_connection(workspace["id"])

    assert "localhost resolves to" in pulled.error and local_everflow.requests == []
    assert await EverflowConversion.count().where(EverflowConversion.workspace_id == workspace["id"]) == 0
    await connect(workspace["id"], local_everflow)
    assert (await everflow.pull(workspace["id"])).records == 1


async def test_the_key_is_stored_encrypted_and_never_shown_back(client, local_everflow):
    workspace = await make_workspace()
    user = await make_user(workspace, "admin")
    await allow_private_targets(workspace["id"], True)
    await login(client, user["email"])

    saved = await post_form(client, "/analytics/revenue/everflow/connection", {
        "base_url": local_everflow.base_url, "api_key": local_everflow.api_key, "timezone_id": "67"}, headers=HX)
    tested = await post_form(client, "/analytics/revenue/everflow/connection/test", headers=HX)
    page = await client.get("/analytics/revenue/everflow")

    assert saved.status_code == 200 and "Everflow connection saved" in saved.text
    assert "Connected" in tested.text
    stored = await EverflowConnection.select().first()
    assert stored["api_key"] and local_everflow.api_key not in stored["api_key"]
    for text in (saved.text, tested.text, page.text):
        assert local_everflow.api_key not in text


async def test_only_admins_change_the_connection_and_marketers_act_on_the_list(client, local_everflow, redis):
    sent = await reconciliation_scenario(redis, local_everflow)
    await _pull(sent.workspace["id"])
    row = await EverflowRecord.select().where(EverflowRecord.transaction_id == "tx-scrub").first()
    analyst = await make_user(sent.workspace, "analyst")
    await login(client, analyst["email"])

    refused = [await post_form(client, url, data, headers=HX) for url, data in (
        ("/analytics/revenue/everflow/connection", {"base_url": "https://evil.example.com"}),
        (f"/analytics/revenue/everflow/records/{row['id']}/dismiss", {}))]

    assert [r.status_code for r in refused] == [403, 403]
    assert (await EverflowRecord.select().where(EverflowRecord.id == row["id"]).first())["state"] == "open"
    marketer = await make_user(sent.workspace, "marketer")
    await login(client, marketer["email"])
    dismissed = await post_form(client, f"/analytics/revenue/everflow/records/{row['id']}/dismiss",
                                {"state": "", "kind": "scrubbed"}, headers=HX)
    assert dismissed.status_code == 200 and "Dismissed by" in dismissed.text


async def test_another_workspaces_row_is_not_found(client, local_everflow, redis):
    sent = await reconciliation_scenario(redis, local_everflow)
    await _pull(sent.workspace["id"])
    row = await EverflowRecord.select().where(EverflowRecord.transaction_id == "tx-everflow-only").first()
    other = await make_workspace()
    user = await make_user(other, "owner")
    await login(client, user["email"])

    responses = [await post_form(client, f"/analytics/revenue/everflow/records/{row['id']}/{action}", headers=HX)
                 for action in ("record", "dismiss")]

    assert [r.status_code for r in responses] == [404, 404]
    assert (await EverflowRecord.select().where(EverflowRecord.id == row["id"]).first())["state"] == "open"


async def test_the_list_filters_by_kind_and_exports_what_it_shows(client, local_everflow, redis):
    sent = await reconciliation_scenario(redis, local_everflow)
    await _pull(sent.workspace["id"])
    user = await make_user(sent.workspace, "analyst")
    await login(client, user["email"])

    listed = await client.get("/analytics/revenue/everflow", params={"kind": "payout_changed"})
    exported = await client.get("/analytics/revenue/everflow/export.csv", params={"state": "open"})
    bad = await client.get("/analytics/revenue/everflow", params={"since": "yesterday"})

    assert 'data-testid="everflow-record-tx-repriced"' in listed.text
    assert 'data-testid="everflow-record-tx-scrub"' not in listed.text
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["transaction_id"] for r in rows) == sorted(
        ["tx-everflow-only", "tx-ignite-only", "tx-scrub", "tx-repriced", "tx-rejected"])
    assert next(r for r in rows if r["kind"] == "payout_changed")["everflow_payout"] == "4.2500"
    assert bad.status_code == 422 and 'data-testid="error-since"' in bad.text


async def test_the_scheduler_pulls_every_15_minutes_for_enabled_connections_only(local_everflow):
    job = next(job for job in JOBS if job.name == "pull-everflow")
    on, off = await make_workspace(), await make_workspace()
    await connect(on["id"], local_everflow)
    await connect(off["id"], local_everflow, enabled=False)

    assert job.cron == "*/15 * * * *"
    assert dramatiq.get_broker().get_actor(job.actor_name) is everflow_tasks.pull_due_everflow
    assert await everflow.enabled_workspaces() == [on["id"]]
