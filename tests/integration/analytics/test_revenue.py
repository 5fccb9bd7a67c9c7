"""Revenue by campaign, offer, server, list, segment, automation step and day, read from the rollups, with
EPC, eCPM and revenue per subscriber; only the workspace's own rows; CSV through the one writer."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.services.analytics import revenue
from app.services.analytics.periods import Period
from app.services.delivery_servers import create_server
from tests.factories import make_list, make_subscribers, make_workspace, signed_in_client
from tests.integration.analytics.money_seeds import campaign, conversion_day, flow_step, performance_day, segment

DAY = date(2026, 6, 10)
WEEK = Period(date(2026, 6, 8), date(2026, 6, 14))


async def _seeded() -> dict:
    workspace = await make_workspace()
    ws = workspace["id"]
    server = await create_server(ws, "capture", {"name": "Capture"})
    mailing_list = await make_list(workspace, "Buyers")
    await make_subscribers(mailing_list, 4)
    vip = await segment(ws, "VIP")
    spring = await campaign(ws, "Spring sale", segment_ids=(vip,))
    welcome = await campaign(ws, "Welcome: send", kind="flow")
    await flow_step(ws, "Welcome series", "s2", welcome)
    await performance_day(ws, DAY, server_id=server["id"], campaign_id=spring, sent=20_000, human_clicks=400)
    await performance_day(ws, date(2026, 6, 11), server_id=server["id"], campaign_id=welcome, sent=5_000,
                          human_clicks=100)
    await conversion_day(ws, DAY, campaign_id=spring, server_id=server["id"], list_id=mailing_list["id"],
                         offer_id="77", conversions=3, revenue="90")
    await conversion_day(ws, date(2026, 6, 11), campaign_id=welcome, server_id=server["id"],
                         list_id=mailing_list["id"], offer_id="78", conversions=1, revenue="10")
    return {"ws": ws, "server": server, "list": mailing_list, "vip": vip, "spring": spring, "welcome": welcome}


async def test_revenue_by_campaign_has_epc_and_ecpm_from_the_rollups():
    seeded = await _seeded()
    stranger = await make_workspace()
    await conversion_day(stranger["id"], DAY, campaign_id=seeded["spring"], conversions=9, revenue="999")

    [spring, welcome] = await revenue.breakdown(seeded["ws"], WEEK, "campaign")

    assert (spring.key, spring.label, spring.link) == (seeded["spring"], "Spring sale",
                                                       f"/mailing/campaigns/{seeded['spring']}")
    assert (spring.conversions, spring.revenue, spring.sent, spring.human_clicks) == (3, Decimal("90"), 20_000, 400)
    assert spring.epc == Decimal("0.225")
    assert spring.ecpm == Decimal("4.5")
    assert (welcome.key, welcome.revenue, welcome.ecpm) == (seeded["welcome"], Decimal("10"), Decimal("2"))


async def test_revenue_by_offer_server_list_segment_and_step():
    seeded = await _seeded()

    offers = await revenue.breakdown(seeded["ws"], WEEK, "offer")
    [server] = await revenue.breakdown(seeded["ws"], WEEK, "server")
    [buyers] = await revenue.breakdown(seeded["ws"], WEEK, "list")
    [vip] = await revenue.breakdown(seeded["ws"], WEEK, "segment")
    [step] = await revenue.breakdown(seeded["ws"], WEEK, "step")

    assert [(row.key, row.revenue, row.ecpm) for row in offers] == [("77", Decimal("90"), None),
                                                                    ("78", Decimal("10"), None)]
    assert (server.label, server.revenue, server.sent, server.ecpm) == ("Capture", Decimal("100"), 25_000,
                                                                         Decimal("4"))
    assert (buyers.label, buyers.subscribers, buyers.per_subscriber) == ("Buyers", 4, Decimal("25"))
    assert (vip.label, vip.revenue, vip.sent) == ("VIP", Decimal("90"), 20_000)
    assert (step.label, step.revenue, step.sent, step.link) == (
        "Welcome series: step s2", Decimal("10"), 5_000, step.link)
    assert step.link.startswith("/mailing/automations/")


async def test_revenue_by_day_has_every_day_of_the_period_and_totals_add_up():
    seeded = await _seeded()

    days = await revenue.breakdown(seeded["ws"], WEEK, "day")
    whole = await revenue.totals(seeded["ws"], WEEK)

    assert [row.key for row in days] == WEEK.dates()
    assert [row.revenue for row in days][2:4] == [Decimal("90"), Decimal("10")]
    assert sum(row.revenue for row in days) == whole.revenue == Decimal("100")
    assert (whole.conversions, whole.sent, whole.human_clicks, whole.subscribers) == (4, 25_000, 500, 4)
    assert whole.per_subscriber == Decimal("25")


async def test_a_period_outside_the_rows_has_no_revenue():
    seeded = await _seeded()

    assert await revenue.breakdown(seeded["ws"], Period(date(2026, 7, 1), date(2026, 7, 7)), "campaign") == []


async def test_the_csv_export_names_each_row_and_its_figures():
    seeded = await _seeded()

    body = b"".join([chunk async for chunk in revenue.breakdown_csv(seeded["ws"], WEEK, "campaign")]).decode()

    lines = body.strip().splitlines()
    assert lines[0] == ",".join(revenue.CSV_COLUMNS)
    assert lines[1].startswith(f"{seeded['spring']},Spring sale,3,90")
    assert len(lines) == 3


async def test_the_revenue_page_shows_top_tables_a_chart_and_exports_csv(client):
    workspace, _ = await signed_in_client(client, "analyst")
    await conversion_day(workspace["id"], DAY, offer_id="77", conversions=2, revenue="64")

    page = await client.get("/analytics/revenue?since=2026-06-08&until=2026-06-14")
    exported = await client.get("/analytics/revenue/export.csv?by=offer&since=2026-06-08&until=2026-06-14")

    assert page.status_code == 200
    assert 'data-testid="revenue-chart"' in page.text and "Offer 77" in page.text
    assert 'data-testid="total-revenue">64.00<' in page.text
    assert 'href="/analytics/revenue/everflow"' in page.text
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text.splitlines()[1].startswith("77,Offer 77,2,64")


async def test_a_bad_date_is_refused_next_to_its_field(client):
    await signed_in_client(client, "analyst")

    page = await client.get("/analytics/revenue?since=2026-13-01")
    unknown = await client.get("/analytics/revenue/export.csv?by=nothing")

    assert page.status_code == 422
    assert 'data-testid="error-since"' in page.text
    assert unknown.status_code == 404


async def test_an_empty_workspace_is_told_what_to_do(client):
    await signed_in_client(client, "admin")

    page = await client.get("/analytics/revenue")

    assert 'data-testid="empty-state"' in page.text and 'href="/settings/tracking"' in page.text


async def test_an_analyst_is_not_sent_to_tracking_settings_they_may_not_open(client):
    await signed_in_client(client, "analyst")

    page = await client.get("/analytics/revenue")

    assert 'data-testid="empty-state"' in page.text and "an admin makes a postback URL" in page.text
    assert 'href="/settings/tracking"' not in page.text
    assert (await client.get("/settings/tracking")).status_code == 403


async def test_a_server_row_drills_down_to_its_esp_performance_and_the_csv_names_its_type_once(client):
    workspace, _ = await signed_in_client(client, "analyst")
    server = await create_server(workspace["id"], "capture", {"name": "Capture"})
    await conversion_day(workspace["id"], DAY, server_id=server["id"], conversions=1, revenue="5")

    page = await client.get("/analytics/revenue?since=2026-06-08&until=2026-06-14")
    exported = await client.get("/analytics/revenue/export.csv?by=server&since=2026-06-08&until=2026-06-14")

    assert f'href="/analytics/esp-performance/servers/{server["id"]}">Capture' in page.text
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
