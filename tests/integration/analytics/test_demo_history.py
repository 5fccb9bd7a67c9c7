"""`ignite demo history` on a workspace set up the way `ignite demo traffic` leaves it: ninety days of past
campaigns, deliveries and events before today, rollups holding the past days, a churn model that learns from
them and an at-risk list; a second run adds nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.cli import build_parser, cmd_demo_history
from app.services import demo_history, demo_traffic
from app.services.analytics.intelligence import at_risk
from app.services.analytics.intelligence.churn import HORIZON_DAYS
from app.services.demo import add_campaign_basics
from app.services.sqlparams import fetch_positional
from tests.factories import make_workspace, signed_in_client

NOW = datetime.now(UTC).replace(microsecond=0)
MIDNIGHT = datetime.combine(NOW.date(), datetime.min.time(), UTC)
AUDIENCE = 2000


async def _one(sql: str, *args: object) -> dict:
    return (await fetch_positional(sql, args))[0]


async def _written(workspace_id: int) -> dict:
    """How many rows of each kind the workspace has, and the newest moment among them."""
    return await _one(
        "SELECT (SELECT count(*) FROM campaigns WHERE workspace_id = $1) AS campaigns, "
        "(SELECT count(*) FROM deliveries WHERE workspace_id = $1) AS deliveries, "
        "(SELECT count(*) FROM events WHERE workspace_id = $1) AS events, "
        "(SELECT count(*) FROM conversions WHERE workspace_id = $1) AS conversions, "
        "(SELECT count(*) FROM subscriber_status_changes WHERE workspace_id = $1) AS changes, "
        "greatest((SELECT max(occurred_at) FROM events WHERE workspace_id = $1), "
        "(SELECT max(sent_at) FROM deliveries WHERE workspace_id = $1)) AS newest", workspace_id)


async def test_history_gives_past_days_figures_and_a_churn_model_that_learns_and_a_rerun_adds_nothing(client):
    workspace, user = await signed_in_client(client)
    await add_campaign_basics(workspace["id"], user["id"])
    setup = await demo_traffic.prepare(workspace["id"], AUDIENCE)
    said: list[str] = []

    model = await demo_history.run(workspace["id"], said.append, NOW)

    assert model is not None and model["auc"] > 0.6, model
    # All but the few whose address bounced before the horizon.
    assert AUDIENCE * 0.97 < model["trained_on"] + model["held_out"] < AUDIENCE
    campaigns = await fetch_positional(
        "SELECT status, started_at, sent_count FROM campaigns WHERE workspace_id = $1 AND name LIKE 'History: %'",
        (workspace["id"],))
    assert len(campaigns) >= 24 and {row["status"] for row in campaigns} == {"sent"}
    assert min(row["started_at"] for row in campaigns) < NOW - timedelta(days=85)
    assert max(row["started_at"] for row in campaigns) < MIDNIGHT
    written = await _written(workspace["id"])
    assert written["newest"] < MIDNIGHT, "history reached into today, whose rollups belong to the live writers"
    assert written["deliveries"] == sum(row["sent_count"] for row in campaigns) > 20 * AUDIENCE / 2
    servers = await fetch_positional(
        "SELECT server_id, count(*) AS n FROM deliveries WHERE workspace_id = $1 GROUP BY server_id "
        "ORDER BY n DESC", (workspace["id"],))
    assert [setup.servers[row["server_id"]].name for row in servers] == [
        "Demo ESP Atlas", "Demo ESP Budget", "Demo ESP Premier"], "not split by the routing weights"
    kinds = await fetch_positional(
        "SELECT kind, count(*) AS n FROM events WHERE workspace_id = $1 GROUP BY kind", (workspace["id"],))
    assert {row["kind"] for row in kinds} >= {"open", "click", "machine_open", "bot_click", "conversion",
                                              "unsubscribe", "complaint", "bounce"}
    joined = await _one("SELECT max(created_at) AS newest, min(created_at) AS oldest FROM subscribers "
                        "WHERE list_id = $1", setup.list_id)
    assert NOW - timedelta(days=91) < joined["oldest"] < joined["newest"] < NOW - timedelta(days=HORIZON_DAYS)

    # The rollups of the past days hold what the raw tables say, and the trends have days to show.
    rolled = await _one(
        "SELECT sum(sent) AS sent, sum(human_opens) AS opens, sum(human_clicks) AS clicks, "
        "sum(unsubscribes) AS unsubscribes, sum(conversions) AS conversions, sum(revenue) AS revenue, "
        "count(DISTINCT day) AS days FROM performance_days WHERE workspace_id = $1 AND day < $2",
        workspace["id"], MIDNIGHT.date())
    raw = await _one(
        "SELECT (SELECT count(*) FROM events WHERE workspace_id = $1 AND kind = 'open') AS opens, "
        "(SELECT count(*) FROM events WHERE workspace_id = $1 AND kind = 'click') AS clicks, "
        "(SELECT count(*) FROM events WHERE workspace_id = $1 AND kind = 'unsubscribe') AS unsubscribes, "
        "(SELECT sum(revenue) FROM conversions WHERE workspace_id = $1) AS revenue", workspace["id"])
    assert rolled["sent"] == written["deliveries"] and rolled["days"] > 60
    assert (rolled["opens"], rolled["clicks"], rolled["unsubscribes"], rolled["revenue"]) == (
        raw["opens"], raw["clicks"], raw["unsubscribes"], raw["revenue"])
    assert rolled["conversions"] == written["conversions"] > 0
    engaged = await _one(
        "SELECT (SELECT sum(unique_opens) FROM campaign_engagement WHERE workspace_id = $1) AS unique_opens, "
        "(SELECT count(*) FROM delivery_engagement WHERE workspace_id = $1 AND opens > 0) AS opened, "
        "(SELECT count(*) FROM subscribers WHERE list_id = $2 AND last_open_at IS NOT NULL "
        " AND engagement_score > 0) AS scored", workspace["id"], setup.list_id)
    assert engaged["unique_opens"] == engaged["opened"] > 0 and engaged["scored"] > AUDIENCE / 2

    # Churn: every confirmed subscriber scored, some at risk, and those who faded riskier than the rest.
    page = await at_risk.at_risk_page(workspace["id"], at_risk.DEFAULT_MIN_RISK)
    assert page.rows, "nobody at risk"
    risks = await _one(
        "SELECT avg(c.risk) FILTER (WHERE s.last_open_at < $2) AS silent, "
        "avg(c.risk) FILTER (WHERE s.last_open_at >= $2) AS opening FROM churn_scores c "
        "JOIN subscribers s ON s.id = c.subscriber_id WHERE c.workspace_id = $1",
        workspace["id"], NOW - timedelta(days=30))
    assert risks["silent"] > risks["opening"]
    intelligence = await client.get("/analytics/intelligence")
    assert intelligence.status_code == 200 and f"{model['auc']:.2f}" in intelligence.text
    assert f"AUC {model['auc']:.2f}" in "".join(said)

    again: list[str] = []
    assert await demo_history.run(workspace["id"], again.append, NOW + timedelta(minutes=5)) is None
    assert await _written(workspace["id"]) == written
    assert "already recorded" in "".join(again)


async def test_without_the_demo_audience_it_says_to_run_demo_traffic_first():
    workspace = await make_workspace()

    with pytest.raises(demo_traffic.DemoError, match="run `make demo-traffic` first"):
        await demo_history.run(workspace["id"], print, NOW)
    assert (await _written(workspace["id"]))["campaigns"] == 0


def test_the_command_is_ignite_demo_history() -> None:
    args = build_parser().parse_args(["demo", "history", "--workspace", "7"])
    assert (args.func, args.workspace) == (cmd_demo_history, 7)
