"""Delivery servers (read-only, never a credential) and statistics per campaign, per server and per day through
the API, read from the counters and hourly rollups the engine keeps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from app.db.campaigns import Campaign
from app.services import campaigns
from app.services.delivery_servers import create_server
from app.services.sqlparams import fetch_positional
from tests.api_client import api_key, bearer
from tests.factories import make_list, make_workspace

TODAY = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


async def _smtp(workspace_id: int, name: str) -> dict:
    return await create_server(workspace_id, "smtp", {
        "name": name, "setting_host": "smtp.example.com", "setting_port": "587", "setting_security": "starttls",
        "setting_username": "mailer", "setting_password": "s3cret-Passw0rd", "weight": "100",
        "cost_per_thousand": "0.25"})


async def _feedback(workspace_id: int, hour: datetime, server_id: int, campaign_id: int, sent: int, hard: int = 0,
                    soft: int = 0, block: int = 0, complaint: int = 0) -> None:
    await fetch_positional(
        "INSERT INTO feedback_counts (workspace_id, hour, server_id, domain_group, campaign_id, sent, hard, soft, "
        "block, complaint) VALUES ($1, $2, $3, 'Gmail', $4, $5, $6, $7, $8, $9)",
        [workspace_id, hour, server_id, campaign_id, sent, hard, soft, block, complaint])


async def test_servers_are_listed_without_any_credential(client):
    workspace = await make_workspace()
    server = await _smtp(workspace["id"], "Primary")
    await _smtp((await make_workspace())["id"], "Someone else's")
    headers = bearer(await api_key(workspace, scopes=("stats:read",)))
    listed = await client.get("/api/v1/servers", headers=headers)
    assert listed.status_code == 200
    assert [(row["id"], row["name"], row["kind"], row["cost_per_thousand"]) for row in listed.json()["data"]] == [
        (server["id"], "Primary", "smtp", "0.2500")]
    one = await client.get(f"/api/v1/servers/{server['id']}", headers=headers)
    assert one.status_code == 200 and one.json()["status"] == "active"
    for answer in (listed, one):
        assert "s3cret" not in answer.text and "mailer" not in answer.text
        assert "secrets" not in answer.text and "settings" not in answer.text
    assert (await client.get(f"/api/v1/servers/{server['id'] + 1}", headers=headers)).status_code == 404
    refused = await client.get("/api/v1/servers", headers=bearer(await api_key(workspace, scopes=("lists:manage",))))
    assert refused.status_code == 403


async def test_a_campaigns_statistics_come_from_its_counters(client):
    workspace = await make_workspace()
    draft = await campaigns.create_draft(workspace["id"], {"name": "Black Friday"})
    await Campaign.update({Campaign.status: "sent", Campaign.recipient_count: 10, Campaign.sent_count: 8,
                           Campaign.failed_count: 1, Campaign.skipped_count: 1,
                           Campaign.breakdown: {"servers": {"7": {"sent": 8, "failed": 1}}, "groups": {}}}).where(
        Campaign.id == draft["id"])
    await fetch_positional(
        "INSERT INTO campaign_engagement (campaign_id, workspace_id, opens, unique_opens, clicks, unique_clicks, "
        "unsubscribes, conversions, revenue) VALUES ($1, $2, 9, 5, 4, 3, 1, 2, 37.5)", [draft["id"], workspace["id"]])
    await _feedback(workspace["id"], TODAY, 7, draft["id"], sent=8, hard=1, soft=1, complaint=1)
    expected = {"campaign_id": draft["id"], "status": "sent", "recipients": 10, "sent": 8, "failed": 1,
                "skipped": 1, "waiting": 0, "delivered": 6, "bounces": 2, "hard_bounces": 1, "soft_bounces": 1,
                "blocks": 0, "complaints": 1, "opens": 9, "unique_opens": 5, "clicks": 4, "unique_clicks": 3,
                "unsubscribes": 1, "conversions": 2, "revenue": "37.5000",
                "by_server": {"7": {"sent": 8, "failed": 1}}}

    stats = await client.get(f"/api/v1/statistics/campaigns/{draft['id']}",
                             headers=bearer(await api_key(workspace, scopes=("stats:read",))))
    assert stats.status_code == 200
    assert {name: stats.json()[name] for name in expected} == expected
    same = await client.get(f"/api/v1/campaigns/{draft['id']}/statistics",
                            headers=bearer(await api_key(workspace, scopes=("campaigns:manage",))))
    assert same.json() == stats.json()
    stranger = bearer(await api_key(await make_workspace(), scopes=("stats:read",)))
    assert (await client.get(f"/api/v1/statistics/campaigns/{draft['id']}", headers=stranger)).status_code == 404


async def test_statistics_per_server_and_per_day_sum_the_hourly_rollups(client):
    workspace = await make_workspace()
    server = await _smtp(workspace["id"], "Primary")
    yesterday = TODAY - timedelta(days=1)
    await _feedback(workspace["id"], yesterday, server["id"], 0, sent=100, hard=2, block=1)
    await _feedback(workspace["id"], TODAY, server["id"], 0, sent=50, complaint=1)
    await _feedback(workspace["id"], TODAY, 0, 0, sent=0, soft=3)
    await _feedback(workspace["id"], TODAY - timedelta(days=40), server["id"], 0, sent=999)
    other = await make_workspace()
    await _feedback(other["id"], TODAY, 0, 0, sent=777)
    mailing_list = await make_list(workspace, "Main")
    await fetch_positional("INSERT INTO list_daily_stats (workspace_id, list_id, day, joined, left_list) "
                           "VALUES ($1, $2, $3, 12, 4)", [workspace["id"], mailing_list["id"], yesterday.date()])
    headers = bearer(await api_key(workspace, scopes=("stats:read",)))

    servers = (await client.get("/api/v1/statistics/servers", headers=headers)).json()
    assert servers["range"] == {"since": (TODAY.date() - timedelta(days=29)).isoformat(),
                                "until": TODAY.date().isoformat()}
    assert [(row["server_id"], row["name"], row["sent"], row["hard"], row["soft"], row["block"], row["complaint"])
            for row in servers["data"]] == [(0, "", 0, 0, 3, 0, 0), (server["id"], "Primary", 150, 2, 0, 1, 1)]

    since = (TODAY.date() - timedelta(days=2)).isoformat()
    days = (await client.get(f"/api/v1/statistics/days?since={since}", headers=headers)).json()["data"]
    assert [(row["day"], row["sent"], row["hard"], row["soft"], row["complaint"], row["joined_lists"],
             row["left_lists"]) for row in days] == [
        (since, 0, 0, 0, 0, 0, 0), (yesterday.date().isoformat(), 100, 2, 0, 0, 12, 4),
        (TODAY.date().isoformat(), 50, 0, 3, 1, 0, 0)]


async def test_a_range_backwards_or_longer_than_the_rollups_are_kept_is_refused(client):
    headers = bearer(await api_key(await make_workspace(), scopes=("stats:read",)))
    today = date.today()
    backwards = await client.get(f"/api/v1/statistics/days?since={today}&until={today - timedelta(days=1)}",
                                 headers=headers)
    assert backwards.status_code == 400 and backwards.json()["error"]["code"] == "invalid_range"
    too_long = await client.get(f"/api/v1/statistics/servers?since={today - timedelta(days=400)}", headers=headers)
    assert too_long.status_code == 400
    assert (await client.get("/api/v1/statistics/days?since=yesterday", headers=headers)).status_code == 400
