"""Campaigns through the API: drafts checked as the wizard checks them, then started, paused, resumed, cancelled,
scheduled and unscheduled under the same review, state and kill-switch rules; held to the workspace and scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.db.audit import AuditEntry
from app.db.campaigns import Campaign
from app.redis_client import get_redis
from app.services import kill_switch
from app.services.audit import Actor
from tests.api_client import api_key, bearer
from tests.factories import make_list, make_workspace
from tests.integration.campaigns_ui.helpers import ready_workspace

SCOPE = ("campaigns:manage",)


async def _draft(client, headers: dict, ready, **values) -> dict:
    answer = await client.post("/api/v1/campaigns", headers=headers, json={
        "name": "Spring", "from_name": "Shop", "from_email": f"offers@{ready.domain}", "subject": "Hello",
        "template_id": ready.template_id, "list_ids": [ready.list_id], **values})
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_a_draft_is_changed_started_paused_resumed_and_cancelled(client):
    workspace = await make_workspace()
    ready = await ready_workspace(workspace, subscribers=3)
    headers = bearer(await api_key(workspace, scopes=SCOPE))
    draft = await _draft(client, headers, ready, tags=["spring", "sale"], utm_source="ignite")
    assert (draft["status"], draft["tags"], draft["utm"]) == ("draft", ["spring", "sale"], {"utm_source": "ignite"})
    base = f"/api/v1/campaigns/{draft['id']}"

    changed = await client.patch(base, headers=headers, json={"subject": "Spring is here", "window_start": "08:00",
                                                              "window_end": "20:00"})
    assert changed.status_code == 200
    assert (changed.json()["subject"], changed.json()["window_start"], changed.json()["from_name"]) == (
        "Spring is here", "08:00", "Shop")
    cleared = await client.patch(base, headers=headers, json={"window_start": None, "window_end": None})
    assert (cleared.json()["window_start"], cleared.json()["window_end"]) == (None, None)

    started = await client.post(f"{base}/start", headers=headers)
    assert started.status_code == 200, started.text
    # No send worker runs here: the batches wait in the queue, so the campaign is still sending.
    assert started.json()["status"] == "sending"
    assert (await client.post(f"{base}/pause", headers=headers)).json()["status"] == "paused"
    assert (await client.post(f"{base}/resume", headers=headers)).json()["status"] == "sending"
    cancelled = await client.post(f"{base}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    again = await client.post(f"{base}/pause", headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_state"
    edit = await client.patch(base, headers=headers, json={"subject": "Too late"})
    assert edit.status_code == 409 and edit.json()["error"]["code"] == "invalid_state"
    assert (await client.post(f"{base}/start", headers=headers)).status_code == 409
    actions = [row["action"] for row in await AuditEntry.select(AuditEntry.action, AuditEntry.actor).where(
        AuditEntry.target_id == str(draft["id"])).order_by(AuditEntry.id)]
    assert actions[:4] == ["campaign.created", "campaign.updated", "campaign.updated", "campaign.started"]
    assert actions[-1] == "campaign.cancelled"
    assert (await AuditEntry.select(AuditEntry.actor).first())["actor"].startswith("API key #")


async def test_a_draft_the_wizard_would_refuse_is_refused_and_nothing_is_created(client):
    workspace = await make_workspace()
    ready = await ready_workspace(workspace)
    other_list = await make_list(await make_workspace(), "Theirs")
    headers = bearer(await api_key(workspace, scopes=SCOPE))
    unverified = await client.post("/api/v1/campaigns", headers=headers, json={
        "name": "", "from_email": "me@elsewhere.example"})
    assert unverified.status_code == 422
    assert set(unverified.json()["error"]["fields"]) == {"name", "from_email"}
    foreign = await client.post("/api/v1/campaigns", headers=headers, json={
        "name": "Sneaky", "list_ids": [other_list["id"]]})
    assert foreign.status_code == 404
    wild = await client.post("/api/v1/campaigns", headers=headers, json={"name": "Wild", "list_ids": [2**40]})
    assert wild.status_code == 400
    assert await Campaign.count() == 0

    no_template = await _draft(client, headers, ready, template_id=None)
    refused = await client.post(f"/api/v1/campaigns/{no_template['id']}/start", headers=headers)
    assert refused.status_code == 422 and "template_id" in refused.json()["error"]["fields"]
    assert (await client.get(f"/api/v1/campaigns/{no_template['id']}", headers=headers)).json()["status"] == "draft"


async def test_a_draft_is_scheduled_only_for_a_time_ahead_and_can_go_back_to_draft(client):
    workspace = await make_workspace()
    ready = await ready_workspace(workspace)
    headers = bearer(await api_key(workspace, scopes=SCOPE))
    draft = await _draft(client, headers, ready)
    base = f"/api/v1/campaigns/{draft['id']}"

    past = await client.post(f"{base}/schedule", headers=headers, json={
        "scheduled_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()})
    assert past.status_code == 422 and "scheduled_at" in past.json()["error"]["fields"]
    assert (await client.get(base, headers=headers)).json()["status"] == "draft"

    ahead = datetime.now(UTC) + timedelta(days=2)
    scheduled = await client.post(f"{base}/schedule", headers=headers, json={
        "scheduled_at": ahead.replace(tzinfo=None).isoformat(timespec="seconds"), "timezone": "Europe/Paris"})
    assert scheduled.status_code == 200, scheduled.text
    body = scheduled.json()
    assert (body["status"], body["send_mode"], body["timezone"]) == ("scheduled", "at", "Europe/Paris")
    assert (await client.patch(base, headers=headers, json={"subject": "x"})).status_code == 409

    unscheduled = await client.post(f"{base}/unschedule", headers=headers)
    assert unscheduled.status_code == 200 and unscheduled.json()["status"] == "draft"
    assert (await client.post(f"{base}/unschedule", headers=headers)).status_code == 409
    started = await client.post(f"{base}/start", headers=headers)
    assert started.json()["status"] in ("sending", "sent") and started.json()["scheduled_at"] is None


async def test_a_stopped_workspace_starts_nothing(client):
    workspace = await make_workspace()
    ready = await ready_workspace(workspace)
    headers = bearer(await api_key(workspace, scopes=SCOPE))
    draft = await _draft(client, headers, ready)
    await kill_switch.stop_workspace(get_redis(), workspace["id"], Actor(user_id=None, email="ops@example.com"),
                                     "Complaint spike")
    refused = await client.post(f"/api/v1/campaigns/{draft['id']}/start", headers=headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "sending_stopped"
    assert "Complaint spike" in refused.json()["error"]["message"]
    assert (await client.get(f"/api/v1/campaigns/{draft['id']}", headers=headers)).json()["status"] == "draft"


async def test_campaigns_are_listed_newest_first_and_held_to_the_workspace_and_scope(client):
    workspace = await make_workspace()
    ready = await ready_workspace(workspace)
    headers = bearer(await api_key(workspace, scopes=SCOPE))
    ids = [(await _draft(client, headers, ready, name=name))["id"] for name in ("One", "Two", "Three")]
    first = (await client.get("/api/v1/campaigns?limit=2", headers=headers)).json()
    rest = (await client.get(f"/api/v1/campaigns?limit=2&cursor={first['next_cursor']}", headers=headers)).json()
    assert [row["id"] for row in first["data"] + rest["data"]] == ids[::-1] and rest["next_cursor"] is None

    stranger = bearer(await api_key(await make_workspace(), scopes=SCOPE))
    for method, path in [("GET", ""), ("PATCH", ""), ("POST", "/start"), ("POST", "/pause"), ("POST", "/cancel"),
                         ("POST", "/unschedule"), ("GET", "/statistics")]:
        answer = await client.request(method, f"/api/v1/campaigns/{ids[0]}{path}", headers=stranger,
                                      json={} if method == "PATCH" else None)
        assert answer.status_code == 404, (method, path)
    assert (await client.get("/api/v1/campaigns", headers=stranger)).json()["data"] == []
    stats_only = bearer(await api_key(workspace, scopes=("stats:read",)))
    refused = await client.post(f"/api/v1/campaigns/{ids[0]}/start", headers=stats_only)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
    assert (await client.get(f"/api/v1/campaigns/{ids[0]}", headers=headers)).json()["status"] == "draft"
