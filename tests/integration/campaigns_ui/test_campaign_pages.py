"""The campaign pages over HTTP: the wizard saved step by step, refused input, launching, the detail page and its
send log, the list's keyset pages; another workspace's campaign is a 404 and an analyst cannot send."""

from __future__ import annotations

from app.db.audit import AuditEntry
from app.db.campaigns import Campaign
from app.services import campaigns, kill_switch
from app.services.campaigns import variants
from tests.factories import login, make_user, make_workspace, post_form, signed_in_client
from tests.integration.campaigns.helpers import PERSON, LocalQueue
from tests.integration.campaigns_ui.helpers import ready_workspace


async def _draft(workspace: dict, **values) -> dict:
    ready = await ready_workspace(workspace)
    return await campaigns.create_draft(workspace["id"], {
        "name": "Spring", "from_email": f"offers@{ready.domain}", "template_id": str(ready.template_id),
        "list_ids": [str(ready.list_id)], **values})


async def test_the_wizard_saves_each_step_and_launches_from_the_review(client):
    workspace, _ = await signed_in_client(client)
    ready = await ready_workspace(workspace, subscribers=4)

    created = await post_form(client, "/mailing/campaigns/", {
        "name": "Spring sale", "from_name": "Shop", "from_email": f"offers@{ready.domain}", "subject": "Hi",
        "go": "next"})
    assert created.status_code == 303
    [campaign] = await Campaign.select().where(Campaign.workspace_id == workspace["id"])
    assert created.headers["location"] == f"/mailing/campaigns/{campaign['id']}/audience"
    base = f"/mailing/campaigns/{campaign['id']}"
    assert "Customers" in (await client.get(f"{base}/audience")).text

    audience = await post_form(client, f"{base}/audience", {"list_ids": str(ready.list_id), "go": "next"})
    assert audience.headers["location"] == f"{base}/content"
    content = await post_form(client, f"{base}/content", {"template_id": str(ready.template_id), "go": "next"})
    assert content.headers["location"] == f"{base}/delivery"
    back = await post_form(client, f"{base}/delivery", {"send_mode": "now", "timezone": "Europe/Paris",
                                                        "go": "back"})
    assert back.headers["location"] == f"{base}/content"
    await post_form(client, f"{base}/delivery", {"send_mode": "now", "timezone": "Europe/Paris", "go": "next"})
    saved = await campaigns.get_campaign(workspace["id"], campaign["id"])
    assert (saved["list_ids"], saved["template_id"], saved["timezone"]) == ([ready.list_id], ready.template_id,
                                                                            "Europe/Paris")

    review = await client.get(f"{base}/review")
    assert review.status_code == 200
    assert 'data-testid="campaign-launch"' in review.text and ">4</span>" in review.text

    launched = await post_form(client, f"{base}/launch")
    assert launched.status_code == 303 and launched.headers["location"] == base
    assert (await campaigns.get_campaign(workspace["id"], campaign["id"]))["status"] in ("sending", "sent")
    detail = await client.get(base)
    assert detail.status_code == 200 and "Spring sale" in detail.text
    assert (await client.get(f"{base}/setup")).headers["location"] == base
    actions = [row["action"] for row in await AuditEntry.select(AuditEntry.action).where(
        AuditEntry.target_id == str(campaign["id"])).order_by(AuditEntry.id)]
    assert actions == ["campaign.created", *["campaign.updated"] * 4, "campaign.started"]


async def test_refused_setup_shows_each_message_beside_its_field_and_saves_nothing(client):
    workspace, _ = await signed_in_client(client)
    await ready_workspace(workspace)

    answer = await post_form(client, "/mailing/campaigns/", {"name": "", "from_email": "me@elsewhere.example",
                                                             "subject": "Kept"})
    assert answer.status_code == 422
    assert 'data-testid="error-name"' in answer.text and 'data-testid="error-from_email"' in answer.text
    assert 'value="Kept"' in answer.text
    assert await Campaign.count().where(Campaign.workspace_id == workspace["id"]) == 0


async def test_a_refused_launch_names_the_problem_and_the_step_to_fix_it(client):
    workspace, _ = await signed_in_client(client)
    draft = await _draft(workspace, list_ids=[])

    review = await client.get(f"/mailing/campaigns/{draft['id']}/review")
    assert f'href="/mailing/campaigns/{draft["id"]}/audience" data-testid="check-fix-audience"' in review.text
    answer = await post_form(client, f"/mailing/campaigns/{draft['id']}/launch")
    assert answer.status_code == 422
    assert 'data-testid="launch-refused"' in answer.text and 'data-testid="fix-list_ids"' in answer.text
    assert (await campaigns.get_campaign(workspace["id"], draft["id"]))["status"] == "draft"


async def test_the_live_count_follows_the_choices_on_screen(client):
    workspace, _ = await signed_in_client(client)
    draft = await _draft(workspace)
    url = f"/mailing/campaigns/{draft['id']}/recipients"

    counted = await post_form(client, url, {"list_ids": str(draft["list_ids"][0])}, headers={"hx-request": "true"})
    assert 'data-testid="recipient-count">3<' in counted.text
    nobody = await post_form(client, url, {}, headers={"hx-request": "true"})
    assert 'data-testid="recipient-count">0<' in nobody.text
    refused = await post_form(client, url, {"list_ids": "abc"}, headers={"hx-request": "true"})
    assert refused.status_code == 422 and 'data-testid="count-error-list_ids"' in refused.text


async def test_the_list_is_newest_first_in_keyset_pages(client):
    workspace, _ = await signed_in_client(client)
    for n in range(51):
        await campaigns.create_draft(workspace["id"], {"name": f"Campaign {n:02d}"})

    first = await client.get("/mailing/campaigns/")
    assert first.text.index("Campaign 50") < first.text.index("Campaign 49")
    assert "Campaign 00" not in first.text and 'data-testid="campaigns-older"' in first.text
    oldest = await Campaign.select(Campaign.id).where(Campaign.name == "Campaign 01").first()
    older = await client.get("/mailing/campaigns/", params={"before": oldest["id"]})
    assert "Campaign 00" in older.text and "Campaign 02" not in older.text


async def test_an_empty_list_says_what_to_do(client):
    await signed_in_client(client)
    page = await client.get("/mailing/campaigns/")
    assert 'data-testid="empty-state"' in page.text and "Create your first campaign" in page.text


async def test_the_send_log_finds_an_address_and_pages_older_rows(client, redis, adapters):
    workspace, _ = await signed_in_client(client)
    draft = await _draft(workspace)
    queue = LocalQueue()
    await campaigns.launch(redis, queue, workspace["id"], draft["id"], PERSON)
    await queue.drain(redis, adapters)
    base = f"/mailing/campaigns/{draft['id']}"

    found = await client.get(f"{base}/log", params={"email": "READER2@example.com"}, headers={"hx-request": "true"})
    assert found.text.count('data-testid="log-row"') == 1 and "reader2@example.com" in found.text
    missing = await client.get(f"{base}/log", params={"email": "nobody@example.com"}, headers={"hx-request": "true"})
    assert 'data-testid="log-empty"' in missing.text
    detail = await client.get(base)
    assert detail.text.count('data-testid="log-row"') == 3 and 'data-testid="campaign-percent">100%' in detail.text


async def test_another_workspaces_campaign_is_not_found(client):
    other = await make_workspace()
    theirs = await _draft(other)
    await signed_in_client(client)
    base = f"/mailing/campaigns/{theirs['id']}"
    for path in ("", "/setup", "/review", "/log", "/events"):
        assert (await client.get(base + path)).status_code == 404, path
    for path in ("/setup", "/recipients", "/ab-test", "/launch", "/pause", "/resume", "/cancel", "/duplicate",
                 "/unschedule"):
        assert (await post_form(client, base + path, {"name": "Mine"})).status_code == 404, path
    assert (await campaigns.get_campaign(other["id"], theirs["id"]))["name"] == "Spring"
    assert await Campaign.count() == 1


async def test_an_analyst_sees_campaigns_but_cannot_launch_or_change_them(client):
    workspace = await make_workspace()
    draft = await _draft(workspace)
    analyst = await make_user(workspace, "analyst")
    await login(client, analyst["email"])
    base = f"/mailing/campaigns/{draft['id']}"

    assert (await client.get(base)).status_code == 200
    review = await client.get(f"{base}/review")
    assert 'data-testid="launch-not-allowed"' in review.text and 'data-testid="campaign-launch"' not in review.text
    for path in ("/launch", "/setup", "/duplicate", "/cancel"):
        assert (await post_form(client, base + path, {"name": "Changed"})).status_code == 403, path
    after = await campaigns.get_campaign(workspace["id"], draft["id"])
    assert (after["status"], after["name"]) == ("draft", "Spring")


async def test_the_content_step_saves_an_ab_test_of_subjects(client):
    workspace, _ = await signed_in_client(client)
    draft = await _draft(workspace)
    base = f"/mailing/campaigns/{draft['id']}"

    fields = await post_form(client, f"{base}/ab-test", {"ab_dimension": "subject"}, headers={"hx-request": "true"})
    assert 'name="variant_5_subject"' in fields.text and 'name="variant_1_from_name"' not in fields.text
    saved = await post_form(client, f"{base}/content", {
        "template_id": str(draft["template_id"]), "ab_dimension": "subject", "ab_test_percent": "40",
        "ab_metric": "clicks", "ab_wait_minutes": "60", "variant_1_subject": "Hello", "variant_2_subject": "Hi there",
        "go": "next"})
    assert saved.status_code == 303
    assert [row["subject"] for row in await variants.variants_of(workspace["id"], draft["id"])] == ["Hello",
                                                                                                  "Hi there"]
    refused = await post_form(client, f"{base}/content", {
        "template_id": str(draft["template_id"]), "ab_dimension": "subject", "variant_1_subject": "Only one"})
    assert refused.status_code == 422 and 'data-testid="error-variant_2_subject"' in refused.text
    assert len(await variants.variants_of(workspace["id"], draft["id"])) == 2


async def test_the_event_stream_of_an_ended_campaign_sends_its_head_figures_and_done(client, redis, adapters):
    workspace, _ = await signed_in_client(client)
    draft = await _draft(workspace)
    queue = LocalQueue()
    await campaigns.launch(redis, queue, workspace["id"], draft["id"], PERSON)
    await queue.drain(redis, adapters)

    stream = await client.get(f"/mailing/campaigns/{draft['id']}/events")
    events = [line.removeprefix("event: ") for line in stream.text.splitlines() if line.startswith("event: ")]
    assert events == ["status", "figures", "done"]
    assert 'data-status="sent"' in stream.text and 'data-testid="campaign-percent">100%' in stream.text
    assert 'data-testid="campaign-pause-' not in stream.text


async def test_the_live_count_leaves_out_whoever_received_a_campaign_lately(client, redis, adapters):
    workspace, _ = await signed_in_client(client)
    first = await _draft(workspace)
    queue = LocalQueue()
    await campaigns.launch(redis, queue, workspace["id"], first["id"], PERSON)
    await queue.drain(redis, adapters)
    second = await campaigns.duplicate(workspace["id"], first["id"])
    url, chosen = f"/mailing/campaigns/{second['id']}/recipients", {"list_ids": str(first["list_ids"][0])}

    everyone = await post_form(client, url, {**chosen, "exclude_recent_days": ""}, headers={"hx-request": "true"})
    assert 'data-testid="recipient-count">3<' in everyone.text
    lately = await post_form(client, url, {**chosen, "exclude_recent_days": "7"}, headers={"hx-request": "true"})
    assert 'data-testid="recipient-count">0<' in lately.text
    refused = await post_form(client, url, {**chosen, "exclude_recent_days": "-2"}, headers={"hx-request": "true"})
    assert 'data-testid="count-error-exclude_recent_days"' in refused.text


async def test_pause_resume_and_cancel_from_the_list_come_back_to_it(client, redis):
    workspace, _ = await signed_in_client(client)
    draft = await _draft(workspace)
    await campaigns.launch(redis, LocalQueue(), workspace["id"], draft["id"], PERSON)
    base = f"/mailing/campaigns/{draft['id']}"
    listed = await client.get("/mailing/campaigns/")
    assert f'data-testid="campaign-pause-{draft["id"]}"' in listed.text
    assert f'data-testid="campaign-edit-{draft["id"]}"' not in listed.text

    paused = await post_form(client, f"{base}/pause", {"next": "/mailing/campaigns"})
    assert paused.headers["location"] == "/mailing/campaigns"
    assert (await campaigns.get_campaign(workspace["id"], draft["id"]))["status"] == "paused"
    assert f'data-testid="campaign-resume-{draft["id"]}"' in (await client.get("/mailing/campaigns/")).text
    await post_form(client, f"{base}/resume", {"next": "//elsewhere.example"})
    assert (await campaigns.get_campaign(workspace["id"], draft["id"]))["status"] == "sending"
    cancelled = await post_form(client, f"{base}/cancel", {"next": "//elsewhere.example"})
    assert cancelled.headers["location"] == base
    assert (await campaigns.get_campaign(workspace["id"], draft["id"]))["status"] == "cancelled"
    # A cancelled campaign says how far it got, not that it is done.
    detail = (await client.get(base)).text
    assert "sent before it was cancelled" in detail and "% done" not in detail
    refused = await post_form(client, f"{base}/pause", {"next": base},
                              headers={"referer": f"http://127.0.0.1:8000{base}"})
    assert refused.status_code == 303 and refused.headers["location"] == base
    assert "Only a campaign that is sending can be paused." in (await client.get(base)).text


async def test_an_admin_stops_all_sending_with_a_reason_and_restarts_it(client, redis):
    workspace, owner = await signed_in_client(client)
    sending = await _draft(workspace)
    await campaigns.launch(redis, LocalQueue(), workspace["id"], sending["id"], PERSON)
    waiting = await campaigns.duplicate(workspace["id"], sending["id"])

    blank = await post_form(client, "/mailing/campaigns/stop", {"reason": "  "})
    assert blank.status_code == 422 and 'data-testid="error-reason"' in blank.text
    assert await kill_switch.workspace_stop(workspace["id"]) is None

    stopped = await post_form(client, "/mailing/campaigns/stop", {"reason": "Wrong list picked"})
    assert stopped.status_code == 303
    listed = await client.get("/mailing/campaigns/")
    assert 'data-testid="kill-switch-state"' in listed.text and "Wrong list picked" in listed.text
    assert owner["email"] in listed.text and 'data-testid="sending-restart"' in listed.text
    assert (await campaigns.get_campaign(workspace["id"], sending["id"]))["status"] == "paused"
    review = await client.get(f"/mailing/campaigns/{waiting['id']}/review")
    assert 'data-testid="review-stopped"' in review.text
    refused = await post_form(client, f"/mailing/campaigns/{waiting['id']}/launch")
    assert refused.status_code == 422 and "Wrong list picked" in refused.text
    assert (await campaigns.get_campaign(workspace["id"], waiting["id"]))["status"] == "draft"

    await post_form(client, "/mailing/campaigns/restart")
    assert await kill_switch.workspace_stop(workspace["id"]) is None
    assert (await campaigns.get_campaign(workspace["id"], sending["id"]))["status"] == "sending"
    assert 'data-testid="sending-stop"' in (await client.get("/mailing/campaigns/")).text


async def test_a_marketer_sees_the_stop_but_cannot_stop_or_restart_sending(client, redis):
    workspace = await make_workspace()
    marketer = await make_user(workspace, "marketer")
    await login(client, marketer["email"])
    assert 'data-testid="sending-stop"' not in (await client.get("/mailing/campaigns/")).text
    assert (await post_form(client, "/mailing/campaigns/stop", {"reason": "Because"})).status_code == 403
    await kill_switch.stop_workspace(redis, workspace["id"], PERSON, "Complaint spike")
    listed = await client.get("/mailing/campaigns/")
    assert "Complaint spike" in listed.text and 'data-testid="sending-restart"' not in listed.text
    assert (await post_form(client, "/mailing/campaigns/restart")).status_code == 403
    assert await kill_switch.workspace_stop(workspace["id"]) is not None
