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
    assert bad.status_code == 422 and 'data-testid="error-pool"' in bad.text
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


async def test_preview_flags_a_blacklisted_address_and_its_rule(client):
    from app.services.suppression import add_pasted, blacklist
    from tests.factories import signed_in_client

    workspace, _ = await signed_in_client(client)
    await create_server(workspace["id"], "capture", {"name": "Main"})
    await add_pasted(workspace["id"], (await blacklist(workspace["id"]))["id"], "banned@example.com")
    preview = await client.get("/mailing/delivery/routing/preview",
                               params={"addresses": "banned@example.com ok@example.com"})
    banned, fine = preview.text.split('data-testid="route-row"')[1:]
    assert 'data-testid="route-not-mailable"' in banned and "not mailable" in banned and "blacklist" in banned
    assert 'data-testid="route-not-mailable"' not in fine and "Main" in fine


async def test_preview_refuses_lists_and_segments_of_another_workspace(client):
    from app.services.segments import save_segment
    from tests.factories import make_list, signed_in_client

    other = await make_workspace("Other")
    foreign_list = await make_list(other, "Theirs")
    foreign_segment = await save_segment(other["id"], {"name": "Theirs", "list_ids": [foreign_list["id"]],
                                                       "conditions": {"match": "all", "rules": []}})
    await signed_in_client(client)
    url = "/mailing/delivery/routing/preview"
    as_their_list = {"addresses": "a@example.com", "list_id": foreign_list["id"]}
    assert (await client.get(url, params=as_their_list)).status_code == 404
    assert (await client.get(url, params={"segment_id": foreign_segment["id"]})).status_code == 404
    malformed = await client.get(url, params={"addresses": "a@example.com", "segment_id": "abc"})
    assert malformed.status_code == 422 and 'data-testid="error-segment_id"' in malformed.text
    assert "a@example.com" in malformed.text


async def test_rule_references_must_belong_to_the_workspace(client):
    from app.db.delivery import RoutingRule
    from tests.factories import make_list, post_form, signed_in_client

    other = await make_workspace("Other")
    foreign_group = (await routing.domain_groups(other["id"]))[0]
    foreign_list = await make_list(other, "Theirs")
    workspace, _ = await signed_in_client(client)
    server = await create_server(workspace["id"], "capture", {"name": "Main"})
    rule = {"name": "R", f"weight_{server['id']}": "100"}
    url = "/mailing/delivery/routing/rules"
    for reference in ({"domain_group_id": foreign_group["id"]}, {"list_id": foreign_list["id"]},
                      {"domain_group_id": "2147483647"}, {"list_id": "99999999999999999999"}):
        response = await post_form(client, url, {**rule, **reference})
        assert response.status_code == 404, reference
        assert "Theirs" not in response.text and "violates" not in response.text
    malformed = await post_form(client, url, {**rule, "domain_group_id": "abc", "list_id": "x1"})
    assert malformed.status_code == 422
    assert 'data-testid="error-domain_group_id"' in malformed.text and 'data-testid="error-list_id"' in malformed.text
    assert await RoutingRule.count() == 0


async def test_group_limits_and_foreign_groups(client):
    from app.db.delivery import DomainGroup
    from tests.factories import post_form, signed_in_client

    other = await make_workspace("Other")
    foreign_group = (await routing.domain_groups(other["id"]))[0]
    workspace, _ = await signed_in_client(client)
    own = (await routing.domain_groups(workspace["id"]))[0]
    gone = await post_form(client, f"/mailing/delivery/routing/groups/{foreign_group['id']}",
                           {"domains": "evil.example", "hourly_limit": "1"})
    assert gone.status_code == 404
    huge = await post_form(client, f"/mailing/delivery/routing/groups/{own['id']}",
                           {"group_id": own["id"], "domains": "gmail.com", "hourly_limit": "99999999999"})
    assert huge.status_code == 422 and 'data-testid="error-hourly_limit"' in huge.text
    assert 'value="99999999999"' in huge.text
    rows = {row["id"]: row for row in await DomainGroup.select()}
    assert rows[foreign_group["id"]]["domains"] == foreign_group["domains"]
    assert rows[own["id"]]["hourly_limit"] == own["hourly_limit"]


async def test_warmup_assignment_checks_plan_and_server_and_its_numbers(client):
    from tests.factories import post_form, signed_in_client

    other = await make_workspace("Other")
    foreign_plan = (await warmup_plans.plans(other["id"]))[0]
    foreign_server = await create_server(other["id"], "capture", {"name": "Theirs"})
    workspace, _ = await signed_in_client(client)
    server = await create_server(workspace["id"], "capture", {"name": "Mine"})
    own_plan = (await warmup_plans.plans(workspace["id"]))[0]
    url = f"/mailing/delivery/servers/{server['id']}/warmup"
    assert (await post_form(client, url, {"plan_id": foreign_plan["id"], "day": "1"})).status_code == 404
    assert (await post_form(client, f"/mailing/delivery/servers/{foreign_server['id']}/warmup",
                            {"plan_id": own_plan["id"], "day": "1"})).status_code == 404
    bad = await post_form(client, url, {"server": server["id"], "plan_id": own_plan["id"], "day": "abc",
                                        "override_cap": "99999999999"})
    assert bad.status_code == 422
    assert 'data-testid="error-day"' in bad.text and 'data-testid="error-override_cap"' in bad.text
    assert 'value="abc"' in bad.text
    rows = {row["id"]: row for row in await DeliveryServer.select()}
    assert rows[server["id"]]["warmup_plan_id"] is None and rows[foreign_server["id"]]["warmup_plan_id"] is None


async def test_bad_warmup_caps_are_refused_next_to_the_field(client):
    from app.db.delivery import WarmupPlan
    from tests.factories import post_form, signed_in_client

    await signed_in_client(client)
    for caps in ("50, -3, x", "0", "99999999999", ""):
        response = await post_form(client, "/mailing/delivery/warmup", {"name": "Mine", "daily_caps": caps})
        assert response.status_code == 422 and 'data-testid="error-daily_caps"' in response.text, caps
    assert await WarmupPlan.count().where(WarmupPlan.name == "Mine") == 0
