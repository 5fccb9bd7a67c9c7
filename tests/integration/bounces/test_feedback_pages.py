"""The Delivery page's bounces and complaints, and lifting a pause: held to the workspace and to admins."""

from __future__ import annotations

from app.db.campaigns import Campaign
from app.embedded import free_port
from app.services.bounces import rates
from app.services.bounces.rates import FeedbackCount
from app.services.delivery_servers import create_server
from app.services.throttling import pauses
from tests.factories import make_workspace, post_form, signed_in_client
from tests.integration.bounces.helpers_rates import add_sent
from tests.integration.campaigns.helpers import ready_campaign


async def _paused_server(workspace_id: int) -> dict:
    server = await create_server(workspace_id, "smtp", {
        "name": "Main", "setting_host": "127.0.0.1", "setting_port": str(free_port()), "setting_security": "none",
        "weight": "100"})
    await add_sent(workspace_id, server["id"], "Microsoft", 2000)
    counts = [FeedbackCount(server["id"], "Microsoft", None, "complaint", n=8)]
    await rates.count_feedback(workspace_id, counts)
    await pauses.evaluate(workspace_id, counts)
    return server


async def test_the_delivery_page_says_what_to_do_before_any_rate_exists(client):
    workspace, _ = await signed_in_client(client)
    await create_server(workspace["id"], "smtp", {"name": "Main", "setting_host": "127.0.0.1", "setting_port": "25",
                                                  "setting_security": "none", "weight": "100"})
    page = await client.get("/mailing/delivery")
    assert page.status_code == 200
    assert 'data-testid="no-rates"' in page.text and "connect a bounce mailbox" in page.text
    assert 'data-testid="gmail-note"' in page.text and 'data-testid="no-route-pauses"' in page.text


async def test_a_marketer_sees_the_pause_but_cannot_lift_it(client):
    workspace, _ = await signed_in_client(client, role="marketer")
    server = await _paused_server(workspace["id"])
    page = await client.get("/mailing/delivery")
    assert 'data-testid="route-pause-Main-Microsoft"' in page.text and "lift-pause-" not in page.text
    response = await post_form(client, "/mailing/delivery/pauses/lift",
                               {"server_id": str(server["id"]), "domain_group": "Microsoft"})
    assert response.status_code == 403
    assert len(await pauses.active_pauses(workspace["id"])) == 1


async def test_another_workspaces_pause_cannot_be_lifted(client):
    await signed_in_client(client, role="admin")
    other = await make_workspace()
    server = await _paused_server(other["id"])
    for server_id in (str(server["id"]), "99999999999", "x"):
        response = await post_form(client, "/mailing/delivery/pauses/lift",
                                   {"server_id": server_id, "domain_group": "Microsoft"})
        assert response.status_code == 404, server_id
    assert len(await pauses.active_pauses(other["id"])) == 1


async def test_an_admin_lifts_a_pause(client):
    workspace, _ = await signed_in_client(client, role="admin")
    server = await _paused_server(workspace["id"])
    response = await post_form(client, "/mailing/delivery/pauses/lift",
                               {"server_id": str(server["id"]), "domain_group": "Microsoft"})
    assert response.status_code == 303
    assert await pauses.active_pauses(workspace["id"]) == []
    page = await client.get("/mailing/delivery")
    assert "Lifted" in page.text and "lifted by " in page.text


async def test_thresholds_are_changed_by_admins_only(client):
    await signed_in_client(client, role="marketer")
    page = await client.get("/mailing/bounces/settings")
    assert page.status_code == 200 and 'value="0.3"' in page.text
    response = await post_form(client, "/mailing/bounces/settings", {
        "soft_limit": "3", "soft_days": "30", "complaint_warn_rate": "0.1", "complaint_pause_rate": "0.3",
        "hard_pause_rate": "9"})
    assert response.status_code == 403


async def test_a_campaigns_page_shows_its_bounces_and_complaints_against_what_it_sent(client):
    workspace, _ = await signed_in_client(client)
    campaign = await ready_campaign(workspace["id"], [])
    await add_sent(workspace["id"], None, "Others", 400, campaign_id=campaign["id"])
    await rates.count_feedback(workspace["id"], [FeedbackCount(None, "Others", campaign["id"], "hard", n=4),
                                                 FeedbackCount(None, "Others", campaign["id"], "complaint")])
    await Campaign.update({Campaign.status: "sent"}).where(Campaign.id == campaign["id"])
    page = await client.get(f"/mailing/campaigns/{campaign['id']}")
    assert page.status_code == 200
    assert 'data-testid="feedback-hard">4<' in page.text and "1.0% of sent" in page.text
    assert 'data-testid="feedback-complaint">1<' in page.text and "0.25% of sent" in page.text
    assert f"/mailing/bounces?campaign_id={campaign['id']}" in page.text
