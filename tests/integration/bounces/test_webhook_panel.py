"""The webhook card of a delivery server: its URL and credentials for admins, and Mailgun's signing key."""

from __future__ import annotations

from app.services.bounces import webhooks
from app.services.delivery_servers import create_server
from app.settings import get_settings
from tests.factories import make_workspace, post_form, signed_in_client


async def _server(workspace_id: int, provider: str) -> dict:
    return await create_server(workspace_id, "http_api", {
        "name": provider.title(), "setting_provider": provider, "setting_api_url": "http://127.0.0.1:9",
        "setting_domain": "mg.example.com", "setting_api_key": "k", "weight": "100"})


async def test_an_admin_sees_the_sparkpost_url_and_the_credentials_that_sign_its_posts(client) -> None:
    workspace, _ = await signed_in_client(client, "admin")
    server = await _server(workspace["id"], "sparkpost")
    token = webhooks.webhook_token(get_settings(), workspace["id"], server["id"])

    response = await client.get(f"/mailing/delivery/servers/{server['id']}/webhook")

    assert response.status_code == 200
    assert f"/webhooks/sparkpost/{token}" in response.text
    assert webhooks.sparkpost_password(get_settings(), token) in response.text
    # The tests' BASE_URL is http://: no provider posts there, and the card says so.
    assert 'data-testid="webhook-http-warning"' in response.text


async def test_the_webhook_card_is_for_admins_only(client) -> None:
    workspace, _ = await signed_in_client(client, "analyst")
    server = await _server(workspace["id"], "sparkpost")

    response = await client.get(f"/mailing/delivery/servers/{server['id']}/webhook")

    assert response.status_code == 403


async def test_a_server_of_another_workspace_has_no_card(client) -> None:
    await signed_in_client(client, "admin")
    server = await _server((await make_workspace())["id"], "sparkpost")

    assert (await client.get(f"/mailing/delivery/servers/{server['id']}/webhook")).status_code == 404


async def test_a_blank_mailgun_signing_key_is_refused_next_to_its_field(client) -> None:
    workspace, _ = await signed_in_client(client, "admin")
    server = await _server(workspace["id"], "mailgun")
    url = f"/mailing/delivery/servers/{server['id']}/webhook"

    refused = await post_form(client, url, {"signing_key": "  "}, headers={"HX-Request": "true"})
    assert refused.status_code == 422
    assert 'data-testid="error-signing_key"' in refused.text
    assert await webhooks.signing_key(workspace["id"], server["id"]) == ""

    saved = await post_form(client, url, {"signing_key": "key-abc123"}, headers={"HX-Request": "true"})
    assert saved.status_code == 200 and "Signing key saved." in saved.text
    assert await webhooks.signing_key(workspace["id"], server["id"]) == "key-abc123"
