"""S3 intake (moto in server mode, a DNS zone on loopback): sources polled, files classified by rule and
imported through the import engine, moved to processed/ or failed/, scored; notices when a source fails or
goes quiet; the monitor page, its forms and its history."""

from __future__ import annotations

from datetime import timedelta

import boto3
import dns.asyncresolver
import pytest

from app.db.audit import AuditEntry
from app.db.intake import IntakeFile, IntakeSource
from app.redis_client import get_broker_redis, get_redis
from app.services import activity_feed, suppression
from app.services.accounts import now
from app.services.intake import polling, rules, sources
from app.services.intake.quality import Quality
from tests.dns_zone import ZoneServer
from tests.factories import make_list, make_workspace, post_form, signed_in_client

BUCKET = "partner-drops"


@pytest.fixture
def s3(s3_endpoint):
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=BUCKET)
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def resolver():
    zone = ZoneServer()
    for domain in ("example.com", "partner.example", "mailinator.com"):
        zone.records[(domain, "MX")] = [f"10 mx.{domain}."]
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = zone.port
    yield resolver
    zone.stop()


def keys(client) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


async def make_source(workspace: dict, s3_endpoint: str, **values) -> dict:
    return await sources.create_source(workspace["id"], {
        "name": "Partner drops", "bucket": BUCKET, "prefix": "drops", "region": "us-east-1",
        "endpoint_url": s3_endpoint, "access_key_id": "testing", "secret_access_key": "testing",
        "enabled": "on", **values})


async def files_of(source: dict) -> dict[str, dict]:
    rows = await IntakeFile.select().where(IntakeFile.source_id == source["id"]).output(load_json=True)
    return {row["key"].rsplit("/", 1)[-1]: row for row in rows}


async def notices(workspace: dict) -> list[str]:
    rows = await AuditEntry.select(AuditEntry.action).where(AuditEntry.workspace_id == workspace["id"],
                                                            AuditEntry.action.like("intake.%")).order_by(AuditEntry.id)
    return [row["action"] for row in rows]


async def test_a_poll_imports_each_file_by_its_rule_scores_it_and_moves_it(s3, s3_endpoint, resolver):
    workspace = await make_workspace()
    customers = await make_list(workspace, "Customers")
    seeds = await make_list(workspace, "Seeds")
    from app.services.custom_fields import add_field

    await add_field(workspace["id"], customers["id"], {"tag": "first_name", "label": "First name", "kind": "text"})
    source = await make_source(workspace, s3_endpoint)
    await rules.create_rule(workspace["id"], source["id"], {
        "match": "name", "pattern": "optout-*.csv", "kind": "suppression", "list_id": str(customers["id"])})
    await rules.create_rule(workspace["id"], source["id"], {
        "match": "header", "pattern": "Mail, Vorname", "kind": "mailable", "list_id": str(customers["id"]),
        "columns": "Vorname = first_name\nMail = email"})
    await rules.create_rule(workspace["id"], source["id"], {
        "match": "name", "pattern": "seed*", "kind": "warmup_seed", "list_id": str(seeds["id"])})
    s3.put_object(Bucket=BUCKET, Key="drops/leads-0601.csv", Body=(
        b"Vorname;Mail\nAna;ana@example.com\nBen;ben@example.com\nAna again;ANA@example.com\nX;not an address\n"
        b"Info;info@example.com\nTom;tom@mailinator.com\nDead;d@gone.example\nEve;eve@partner.example\n"))
    s3.put_object(Bucket=BUCKET, Key="drops/optout-0601.csv", Body=b"email\nbad@example.com\n")
    s3.put_object(Bucket=BUCKET, Key="drops/seed-list.csv", Body=b"email\nseed1@example.com\nseed2@example.com\n")
    s3.put_object(Bucket=BUCKET, Key="drops/notes.txt", Body=b"hello\n")
    s3.put_object(Bucket=BUCKET, Key="drops/processed/old.csv", Body=b"email\nold@example.com\n")

    result = await polling.poll(source, get_redis(), resolver)

    assert not result.error and len(result.files) == 4
    assert keys(s3) == ["drops/failed/notes.txt", "drops/processed/leads-0601.csv", "drops/processed/old.csv",
                        "drops/processed/optout-0601.csv", "drops/processed/seed-list.csv"]
    files = await files_of(source)
    leads = files["leads-0601.csv"]
    assert (leads["status"], leads["kind"], leads["rows"], leads["rejects"]) == ("processed", "mailable", 8, 1)
    assert leads["quality"] == {"rows": 8, "invalid": 1, "duplicates": 1, "assessed": 6, "role": 1,
                                "disposable": 1, "mx_failures": 1}
    # 100 * (1 - (1/8 invalid + 0.5 * 1/8 duplicates + 0.5 * 1/6 role + 1/6 disposable + 1/6 MX failures))
    assert leads["score"] == 40 and leads["duration_ms"] >= 0 and leads["finished_at"] is not None
    assert (files["notes.txt"]["status"], files["notes.txt"]["moved_to"]) == ("unmatched", "drops/failed/notes.txt")
    assert files["optout-0601.csv"]["kind"] == "suppression" and files["seed-list.csv"]["kind"] == "warmup_seed"
    assert "old.csv" not in files
    subscribers = {row["email"]: row for row in await _subscribers(workspace)}
    assert subscribers["ana@example.com"]["fields"] == '{"first_name": "Ana"}'
    assert {email for email, row in subscribers.items() if row["list_id"] == seeds["id"]} == {
        "seed1@example.com", "seed2@example.com"}
    blacklist = await suppression.blacklist(workspace["id"])
    assert blacklist["entry_count"] == 1
    assert (await IntakeSource.select().where(IntakeSource.id == source["id"]).first())["last_file_at"] is not None

    assert (await polling.poll(source, get_redis(), resolver)).files == []
    s3.put_object(Bucket=BUCKET, Key="drops/seed-list.csv", Body=b"email\nseed3@example.com\n")
    again = await polling.poll(source, get_redis(), resolver)
    assert [row["status"] for row in again.files] == ["processed"]



async def test_a_file_put_back_after_its_rule_is_added_is_taken_in(s3, s3_endpoint, resolver):
    """A partner's file no rule took goes to failed/; once a rule takes it and it is put back (the same content,
    so the same ETag), the next poll takes it in, and the history keeps both tries."""
    workspace = await make_workspace()
    customers = await make_list(workspace, "Customers")
    source = await make_source(workspace, s3_endpoint)
    s3.put_object(Bucket=BUCKET, Key="drops/leads-0603.csv", Body=b"email\nlee@example.com\n")
    first = await polling.poll(source, get_redis(), resolver)
    assert [row["status"] for row in first.files] == ["unmatched"]

    await rules.create_rule(workspace["id"], source["id"], {
        "match": "name", "pattern": "leads-*.csv", "kind": "mailable", "list_id": str(customers["id"])})
    s3.copy_object(Bucket=BUCKET, Key="drops/leads-0603.csv",
                   CopySource={"Bucket": BUCKET, "Key": "drops/failed/leads-0603.csv"})
    s3.delete_object(Bucket=BUCKET, Key="drops/failed/leads-0603.csv")
    again = await polling.poll(await sources.get_source(workspace["id"], source["id"]), get_redis(), resolver)

    assert [(row["status"], row["rows"]) for row in again.files] == [("processed", 1)]
    assert keys(s3) == ["drops/processed/leads-0603.csv"]
    history = await IntakeFile.select(IntakeFile.status).where(IntakeFile.source_id == source["id"]).order_by(
        IntakeFile.id)
    assert [row["status"] for row in history] == ["unmatched", "processed"]
    assert (await polling.poll(await sources.get_source(workspace["id"], source["id"]), get_redis(),
                               resolver)).files == []


async def _subscribers(workspace: dict) -> list[dict]:
    from app.db.audience import Subscriber

    return await Subscriber.select(Subscriber.email, Subscriber.list_id, Subscriber.fields).where(
        Subscriber.workspace_id == workspace["id"])


def test_the_score_weighs_each_share():
    clean = Quality(rows=100, invalid=0, duplicates=0, assessed=100, role=0, disposable=0, mx_failures=0)
    assert clean.score == 100
    assert Quality(rows=100, invalid=10, duplicates=20, assessed=70, role=7, disposable=7, mx_failures=0).score == 65
    assert Quality(rows=0, invalid=0, duplicates=0, assessed=0, role=0, disposable=0, mx_failures=0).score is None
    assert Quality(rows=10, invalid=10, duplicates=0, assessed=0, role=0, disposable=0, mx_failures=0).score == 0


async def test_a_failing_source_is_noticed_once_and_its_recovery_too(s3, s3_endpoint, resolver):
    workspace = await make_workspace()
    source = await make_source(workspace, s3_endpoint, bucket="no-such-bucket")

    result = await polling.poll(source, get_redis(), resolver)
    await polling.poll(await sources.get_source(workspace["id"], source["id"]), get_redis(), resolver)

    assert "does not exist" in result.error
    stored = await sources.get_source(workspace["id"], source["id"])
    assert stored["alert"] == "failing" and "does not exist" in stored["last_error"]
    assert await notices(workspace) == ["intake.source_failing"]
    feed = await activity_feed.recent(workspace["id"])
    assert feed[0]["sentence"].startswith("system noticed that S3 source “Partner drops” is failing: The bucket")
    await IntakeSource.update({IntakeSource.bucket: BUCKET}).where(IntakeSource.id == source["id"])
    await polling.poll(await sources.get_source(workspace["id"], source["id"]), get_redis(), resolver)
    assert await notices(workspace) == ["intake.source_failing", "intake.source_recovered"]


async def test_a_source_quiet_longer_than_expected_is_noticed(s3, s3_endpoint, resolver):
    workspace = await make_workspace()
    source = await make_source(workspace, s3_endpoint, quiet_hours="6")
    await polling.poll(source, get_redis(), resolver)
    assert await notices(workspace) == []
    await IntakeSource.update({IntakeSource.created_at: now() - timedelta(hours=7)}).where(
        IntakeSource.id == source["id"])

    alert = await polling.give_notice(await sources.get_source(workspace["id"], source["id"]), get_redis())

    assert alert == "quiet" and await notices(workspace) == ["intake.source_quiet"]
    assert sources.health(await sources.get_source(workspace["id"], source["id"]), now()).state == "quiet"


async def test_due_sources_are_those_whose_interval_has_passed(s3_endpoint):
    workspace = await make_workspace()
    fresh = await make_source(workspace, s3_endpoint, name="Fresh")
    polled = await make_source(workspace, s3_endpoint, name="Polled", poll_minutes="30")
    off = await make_source(workspace, s3_endpoint, name="Off", enabled="")
    await IntakeSource.update({IntakeSource.last_polled_at: now() - timedelta(minutes=10)}).where(
        IntakeSource.id == polled["id"])

    due = {row["id"] for row in await sources.due_sources(now())}

    assert fresh["id"] in due and polled["id"] not in due and off["id"] not in due
    assert polled["id"] in {row["id"] for row in await sources.due_sources(now() + timedelta(minutes=25))}


async def test_the_monitor_page_shows_sources_history_and_filters(client, s3, s3_endpoint, resolver):
    workspace, _ = await signed_in_client(client, role="analyst")
    customers = await make_list(workspace, "Customers")
    source = await make_source(workspace, s3_endpoint)
    await rules.create_rule(workspace["id"], source["id"], {
        "match": "name", "pattern": "*.csv", "kind": "mailable", "list_id": str(customers["id"])})
    s3.put_object(Bucket=BUCKET, Key="drops/june.csv", Body=b"email\na@example.com\nb@example.com\n")
    s3.put_object(Bucket=BUCKET, Key="drops/june.txt", Body=b"email\nc@example.com\n")
    await polling.poll(source, get_redis(), resolver)
    files = await files_of(source)
    csv_row, txt_row = (f'data-testid="intake-file-{files[name]["id"]}"' for name in ("june.csv", "june.txt"))

    page = (await client.get("/analytics/data-imports")).text
    assert f'data-testid="intake-source-{source["id"]}"' in page and csv_row in page and txt_row in page
    failed = (await client.get(f"/analytics/data-imports?status=unmatched&source_id={source['id']}")).text
    assert txt_row in failed and csv_row not in failed
    assert csv_row not in (await client.get("/analytics/data-imports?since=2020-01-01&until=2020-01-31")).text
    bad = await client.get("/analytics/data-imports?since=June")
    assert bad.status_code == 422 and 'data-testid="error-since"' in bad.text
    assert (await client.get("/analytics/data-imports/status")).status_code == 200
    detail = await client.get(f"/analytics/data-imports/files/{files['june.csv']['id']}")
    assert 'data-testid="intake-file-score">100<' in detail.text
    exported = (await client.get("/analytics/data-imports/files.csv")).text.splitlines()
    assert exported[0].startswith("id,source,file,kind,status") and len(exported) == 3
    assert "drops/june.csv" in exported[2] or "drops/june.csv" in exported[1]


async def test_source_form_refuses_bad_input_beside_the_field_and_keeps_the_secret(client, s3_endpoint):
    workspace, _ = await signed_in_client(client)
    response = await post_form(client, "/analytics/data-imports/sources", {
        "name": "Drops", "bucket": "Not A Bucket", "poll_minutes": "1", "access_key_id": "AKIA"})
    assert response.status_code == 422
    assert all(f'data-testid="error-{name}"' in response.text for name in ("bucket", "poll_minutes",
                                                                          "secret_access_key"))
    assert await sources.sources(workspace["id"]) == []

    created = await post_form(client, "/analytics/data-imports/sources", {
        "name": "Drops", "bucket": BUCKET, "prefix": "in", "access_key_id": "AKIA",
        "secret_access_key": "very-secret-value-123", "enabled": "on"})
    assert created.status_code == 303
    source = (await sources.sources(workspace["id"]))[0]
    assert source["prefix"] == "in/" and sources.secret_of(source) == "very-secret-value-123"
    page = (await client.get(created.headers["location"])).text
    assert "very-secret-value-123" not in page and source["secret"] not in page
    await post_form(client, f"/analytics/data-imports/sources/{source['id']}", {
        "name": "Drops", "bucket": BUCKET, "prefix": "in/", "access_key_id": "AKIA", "enabled": "on"})
    assert sources.secret_of(await sources.get_source(workspace["id"], source["id"])) == "very-secret-value-123"


async def test_rule_form_checks_pattern_columns_and_lists_of_the_workspace(client, s3_endpoint):
    workspace, _ = await signed_in_client(client)
    customers = await make_list(workspace, "Customers")
    elsewhere = await make_list(await make_workspace(), "Not yours")
    source = await make_source(workspace, s3_endpoint)
    url = f"/analytics/data-imports/sources/{source['id']}/rules"

    response = await post_form(client, url, {"match": "header", "pattern": " , ", "kind": "mailable",
                                             "list_id": str(customers["id"]), "columns": "Vorname = nope"})
    assert response.status_code == 422
    assert 'data-testid="error-pattern"' in response.text and 'data-testid="error-columns"' in response.text
    assert (await post_form(client, url, {"match": "name", "pattern": "*.csv", "kind": "mailable",
                                          "list_id": str(elsewhere["id"])})).status_code == 404
    assert await rules.rules_of(workspace["id"], source["id"]) == []
    added = await post_form(client, url, {"match": "name", "pattern": "*.csv", "kind": "mailable",
                                          "list_id": str(customers["id"]), "columns": "Mail = email"})
    assert added.status_code == 303
    assert [rule["columns"] for rule in await rules.rules_of(workspace["id"], source["id"])] == [{"mail": "email"}]


async def test_another_workspace_sources_rules_and_files_are_not_found(client, s3, s3_endpoint, resolver):
    owner = await make_workspace()
    source = await make_source(owner, s3_endpoint)
    customers = await make_list(owner, "Customers")
    rule = await rules.create_rule(owner["id"], source["id"], {"match": "name", "pattern": "*", "kind": "mailable",
                                                               "list_id": str(customers["id"])})
    s3.put_object(Bucket=BUCKET, Key="drops/a.csv", Body=b"email\na@example.com\n")
    await polling.poll(source, get_redis(), resolver)
    file_id = (await files_of(source))["a.csv"]["id"]
    await signed_in_client(client)

    for url in (f"/analytics/data-imports/sources/{source['id']}", f"/analytics/data-imports/rules/{rule['id']}",
                f"/analytics/data-imports/files/{file_id}", f"/analytics/data-imports?source_id={source['id']}"):
        assert (await client.get(url)).status_code == 404, url
    assert (await post_form(client, f"/analytics/data-imports/sources/{source['id']}/delete")).status_code == 404
    assert (await post_form(client, f"/analytics/data-imports/rules/{rule['id']}/delete")).status_code == 404
    assert await sources.get_source(owner["id"], source["id"])


async def test_analysts_read_the_monitor_but_only_admins_change_sources(client, s3_endpoint):
    workspace, _ = await signed_in_client(client, role="marketer")
    source = await make_source(workspace, s3_endpoint)
    refused = await post_form(client, "/analytics/data-imports/sources", {"name": "X", "bucket": BUCKET})
    assert refused.status_code == 403
    assert (await post_form(client, f"/analytics/data-imports/sources/{source['id']}/delete")).status_code == 403
    assert "intake-source-new" not in (await client.get("/analytics/data-imports")).text



async def test_a_reader_sees_settings_they_cannot_change_as_disabled_fields(client, s3_endpoint):
    workspace, _ = await signed_in_client(client, role="marketer")
    customers = await make_list(workspace, "Customers")
    source = await make_source(workspace, s3_endpoint)
    rule = await rules.create_rule(workspace["id"], source["id"], {
        "match": "name", "pattern": "*.csv", "kind": "mailable", "list_id": str(customers["id"])})

    page = (await client.get(f"/analytics/data-imports/sources/{source['id']}")).text
    assert '<fieldset class="intake-fields" disabled data-testid="intake-source-fields">' in page
    assert 'data-testid="intake-source-read-only"' in page and 'data-testid="intake-source-save"' not in page
    rule_page = (await client.get(f"/analytics/data-imports/rules/{rule['id']}")).text
    assert 'data-testid="intake-rule-fields"' in rule_page
    assert 'disabled data-testid="intake-rule-fields"' not in rule_page


async def test_a_rule_names_its_first_wrong_column_line(client, s3_endpoint):
    workspace, _ = await signed_in_client(client)
    customers = await make_list(workspace, "Customers")
    source = await make_source(workspace, s3_endpoint)

    response = await post_form(client, f"/analytics/data-imports/sources/{source['id']}/rules", {
        "match": "name", "pattern": "*.csv", "kind": "mailable", "list_id": str(customers["id"]),
        "columns": "Vorname first_name\nMail = nope"})

    assert response.status_code == 422
    assert "Line 1: write one column per line as Header = field_tag." in response.text


async def test_saving_a_failing_source_says_to_poll_to_try_it(client, s3_endpoint):
    workspace, _ = await signed_in_client(client)
    source = await make_source(workspace, s3_endpoint)
    await IntakeSource.update({IntakeSource.last_error: "The secret key does not match the access key."}).where(
        IntakeSource.id == source["id"])

    saved = await post_form(client, f"/analytics/data-imports/sources/{source['id']}", {
        "name": "Partner drops", "bucket": BUCKET, "prefix": "drops/", "enabled": "on"})

    assert saved.status_code == 303
    assert "Poll now to try the new settings." in (await client.get(saved.headers["location"])).text


async def test_due_sources_are_queued_once_until_their_poll_starts(s3_endpoint):
    from app.tasks import intake as intake_tasks

    redis = get_redis()
    workspace = await make_workspace()
    source = await make_source(workspace, s3_endpoint)
    queue = get_broker_redis()
    await queue.delete("dramatiq:imports")

    first = await intake_tasks.queue_due_polls(redis)
    second = await intake_tasks.queue_due_polls(redis)

    assert source["id"] in first and source["id"] not in second
    assert await queue.llen("dramatiq:imports") == len(first)
    await queue.delete("dramatiq:imports")
    await redis.delete(intake_tasks.queued_key(source["id"]))
