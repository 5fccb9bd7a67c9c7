"""Routing and warm-up against the real Redis buckets and breakers."""

from datetime import UTC, datetime

from app.db.delivery import DeliveryServer
from app.redis_client import get_redis
from app.services import routing, warmup_plans
from app.services.delivery_servers import create_server
from app.services.throttling import BreakerPolicy, acquire, record_failure, server_buckets
from tests.factories import make_workspace


async def _servers(workspace, *specs):
    return [await create_server(workspace["id"], "capture", {"name": name, **extra}) for name, extra in specs]


async def test_default_pool_splits_by_weight_and_is_stable_per_address():
    workspace = await make_workspace()
    await _servers(workspace, ("A", {"weight": "100"}), ("B", {"weight": "300"}))
    context = await routing.routing_context(workspace["id"])
    picks = [(await routing.route(get_redis(), workspace["id"], f"u{i}@example.com", context=context)).chosen.name
             for i in range(400)]
    assert 60 < picks.count("A") < 140
    again = await routing.route(get_redis(), workspace["id"], "u7@example.com", context=context)
    assert again.chosen.name == picks[7]


async def test_rule_for_a_domain_group_sends_gmail_to_its_pool():
    workspace = await make_workspace()
    _, b = await _servers(workspace, ("A", {}), ("B", {}))
    groups = await routing.domain_groups(workspace["id"])
    gmail = next(g for g in groups if g["name"] == "Gmail")
    await routing.save_rule(workspace["id"], {"name": "Gmail to B", "domain_group_id": gmail["id"],
                                              f"weight_{b['id']}": "100"})
    route = await routing.route(get_redis(), workspace["id"], "x@gmail.com")
    assert route.chosen.name == "B" and route.group == "Gmail" and "Gmail to B" in route.reason
    other = await routing.route(get_redis(), workspace["id"], "x@example.org")
    assert other.group == "Others" and "default pool" in other.rule


async def test_paused_circuit_open_and_over_quota_servers_are_skipped_with_reasons():
    workspace = await make_workspace()
    paused, broken, full, _ = await _servers(
        workspace, ("Paused", {}), ("Broken", {}), ("Full", {"hourly_quota": "2"}), ("Healthy", {}))
    await DeliveryServer.update({DeliveryServer.status: "paused"}).where(DeliveryServer.id == paused["id"])
    redis = get_redis()
    for _ in range(BreakerPolicy().failure_threshold):
        await record_failure(redis, broken["id"], BreakerPolicy(), "421 try later")
    assert (await acquire(redis, server_buckets(full["id"], per_hour=2), tokens=2)).granted
    route = await routing.route(redis, workspace["id"], "someone@example.com")
    reasons = {c.name: c.skipped for c in route.candidates}
    assert reasons["Paused"].startswith("paused")
    assert reasons["Broken"].startswith("circuit open")
    assert reasons["Full"] == "hour quota used up"
    assert reasons["Healthy"] == "", reasons
    assert route.chosen.name == "Healthy", route.candidates


async def test_warmup_cap_limits_the_day_and_the_scheduler_advances_once_per_local_date():
    workspace = await make_workspace()
    [server] = await _servers(workspace, ("Fresh IP", {}))
    plan = await warmup_plans.create_plan(workspace["id"], {"name": "tiny", "daily_caps": "2, 4, 8"})
    await warmup_plans.assign(workspace["id"], server["id"], plan["id"], day=1, override_cap=None)
    row = await DeliveryServer.select().where(DeliveryServer.id == server["id"]).first()
    assert row["status"] == "warmup" and await warmup_plans.todays_cap(row) == 2
    redis = get_redis()
    assert (await acquire(redis, server_buckets(server["id"], per_day=2), tokens=2)).granted
    route = await routing.route(redis, workspace["id"], "a@example.com")
    assert route.chosen is None and route.candidates[0].skipped == "warm-up cap reached today"

    await warmup_plans.advance_warmups(redis, datetime(2026, 11, 24, 0, 30, tzinfo=UTC))
    await warmup_plans.advance_warmups(redis, datetime(2026, 11, 24, 5, 0, tzinfo=UTC))
    row = await DeliveryServer.select().where(DeliveryServer.id == server["id"]).first()
    assert row["warmup_day"] == 2 and await warmup_plans.todays_cap(row) == 4

    for _ in range(BreakerPolicy().failure_threshold):
        await record_failure(redis, server["id"], BreakerPolicy(), "554 blocked")
    decisions = await warmup_plans.advance_warmups(redis, datetime(2026, 11, 25, 0, 30, tzinfo=UTC))
    row = await DeliveryServer.select().where(DeliveryServer.id == server["id"]).first()
    assert row["warmup_day"] == 2 and row["warmup_held_days"] == 1
    assert "held" in decisions[0].reason


async def test_routing_pages_add_rule_and_preview(client):
    from tests.factories import post_form, signed_in_client

    workspace, _ = await signed_in_client(client)
    first = await create_server(workspace["id"], "capture", {"name": "Main"})
    second = await create_server(workspace["id"], "capture", {"name": "Gmail pool"})
    page = await client.get("/mailing/delivery/routing")
    assert 'data-testid="group-form-Gmail"' in page.text
    gmail = next(g for g in await routing.domain_groups(workspace["id"]) if g["name"] == "Gmail")
    bad = await post_form(client, "/mailing/delivery/routing/rules", {"name": "Empty pool"})
    assert bad.status_code == 400 and 'data-testid="error-pool"' in bad.text
    added = await post_form(client, "/mailing/delivery/routing/rules", {
        "name": "Gmail", "domain_group_id": gmail["id"], f"weight_{second['id']}": "100"})
    assert added.status_code == 303
    preview = await client.get("/mailing/delivery/routing/preview",
                               params={"addresses": "a@gmail.com, b@example.org"})
    rows = preview.text.split('data-testid="route-row"')[1:]
    assert "Gmail pool" in rows[0] and "rule “Gmail”" in rows[0]
    assert "default pool" in rows[1]
    assert first["id"] != second["id"]


async def test_live_status_partial_and_warmup_assignment(client):
    from tests.factories import post_form, signed_in_client

    workspace, _ = await signed_in_client(client)
    server = await create_server(workspace["id"], "capture", {"name": "Fresh", "hourly_quota": "100"})
    plans = await warmup_plans.plans(workspace["id"])
    standard = next(p for p in plans if p["name"] == "standard")
    response = await post_form(client, f"/mailing/delivery/servers/{server['id']}/warmup",
                               {"plan_id": standard["id"], "day": "3", "override_cap": ""})
    assert response.status_code == 303
    live = await client.get("/mailing/delivery/live")
    assert 'data-testid="live-Fresh"' in live.text and "day 3, cap 500" in live.text and "100" in live.text
