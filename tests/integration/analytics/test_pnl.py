"""Costs and the P&L: servers' price per 1,000 and fixed monthly cost, lists' and imports' data cost, extras;
revenue minus those per day, campaign, server and list; settings refused next to the field."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from jinja2 import Environment, FileSystemLoader

from app.main import TEMPLATES
from app.routes.pnl import TODAY, today_messages
from app.services.analytics import costs, pnl
from app.services.analytics.live import announce_revenue
from app.services.analytics.periods import Period
from app.services.delivery_servers import create_server
from app.services.forms import FormError
from tests.factories import make_list, make_workspace, post_form, signed_in_client
from tests.integration.analytics.money_seeds import conversion_day, created_on, performance_day

JUNE_1 = date(2026, 6, 1)
HTMX = {"HX-Request": "true"}


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


async def _server(workspace_id: int, name: str = "Capture", per_thousand: str = "0.50", monthly: str = "0") -> dict:
    server = await create_server(workspace_id, "capture", {"name": name})
    await costs.save_server_costs(workspace_id, server["id"], {"cost_per_thousand": per_thousand,
                                                               "monthly_cost": monthly})
    await created_on("delivery_servers", server["id"], datetime(2026, 1, 1, tzinfo=UTC))
    return server


async def test_a_servers_cost_is_what_it_sent_at_its_price_plus_its_fixed_cost_spread_over_the_month():
    workspace = await make_workspace()
    server = await _server(workspace["id"], per_thousand="0.50", monthly="300")
    other = await _server(workspace["id"], name="Other", per_thousand="2")
    await performance_day(workspace["id"], JUNE_1, server_id=server["id"], campaign_id=7, sent=10_000)
    await performance_day(workspace["id"], JUNE_1, server_id=server["id"], domain_group="gmail", campaign_id=7,
                          sent=4_000)
    await performance_day(workspace["id"], date(2026, 6, 2), server_id=other["id"], sent=1_000)

    by_day = await costs.daily_costs(workspace["id"], JUNE_1, date(2026, 6, 30))
    whole_june = await costs.server_costs(workspace["id"], JUNE_1, date(2026, 6, 30))

    # June has 30 days: 300 a month is 10 a day.
    assert cents(by_day[JUNE_1][server["id"]]) == Decimal("17.00")  # 14,000 at 0.50 per 1,000, plus 10
    assert cents(by_day[date(2026, 6, 2)][other["id"]]) == Decimal("2.00")
    assert cents(whole_june[server["id"]]) == Decimal("307.00")
    assert cents(whole_june[other["id"]]) == Decimal("2.00")
    assert await costs.campaign_costs(workspace["id"], JUNE_1, date(2026, 6, 30)) == {7: Decimal("7")}


async def test_a_fixed_cost_counts_from_the_day_the_server_was_added_and_not_in_another_workspace():
    workspace, stranger = await make_workspace(), await make_workspace()
    server = await _server(workspace["id"], monthly="310")
    await created_on("delivery_servers", server["id"], datetime(2026, 7, 21, 15, tzinfo=UTC))

    july = await costs.server_costs(workspace["id"], date(2026, 7, 1), date(2026, 7, 31))

    assert cents(july[server["id"]]) == Decimal("110.00")  # 11 days of 10
    assert await costs.server_costs(stranger["id"], date(2026, 7, 1), date(2026, 7, 31)) == {}


async def test_data_cost_is_a_lists_monthly_share_plus_its_imports_on_their_day():
    workspace = await make_workspace()
    mailing_list = await make_list(workspace)
    await created_on("lists", mailing_list["id"], datetime(2026, 1, 1, tzinfo=UTC))
    await costs.save_list_cost(workspace["id"], mailing_list["id"], {"monthly_cost": "60"})
    [imported] = await _imports(workspace["id"], mailing_list["id"], datetime(2026, 6, 3, 23, 30, tzinfo=UTC))
    await costs.save_import_cost(workspace["id"], imported["id"], {"data_cost": "49.99"})

    by_day = await costs.data_costs(workspace["id"], JUNE_1, date(2026, 6, 30))

    assert cents(by_day[JUNE_1][mailing_list["id"]]) == Decimal("2.00")
    assert cents(by_day[date(2026, 6, 3)][mailing_list["id"]]) == Decimal("51.99")
    assert cents(sum(sum(day.values()) for day in by_day.values())) == Decimal("109.99")


async def test_extras_count_once_on_their_date_or_every_month_from_it():
    workspace = await make_workspace()
    await costs.add_extra(workspace["id"], {"name": "Seed list audit", "amount": "200", "recurrence": "once",
                                            "on_date": "2026-06-10"})
    await costs.add_extra(workspace["id"], {"name": "Monitoring", "amount": "31", "recurrence": "monthly",
                                            "on_date": "2026-07-15"})

    june = await costs.other_costs(workspace["id"], JUNE_1, date(2026, 6, 30))
    july = await costs.other_costs(workspace["id"], date(2026, 7, 1), date(2026, 7, 31))

    assert june == {date(2026, 6, 10): Decimal("200.00")}
    assert min(july) == date(2026, 7, 15)
    assert cents(sum(july.values())) == Decimal("17.00")


@pytest.mark.parametrize(("form", "field"), [
    ({"cost_per_thousand": "abc", "monthly_cost": "1"}, "cost_per_thousand"),
    ({"cost_per_thousand": "0.12345", "monthly_cost": "1"}, "cost_per_thousand"),
    ({"cost_per_thousand": "1", "monthly_cost": "-5"}, "monthly_cost"),
    ({"cost_per_thousand": "1", "monthly_cost": "NaN"}, "monthly_cost"),
    # A decimal comma is refused, never read as 15: a price ten times too high would pass unseen.
    ({"cost_per_thousand": "1,5", "monthly_cost": "1"}, "cost_per_thousand"),
    ({"cost_per_thousand": "1", "monthly_cost": "1e3"}, "monthly_cost"),
])
async def test_a_bad_server_cost_is_refused_next_to_its_field_and_nothing_changes(form, field):
    workspace = await make_workspace()
    server = await _server(workspace["id"], per_thousand="0.75", monthly="20")

    with pytest.raises(FormError) as refused:
        await costs.save_server_costs(workspace["id"], server["id"], form)

    assert set(refused.value.errors) == {field}
    [kept] = (await costs.cost_sheet(workspace["id"])).servers
    assert (kept["cost_per_thousand"], kept["monthly_cost"]) == (Decimal("0.75"), Decimal("20"))


async def test_a_comma_between_thousands_is_read_as_such():
    workspace = await make_workspace()
    server = await _server(workspace["id"])

    saved = await costs.save_server_costs(workspace["id"], server["id"], {"cost_per_thousand": "0.5",
                                                                          "monthly_cost": "1,250.50"})

    assert saved["monthly_cost"] == Decimal("1250.50")


async def test_costs_of_another_workspaces_rows_are_not_found():
    workspace, stranger = await make_workspace(), await make_workspace()
    server = await _server(workspace["id"])
    mailing_list = await make_list(workspace)
    extra = await costs.add_extra(workspace["id"], {"name": "Tool", "amount": "5", "recurrence": "once",
                                                    "on_date": "2026-06-01"})

    with pytest.raises(LookupError):
        await costs.save_server_costs(stranger["id"], server["id"], {"cost_per_thousand": "9"})
    with pytest.raises(LookupError):
        await costs.save_list_cost(stranger["id"], mailing_list["id"], {"monthly_cost": "9"})
    with pytest.raises(LookupError):
        await costs.delete_extra(stranger["id"], extra["id"])
    assert len((await costs.cost_sheet(workspace["id"])).extras) == 1


async def test_an_extra_with_every_mistake_is_refused_at_once():
    workspace = await make_workspace()

    with pytest.raises(FormError) as refused:
        await costs.add_extra(workspace["id"], {"name": " ", "amount": "0", "recurrence": "weekly",
                                                "on_date": "31/12/2026"})

    assert set(refused.value.errors) == {"name", "amount", "recurrence", "on_date"}
    assert (await costs.cost_sheet(workspace["id"])).extras == []


async def _imports(workspace_id: int, list_id: int, when: datetime) -> list[dict]:
    from app.services.sqlparams import fetch_positional

    return await fetch_positional(
        "INSERT INTO imports (workspace_id, list_id, filename, status, created_at) "
        "VALUES ($1, $2, 'bought.csv', 'completed', $3) RETURNING id", [workspace_id, list_id, when])


async def test_the_pnl_of_a_day_is_revenue_minus_esp_data_and_other_costs_and_days_add_up():
    workspace = await make_workspace()
    ws = workspace["id"]
    server = await _server(ws, per_thousand="1", monthly="300")
    mailing_list = await make_list(workspace)
    await created_on("lists", mailing_list["id"], datetime(2026, 1, 1, tzinfo=UTC))
    await costs.save_list_cost(ws, mailing_list["id"], {"monthly_cost": "30"})
    await costs.add_extra(ws, {"name": "Tool", "amount": "5", "recurrence": "once", "on_date": "2026-06-02"})
    await performance_day(ws, JUNE_1, server_id=server["id"], campaign_id=3, sent=20_000)
    await conversion_day(ws, JUNE_1, campaign_id=3, server_id=server["id"], list_id=mailing_list["id"],
                         conversions=2, revenue="100")
    period = Period(JUNE_1, date(2026, 6, 2))

    first, second = await pnl.table(ws, period, "day")
    [by_server] = await pnl.table(ws, period, "server")
    [by_campaign] = await pnl.table(ws, period, "campaign")
    [by_list] = await pnl.table(ws, period, "list")

    # 20,000 at 1 per 1,000 plus 10 a day of fixed cost; 1 a day of data cost; the tool on the 2nd.
    assert (first.revenue, cents(first.esp_cost), cents(first.data_cost), first.other_cost) == (
        Decimal("100"), Decimal("30.00"), Decimal("1.00"), Decimal(0))
    assert cents(first.profit) == Decimal("69.00")
    assert cents(second.profit) == Decimal("-16.00")
    assert cents(pnl.total([first, second]).profit) == Decimal("53.00")
    assert (by_server.label, cents(by_server.esp_cost), cents(by_server.profit)) == ("Capture", Decimal("40.00"),
                                                                                     Decimal("60.00"))
    assert (by_campaign.key, by_campaign.esp_cost, by_campaign.profit) == (3, Decimal("20"), Decimal("80"))
    assert (by_list.key, cents(by_list.data_cost), cents(by_list.profit)) == (mailing_list["id"], Decimal("2.00"),
                                                                              Decimal("98.00"))


async def test_a_server_that_only_cost_money_is_a_row_of_its_own():
    workspace = await make_workspace()
    server = await _server(workspace["id"], name="Idle", monthly="300")

    [idle] = await pnl.table(workspace["id"], Period(JUNE_1, JUNE_1), "server")

    assert (idle.key, idle.label, idle.revenue, cents(idle.profit)) == (server["id"], "Idle", Decimal(0),
                                                                         Decimal("-10.00"))


async def test_today_and_month_to_date():
    workspace = await make_workspace()
    await conversion_day(workspace["id"], date(2026, 6, 3), conversions=1, revenue="40")
    await conversion_day(workspace["id"], date(2026, 6, 5), conversions=2, revenue="12.5")
    await costs.add_extra(workspace["id"], {"name": "Tool", "amount": "2", "recurrence": "once",
                                            "on_date": "2026-06-05"})

    summary = await pnl.today_summary(workspace["id"], today=date(2026, 6, 5))

    assert (summary.today.conversions, summary.today.revenue, summary.today.profit) == (2, Decimal("12.5"),
                                                                                        Decimal("10.5"))
    assert (summary.month.conversions, summary.month.revenue, summary.month.profit) == (3, Decimal("52.5"),
                                                                                        Decimal("50.5"))


async def test_an_announced_postback_wakes_the_revenue_follower(redis):
    workspace = await make_workspace()
    changes = pnl.revenue_changes(redis, workspace["id"], idle_seconds=0.05)

    assert await anext(changes) is True  # listening: read the figures now
    assert await anext(changes) is False
    await announce_revenue(redis, workspace["id"])
    seen = [await anext(changes) for _ in range(20)]
    await changes.aclose()

    assert True in seen


async def test_the_pnl_page_shows_today_the_period_tables_and_a_chart(client):
    workspace, _ = await signed_in_client(client, "analyst")
    today = datetime.now(UTC).date()
    await conversion_day(workspace["id"], today, conversions=1, revenue="42")

    page = await client.get("/analytics/pnl")
    panel = await client.get("/analytics/pnl/today")
    exported = await client.get("/analytics/pnl/export.csv?by=day")

    assert page.status_code == 200
    assert 'sse-connect="/analytics/pnl/today/events"' in page.text
    assert 'data-testid="pnl-chart"' in page.text and 'data-testid="pnl-by-server"' in page.text
    assert 'data-testid="today-revenue">42.00<' in panel.text
    assert f"{today.isoformat()},{today.isoformat()},1,42" in exported.text
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"


async def test_a_marketer_sets_costs_and_a_bad_amount_is_refused_beside_its_row(client, redis):
    workspace, _ = await signed_in_client(client, "marketer")
    server = await _server(workspace["id"], per_thousand="0.5")

    saved = await post_form(client, f"/analytics/pnl/costs/servers/{server['id']}",
                            {"cost_per_thousand": "0.8", "monthly_cost": "120"}, headers=HTMX)
    refused = await post_form(client, f"/analytics/pnl/costs/servers/{server['id']}",
                              {"cost_per_thousand": "lots", "monthly_cost": "1"}, headers=HTMX)
    added = await post_form(client, "/analytics/pnl/costs/extras",
                            {"name": "Seed tool", "amount": "9.90", "recurrence": "monthly", "on_date": "2026-06-01"},
                            headers=HTMX)

    assert saved.status_code == 200 and 'data-testid="costs-notice"' in saved.text
    assert refused.status_code == 422
    assert f'id="server-{server["id"]}-cost_per_thousand"' in refused.text
    assert 'data-testid="error-cost_per_thousand"' in refused.text and 'value="lots"' in refused.text
    assert added.status_code == 200 and "Seed tool" in added.text
    [kept] = (await costs.cost_sheet(workspace["id"])).servers
    assert (kept["cost_per_thousand"], kept["monthly_cost"]) == (Decimal("0.8"), Decimal("120"))


async def test_an_analyst_reads_costs_but_may_not_change_them(client):
    workspace, _ = await signed_in_client(client, "analyst")
    server = await _server(workspace["id"], per_thousand="0.5")

    page = await client.get("/analytics/pnl/costs")
    refused = await post_form(client, f"/analytics/pnl/costs/servers/{server['id']}",
                              {"cost_per_thousand": "9", "monthly_cost": "9"})

    assert page.status_code == 200 and 'data-testid="save-server-cost"' not in page.text
    # Amounts as text: a field that looks editable but has no button would swallow what is typed.
    assert 'data-testid="input-cost_per_thousand"' not in page.text
    assert 'data-testid="value-cost_per_thousand">0.5000<' in page.text
    assert 'data-testid="value-monthly_cost">0.00<' in page.text
    assert refused.status_code == 403
    [kept] = (await costs.cost_sheet(workspace["id"])).servers
    assert kept["cost_per_thousand"] == Decimal("0.5")


async def test_a_cost_of_nothing_reads_0_not_a_blank_field(client):
    workspace, _ = await signed_in_client(client, "marketer")
    server = await _server(workspace["id"], per_thousand="0", monthly="0")

    page = await client.get("/analytics/pnl/costs")

    assert f'id="server-{server["id"]}-cost_per_thousand" name="cost_per_thousand" type="text" value="0.0000"' in (
        page.text)
    assert f'id="server-{server["id"]}-monthly_cost" name="monthly_cost" type="text" value="0.00"' in page.text


async def test_another_workspaces_server_or_extra_is_not_found(client):
    await signed_in_client(client, "owner")
    stranger = await make_workspace()
    server = await _server(stranger["id"])
    extra = await costs.add_extra(stranger["id"], {"name": "Theirs", "amount": "5", "recurrence": "once",
                                                   "on_date": "2026-06-01"})

    changed = await post_form(client, f"/analytics/pnl/costs/servers/{server['id']}",
                              {"cost_per_thousand": "9", "monthly_cost": "9"})
    removed = await post_form(client, f"/analytics/pnl/costs/extras/{extra['id']}/delete")

    assert (changed.status_code, removed.status_code) == (404, 404)
    assert len((await costs.cost_sheet(stranger["id"])).extras) == 1


async def test_empty_pnl_and_costs_pages_say_what_to_do(client):
    await signed_in_client(client, "analyst")

    for path in ("/analytics/pnl", "/analytics/pnl/costs"):
        page = await client.get(path)
        assert 'data-testid="empty-state"' in page.text, path


async def test_an_empty_pnl_sends_each_role_only_where_it_may_act(client):
    await signed_in_client(client, "analyst")
    analyst = await client.get("/analytics/pnl")
    await signed_in_client(client, "admin")
    admin = await client.get("/analytics/pnl")

    assert ">See costs<" in analyst.text and 'href="/settings/tracking"' not in analyst.text
    assert ">Set costs<" in admin.text and 'href="/settings/tracking"' in admin.text


async def test_the_today_panel_links_to_the_pnl_except_on_the_pnl_page(client):
    await signed_in_client(client, "analyst")

    overview = await client.get("/analytics")
    page = await client.get("/analytics/pnl")

    assert 'data-testid="pnl-today-link"' in overview.text
    assert 'data-testid="pnl-today"' in page.text and 'data-testid="pnl-today-link"' not in page.text


async def test_todays_panel_is_sent_again_when_sends_move_the_cost_without_a_postback(redis):
    workspace = await make_workspace()
    server = await _server(workspace["id"], per_thousand="2")
    panel = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True).get_template(TODAY)
    messages = today_messages(redis, workspace["id"], panel, idle_seconds=0.05)

    first = await anext(messages)
    quiet = await anext(messages)
    await performance_day(workspace["id"], datetime.now(UTC).date(), server_id=server["id"], sent=5_000)
    moved = await anext(messages)
    await messages.aclose()

    assert first.event == "pnl-today" and 'data-testid="today-cost">0.00<' in first.data
    assert quiet.event is None, "nothing changed: a keep-alive"
    assert moved.event == "pnl-today" and 'data-testid="today-cost">10.00<' in moved.data
