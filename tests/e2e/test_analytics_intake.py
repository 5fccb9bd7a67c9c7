"""An admin adds an S3 intake source and a file rule (bad input refused next to its field, nothing saved), a
poll takes a partner's file in from moto S3, and the monitor shows it with its quality, filtered by status."""

from __future__ import annotations

import boto3
import dns.asyncresolver
import pytest
from playwright.async_api import expect

from app.redis_client import get_redis
from app.services.intake import polling, rules, sources
from tests.dns_zone import ZoneServer
from tests.e2e.test_portals import sign_in
from tests.factories import make_list, make_user, make_workspace

BUCKET = "e2e-drops"


@pytest.fixture
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    from app.embedded import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="in/partner-0601.csv",
                      Body=b"email\nana@example.com\nben@example.com\nnot an address\n")
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def resolver():
    zone = ZoneServer()
    zone.records[("example.com", "MX")] = ["10 mx.example.com."]
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = zone.port
    yield resolver
    zone.stop()


async def test_add_a_source_and_rule_refuse_bad_input_and_see_a_polled_file(page, s3_endpoint, resolver):
    workspace = await make_workspace("Intake")
    owner = await make_user(workspace, "owner")
    await make_list(workspace, "Partners")
    await sign_in(page, owner["email"])
    await page.goto("/analytics/data-imports")
    await expect(page.get_by_test_id("intake-sources-empty")).to_be_visible()

    await page.get_by_test_id("intake-source-new").click()
    await page.get_by_test_id("input-name").fill("Partner drops")
    await page.get_by_test_id("input-bucket").fill("Not A Bucket")
    await page.get_by_test_id("input-poll_minutes").fill("2")
    await page.get_by_test_id("intake-source-save").click()
    await expect(page.get_by_test_id("error-bucket")).to_contain_text("lower-case")
    await expect(page.get_by_test_id("error-poll_minutes")).to_contain_text("5 to 1440")
    assert await sources.sources(workspace["id"]) == []

    await page.get_by_test_id("input-bucket").fill(BUCKET)
    await page.get_by_test_id("input-prefix").fill("in/")
    await page.get_by_test_id("input-poll_minutes").fill("15")
    await page.get_by_test_id("input-endpoint_url").fill(s3_endpoint)
    await page.get_by_test_id("input-region").fill("us-east-1")
    await page.get_by_test_id("input-access_key_id").fill("testing")
    await page.get_by_test_id("input-secret_access_key").fill("testing")
    await page.get_by_test_id("intake-source-save").click()
    await expect(page.get_by_test_id("intake-source-title")).to_have_text("Partner drops")
    await expect(page.get_by_test_id("intake-rules-empty")).to_be_visible()

    await page.get_by_test_id("intake-rule-new").click()
    await page.get_by_test_id("input-pattern").fill("partner-*.csv")
    await page.get_by_test_id("intake-rule-save").click()
    await expect(page.get_by_test_id("error-list_id")).to_contain_text("Choose the list")
    await page.get_by_test_id("input-list_id").select_option(label="Partners")
    await page.get_by_test_id("input-columns").fill("Vorname = no_such_field")
    await page.get_by_test_id("intake-rule-save").click()
    await expect(page.get_by_test_id("error-columns")).to_contain_text("no field")
    await page.get_by_test_id("input-columns").fill("")
    await page.get_by_test_id("intake-rule-save").click()
    await expect(page.get_by_test_id("intake-rules")).to_contain_text("partner-*.csv")

    source = (await sources.sources(workspace["id"]))[0]
    await polling.poll(source, get_redis(), resolver)
    await page.goto("/analytics/data-imports")
    await expect(page.get_by_test_id(f"intake-source-state-{source['id']}")).to_have_text("ok")
    files = page.get_by_test_id("intake-files")
    await expect(files).to_contain_text("partner-0601.csv")
    await expect(files.locator('[data-testid^="intake-file-score-"]')).to_have_text("67")
    await page.get_by_test_id("filter-status").select_option("failed")
    await page.get_by_test_id("filter-apply").click()
    await expect(page.get_by_test_id("intake-files-empty")).to_be_visible()
    await page.get_by_test_id("filter-status").select_option("processed")
    await page.get_by_test_id("filter-apply").click()
    await page.locator('[data-testid^="intake-file-open-"]').click()
    await expect(page.get_by_test_id("intake-file-quality")).to_contain_text("1 of 3")


async def test_a_polled_file_shows_on_the_open_page_without_reloading(page, s3_endpoint, resolver):
    workspace = await make_workspace("Intake live")
    owner = await make_user(workspace, "owner")
    partners = await make_list(workspace, "Partners")
    source = await sources.create_source(workspace["id"], {
        "name": "Partner drops", "bucket": BUCKET, "prefix": "in/", "region": "us-east-1",
        "endpoint_url": s3_endpoint, "access_key_id": "testing", "secret_access_key": "testing", "enabled": "on"})
    await rules.create_rule(workspace["id"], source["id"], {
        "match": "name", "pattern": "partner-*.csv", "kind": "mailable", "list_id": str(partners["id"])})
    await sign_in(page, owner["email"])
    await page.goto(f"/analytics/data-imports?status=processed&source_id={source['id']}")
    await expect(page.get_by_test_id("intake-files-empty")).to_be_visible()

    await polling.poll(source, get_redis(), resolver)

    # The page refreshes its list every 10 s, keeping its filters.
    await expect(page.get_by_test_id("intake-files")).to_contain_text("partner-0601.csv", timeout=15_000)
    await expect(page.get_by_test_id(f"intake-source-state-{source['id']}")).to_have_text("ok", timeout=15_000)
    await expect(page.get_by_test_id("filter-status")).to_have_value("processed")
