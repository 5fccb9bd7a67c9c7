"""The volume planner on a real workspace: inputs read from servers, rollups and the audience; scenarios saved,
compared and exported; applying one changes routing weights, rules and warm-ups, audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from app.db.audit import AuditEntry
from app.db.delivery import DeliveryServer, RoutingRule
from app.db.planner import VolumeScenario
from app.services import routing, warmup_plans
from app.services.analytics import scenarios
from app.services.analytics.planner import plan
from app.services.delivery_servers import create_server
from app.services.sqlparams import fetch_positional
from tests.factories import make_list, make_subscribers, make_workspace, post_form, signed_in_client

TODAY = datetime.now(UTC).date()


async def _servers(workspace: dict) -> tuple[dict, dict]:
    cheap = await create_server(workspace["id"], "capture", {"name": "Cheap", "daily_quota": "30000",
                                                             "cost_per_thousand": "0.10"})
    rich = await create_server(workspace["id"], "capture", {"name": "Rich", "daily_quota": "100000",
                                                            "cost_per_thousand": "0.50"})
    await _group_limits(workspace, 10_000)
    return cheap, rich


async def _group_limits(workspace: dict, per_hour: int) -> None:
    """Every domain group's hourly limit per server (the defaults are sized for a cold start)."""
    for group in await routing.domain_groups(workspace["id"]):
        await routing.update_group(workspace["id"], group["id"], {"domains": " ".join(group["domains"]),
                                                                  "hourly_limit": str(per_hour)})


async def _measured(workspace: dict, server: dict, group: str, sent: int, revenue: str, bounced: int = 0) -> None:
    await fetch_positional(
        "INSERT INTO performance_days (workspace_id, day, server_id, domain_group, campaign_id, sent, hard, revenue) "
        "VALUES ($1, $2, $3, $4, 0, $5, $6, $7)",
        [workspace["id"], TODAY - timedelta(days=2), server["id"], group, sent, bounced, Decimal(revenue)])


async def _audience(workspace: dict) -> None:
    mailing_list = await make_list(workspace)
    await make_subscribers(mailing_list, 60, domain="gmail.com", prefix="g")
    await make_subscribers(mailing_list, 40, domain="example.org", prefix="o")
    await make_subscribers(mailing_list, 25, domain="yahoo.com", prefix="y", status="unsubscribed")


def _form(cheap: dict, rich: dict, **extra: str) -> dict[str, str]:
    return {"name": "Two million", "target": "120,000", "days": "10", f"include_{cheap['id']}": "1",
            f"include_{rich['id']}": "1", **extra}


async def test_a_plan_reads_quotas_measured_ecpm_and_the_audience_mix_and_is_saved(client):
    workspace, user = await signed_in_client(client, role="marketer")
    cheap, rich = await _servers(workspace)
    await _audience(workspace)
    await _measured(workspace, rich, "Gmail", 10_000, "80.00", bounced=500)
    await _measured(workspace, cheap, "Others", 1_000, "2.00")

    response = await post_form(client, "/analytics/volume-planner/scenarios", _form(cheap, rich))
    assert response.status_code == 303, response.text[:2000]
    saved = await VolumeScenario.select().where(VolumeScenario.workspace_id == workspace["id"]).output(
        load_json=True).first()
    assert response.headers["location"] == f"/analytics/volume-planner/scenarios/{saved['id']}"

    inputs = scenarios.inputs_from_json(saved["inputs"])
    mix = {group.name: group.audience for group in inputs.groups}
    assert mix["Gmail"] == 60 and mix["Others"] == 40 and mix["Yahoo/AOL"] == 0
    by_name = {server.name: server for server in inputs.servers}
    assert by_name["Rich"].ecpm["Gmail"] == Decimal(8) and by_name["Rich"].deliverability["Gmail"] == 0.95
    # Rich never sent to Others: it borrows its own overall figure; Cheap's Gmail borrows Cheap's.
    assert by_name["Rich"].ecpm["Others"] == Decimal(8) and by_name["Cheap"].ecpm["Gmail"] == Decimal(2)
    assert saved["final_daily"] == 120_000 and saved["days_to_target"] == 1 and saved["created_by"] == user["email"]
    result = plan(inputs)
    for day in result.days:
        per_server = {server_id: 0 for server_id in (cheap["id"], rich["id"])}
        for (server_id, _), count in day.sends.items():
            per_server[server_id] += count
        assert per_server[cheap["id"]] <= 30_000 and per_server[rich["id"]] <= 100_000
    # The most profitable pairs first: all Gmail through Rich.
    assert result.days[0].sends[(rich["id"], "Gmail")] == 72_000

    page = await client.get(f"/analytics/volume-planner/scenarios/{saved['id']}")
    assert page.status_code == 200 and 'data-testid="plan-days-to-target">1<' in page.text
    export = await client.get(f"/analytics/volume-planner/scenarios/{saved['id']}/plan.csv")
    lines = export.text.strip().splitlines()
    assert lines[0] == "day,server,domain_group,messages,cost,expected_revenue"
    assert f"{TODAY.isoformat()},Rich,Gmail,72000,36.00,576.00" in lines


async def test_bad_input_is_shown_next_to_each_field_and_nothing_is_saved(client):
    workspace, _ = await signed_in_client(client, role="marketer")
    cheap, rich = await _servers(workspace)
    response = await post_form(client, "/analytics/volume-planner/scenarios", {
        "name": "", "target": "lots", "days": "900", "start": "2020-01-01", f"plan_{rich['id']}": "999999"})
    assert response.status_code == 422
    for field in ("name", "target", "days", "start", f"plan_{rich['id']}", "servers"):
        assert f'data-testid="error-{field}"' in response.text, field
    assert await VolumeScenario.count().where(VolumeScenario.workspace_id == workspace["id"]) == 0
    await post_form(client, "/analytics/volume-planner/scenarios", _form(cheap, rich))
    again = await post_form(client, "/analytics/volume-planner/scenarios", _form(cheap, rich))
    assert again.status_code == 422 and "Another scenario has this name." in again.text


async def test_applying_a_plan_sets_weights_group_rules_and_warmups_and_is_audited(client):
    workspace, user = await signed_in_client(client, role="admin")
    cheap, rich = await _servers(workspace)
    idle = await create_server(workspace["id"], "capture", {"name": "Idle", "weight": "500"})
    await _audience(workspace)
    await _measured(workspace, rich, "Gmail", 10_000, "80.00")
    await _measured(workspace, cheap, "Gmail", 10_000, "10.00")
    await _measured(workspace, cheap, "Others", 10_000, "20.00")
    standard = next(p for p in await warmup_plans.plans(workspace["id"]) if p["name"] == "standard")
    await routing.save_rule(workspace["id"], {"name": "Volume plan · Gmail", "domain_group_id": str(
        next(g["id"] for g in await routing.domain_groups(workspace["id"]) if g["name"] == "Gmail")),
        f"weight_{idle['id']}": "10"})
    await post_form(client, "/analytics/volume-planner/scenarios", _form(
        cheap, rich, **{f"plan_{cheap['id']}": str(standard["id"]), f"day_{cheap['id']}": "11"}))
    scenario = await VolumeScenario.select().where(VolumeScenario.workspace_id == workspace["id"]).first()

    response = await post_form(client, f"/analytics/volume-planner/scenarios/{scenario['id']}/apply")
    assert response.status_code == 303

    weights = {row["name"]: row for row in await DeliveryServer.select().where(
        DeliveryServer.workspace_id == workspace["id"])}
    # Day 1: Rich earns most on both groups and fills its 100,000 (Gmail's 72,000 and 28,000 of Others);
    # Cheap sends the other 20,000 of Others, where it earns more than on Gmail.
    assert (weights["Rich"]["weight"], weights["Cheap"]["weight"], weights["Idle"]["weight"]) == (1000, 200, 0)
    assert weights["Cheap"]["warmup_plan_id"] == standard["id"] and weights["Cheap"]["warmup_day"] == 11
    rules = await RoutingRule.select().where(RoutingRule.workspace_id == workspace["id"]).output(load_json=True)
    assert [rule["name"] for rule in rules] == ["Volume plan · Gmail"]
    assert rules[0]["pool"] == [{"server_id": rich["id"], "weight": 1000}]
    entry = await AuditEntry.select().where(AuditEntry.workspace_id == workspace["id"],
                                            AuditEntry.action == "volume_plan.applied").first()
    assert entry["target_id"] == str(scenario["id"]) and entry["actor"] == user["email"]
    applied = await VolumeScenario.select().where(VolumeScenario.id == scenario["id"]).first()
    assert applied["applied_by"] == user["email"] and applied["applied_at"] is not None


async def test_marketers_plan_but_only_admins_apply_and_other_workspaces_scenarios_are_404(client):
    workspace, _ = await signed_in_client(client, role="marketer")
    cheap, rich = await _servers(workspace)
    await post_form(client, "/analytics/volume-planner/scenarios", _form(cheap, rich))
    mine = await VolumeScenario.select().where(VolumeScenario.workspace_id == workspace["id"]).first()
    refused = await post_form(client, f"/analytics/volume-planner/scenarios/{mine['id']}/apply")
    assert refused.status_code == 403
    assert (await DeliveryServer.select().where(DeliveryServer.id == cheap["id"]).first())["weight"] == 100

    other = await make_workspace()
    theirs = await VolumeScenario.insert(VolumeScenario(
        workspace_id=other["id"], name="Theirs", target=1, days=1, start_on=date(2026, 12, 6),
        cost=Decimal(0), revenue=Decimal(0), created_at=datetime.now(UTC))).returning(VolumeScenario.id)
    their_id = theirs[0]["id"]
    assert (await client.get(f"/analytics/volume-planner/scenarios/{their_id}")).status_code == 404
    assert (await client.get(f"/analytics/volume-planner/scenarios/{their_id}/plan.csv")).status_code == 404
    assert (await client.get(f"/analytics/volume-planner/compare?ids={mine['id']}&ids={their_id}")).status_code == 404
    assert (await post_form(client, f"/analytics/volume-planner/scenarios/{their_id}/delete")).status_code == 404
    assert await VolumeScenario.count().where(VolumeScenario.id == their_id) == 1


async def test_scenarios_are_compared_side_by_side(client):
    workspace, _ = await signed_in_client(client, role="marketer")
    cheap, rich = await _servers(workspace)
    await post_form(client, "/analytics/volume-planner/scenarios", _form(cheap, rich))
    await post_form(client, "/analytics/volume-planner/scenarios",
                    {**_form(cheap, rich), "name": "Too much", "target": "500000"})
    rows = await VolumeScenario.select().where(VolumeScenario.workspace_id == workspace["id"]).order_by(
        VolumeScenario.id)
    page = await client.get("/analytics/volume-planner/compare", params=[("ids", rows[0]["id"]),
                                                                         ("ids", rows[1]["id"])])
    assert page.status_code == 200
    assert f'data-testid="compare-days-{rows[0]["id"]}">1<' in page.text
    assert f'data-testid="compare-days-{rows[1]["id"]}">not within 10 days<' in page.text
    assert "the servers&#39; quotas and warm-up caps allow 130,000 a day" in page.text


async def test_an_empty_workspace_says_to_add_servers_first(client):
    await signed_in_client(client, role="analyst")
    page = await client.get("/analytics/volume-planner")
    assert page.status_code == 200 and 'data-testid="empty-state"' in page.text
    assert 'data-testid="planner-form"' not in page.text
