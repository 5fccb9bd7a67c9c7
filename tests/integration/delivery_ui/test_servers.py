from app.db.delivery import DeliveryServer
from app.services.delivery_servers import stored_secrets
from tests.factories import make_workspace, post_form, signed_in_client

SMTP = {"kind": "smtp", "name": "PowerMTA 1", "setting_host": "127.0.0.1", "setting_port": "2525",
        "setting_security": "none", "setting_username": "mailer", "setting_password": "s3cret-pass-0-123",
        "hourly_quota": "5000", "weight": "50", "cost_per_thousand": "0.12"}


async def test_add_smtp_server_stores_credentials_encrypted_and_masked(client):
    await signed_in_client(client)
    response = await post_form(client, "/mailing/delivery/servers", SMTP)
    assert response.status_code == 303
    row = await DeliveryServer.select().output(load_json=True).first()
    assert "s3cret" not in row["secrets"]
    assert stored_secrets(row) == {"password": "s3cret-pass-0-123"}
    assert row["settings"]["host"] == "127.0.0.1" and row["hourly_quota"] == 5000
    page = await client.get(response.headers["location"])
    assert "s3cret-pass-0-123" not in page.text and "••••••••-123" in page.text


async def test_only_admins_see_the_last_characters_of_a_long_secret(client):
    from app.services.delivery_servers import create_server

    workspace, _ = await signed_in_client(client, role="marketer")
    server = await create_server(workspace["id"], "smtp", {**SMTP, "setting_password": "a-long-secret-4567"})
    page = await client.get(f"/mailing/delivery/servers/{server['id']}")
    assert "4567" not in page.text and "••••••••" in page.text


async def test_blank_secret_on_edit_keeps_the_stored_one(client):
    await signed_in_client(client)
    location = (await post_form(client, "/mailing/delivery/servers", SMTP)).headers["location"]
    await post_form(client, location, {**SMTP, "setting_password": "", "weight": "80"})
    row = await DeliveryServer.select().output(load_json=True).first()
    assert row["weight"] == 80 and stored_secrets(row) == {"password": "s3cret-pass-0-123"}


async def test_server_form_errors_are_shown_next_to_fields(client):
    await signed_in_client(client)
    response = await post_form(client, "/mailing/delivery/servers", {
        "kind": "smtp", "name": "", "setting_host": "", "setting_port": "abc", "weight": "5000",
        "from_email": "nope", "cost_per_thousand": "-1"})
    assert response.status_code == 422
    for field in ("name", "setting_host", "setting_port", "weight", "from_email", "cost_per_thousand"):
        assert f'data-testid="error-{field}"' in response.text, field
    assert 'value="abc"' in response.text
    assert await DeliveryServer.count() == 0


async def test_values_the_columns_cannot_hold_are_refused_next_to_their_fields(client):
    await signed_in_client(client)
    response = await post_form(client, "/mailing/delivery/servers", {
        **SMTP, "name": "x" * 121, "from_name": "y" * 121, "cost_per_thousand": "1e20", "daily_quota": "99999999999"})
    assert response.status_code == 422
    for field in ("name", "from_name", "cost_per_thousand", "daily_quota"):
        assert f'data-testid="error-{field}"' in response.text, field
    for cost in ("NaN", "Infinity"):
        refused = await post_form(client, "/mailing/delivery/servers", {**SMTP, "cost_per_thousand": cost})
        assert refused.status_code == 422 and 'data-testid="error-cost_per_thousand"' in refused.text, cost
    assert await DeliveryServer.count() == 0


async def test_capture_server_tests_ok_and_can_be_paused(client):
    await signed_in_client(client)
    location = (await post_form(client, "/mailing/delivery/servers", {"kind": "capture", "name": "Dev"})).headers[
        "location"]
    result = await post_form(client, f"{location}/test")
    assert "Connection works" in result.text
    row = await DeliveryServer.select().first()
    assert row["last_check_ok"] is True
    await post_form(client, f"{location}/status", {"status": "paused"})
    assert (await DeliveryServer.select(DeliveryServer.status).first())["status"] == "paused"


async def test_marketer_cannot_add_servers_and_other_workspaces_are_hidden(client):
    other = await make_workspace("Other")
    from app.services.delivery_servers import create_server

    foreign = await create_server(other["id"], "capture", {"name": "Theirs"})
    await signed_in_client(client, role="marketer")
    assert (await post_form(client, "/mailing/delivery/servers", SMTP)).status_code == 403
    assert (await client.get(f"/mailing/delivery/servers/{foreign['id']}")).status_code == 404
    assert (await post_form(client, f"/mailing/delivery/servers/{foreign['id']}/test")).status_code == 404
    assert "Theirs" not in (await client.get("/mailing/delivery")).text


async def test_smtp_test_connection_against_smtp_sink_and_a_closed_port(client):
    from app.embedded import free_port
    from tests.integration.delivery.smtp_servers import start_smtp_sink

    await signed_in_client(client)
    sink, port = start_smtp_sink()
    try:
        location = (await post_form(client, "/mailing/delivery/servers", {
            **SMTP, "setting_port": str(port), "setting_username": "", "setting_password": ""})).headers["location"]
        works = await post_form(client, f"{location}/test")
        assert "Connection works" in works.text
    finally:
        sink.terminate()
        sink.wait()
    closed = (await post_form(client, "/mailing/delivery/servers", {
        **SMTP, "name": "Dead", "setting_port": str(free_port())})).headers["location"]
    fails = await post_form(client, f"{closed}/test")
    assert "Connection failed" in fails.text and "Connect call failed" in fails.text
    dead_id = closed.rsplit("/", 1)[1]
    row = (await client.get("/mailing/delivery")).text.split('data-testid="server-row-Dead"')[1].split("</tr>")[0]
    assert f'data-testid="server-test-failed-{dead_id}"' in row and "last test failed" in row
    assert "failed" in row and "Connect call failed" in row


async def test_test_connection_can_send_a_test_message_and_shows_the_answer(client):
    from aiosmtpd.controller import Controller

    from app.embedded import free_port
    from tests.integration.delivery.smtp_servers import ScriptedHandler

    await signed_in_client(client)
    handler = ScriptedHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        location = (await post_form(client, "/mailing/delivery/servers", {
            **SMTP, "setting_port": str(controller.port), "setting_username": "", "setting_password": "",
            "from_email": "news@brand.example"})).headers["location"]
        bad = await post_form(client, f"{location}/test", {"test_to": "nope"})
        assert bad.status_code == 422 and 'data-testid="error-test_to"' in bad.text and 'value="nope"' in bad.text
        assert (await DeliveryServer.select(DeliveryServer.last_check_at).first())["last_check_at"] is None
        sent = await post_form(client, f"{location}/test", {"test_to": "qa@example.com"})
    finally:
        controller.stop()
    assert "Connection works" in sent.text and "accepted" in sent.text and "queued as 4F2X" in sent.text
    assert handler.received[0].recipients == ("qa@example.com",)


async def test_server_and_live_tables_show_the_effective_daily_cap(client):
    from app.services import warmup_plans
    from app.services.delivery_servers import create_server

    workspace, _ = await signed_in_client(client)
    warming = await create_server(workspace["id"], "capture", {"name": "Warming", "daily_quota": "0"})
    quota_bound = await create_server(workspace["id"], "capture", {"name": "Small", "daily_quota": "20"})
    unlimited = await create_server(workspace["id"], "capture", {"name": "Open"})
    standard = next(p for p in await warmup_plans.plans(workspace["id"]) if p["name"] == "standard")
    for server in (warming, quota_bound):
        await warmup_plans.assign(workspace["id"], server["id"], standard["id"], day=1, override_cap=None)

    def cell(html: str, testid: str) -> str:
        return html.split(f'data-testid="{testid}">')[1].split("</td>")[0]

    index = (await client.get("/mailing/delivery")).text
    live = (await client.get("/mailing/delivery/live")).text
    for html, prefix in ((index, "server-day-cap"), (live, "live-day-cap")):
        assert cell(html, f"{prefix}-{warming['id']}").startswith("50") and "warm-up day 1" in cell(
            html, f"{prefix}-{warming['id']}")
        assert cell(html, f"{prefix}-{quota_bound['id']}").strip() == "20"
        assert cell(html, f"{prefix}-{unlimited['id']}").strip() == "∞"


async def test_status_changes_and_removal_hold_to_the_workspace(client):
    from app.services.delivery_servers import create_server

    other = await make_workspace("Other")
    foreign = await create_server(other["id"], "capture", {"name": "Theirs"})
    workspace, _ = await signed_in_client(client)
    own = await create_server(workspace["id"], "capture", {"name": "Mine"})
    assert (await post_form(client, f"/mailing/delivery/servers/{foreign['id']}/status",
                            {"status": "paused"})).status_code == 404
    assert (await post_form(client, f"/mailing/delivery/servers/{foreign['id']}/delete")).status_code == 404
    assert (await post_form(client, f"/mailing/delivery/servers/{foreign['id']}",
                            {**SMTP, "name": "Taken over"})).status_code == 404
    refused = await post_form(client, f"/mailing/delivery/servers/{own['id']}/status", {"status": "hacked"},
                              headers={"referer": "http://127.0.0.1:8000/mailing/delivery"})
    assert refused.status_code == 303
    rows = {row["id"]: row for row in await DeliveryServer.select()}
    assert rows[foreign["id"]]["status"] == "active" and rows[foreign["id"]]["name"] == "Theirs"
    assert rows[own["id"]]["status"] == "active"
    assert "Choose a status" in (await client.get("/mailing/delivery")).text
