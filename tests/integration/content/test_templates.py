from app.db.content import EmailTemplate
from app.db.inbox import CapturedMessage
from app.services.inbox import captured_message
from tests.factories import make_workspace, post_form, signed_in_client


async def _from_gallery(client, layout: str = "single-offer") -> int:
    response = await post_form(client, "/mailing/templates", {"layout": layout})
    assert response.status_code == 303
    return int(response.headers["location"].rsplit("/", 1)[1])


async def test_gallery_layouts_become_editable_templates(client):
    await signed_in_client(client)
    for layout in ("single-offer", "newsletter", "plain-letter"):
        template_id = await _from_gallery(client, layout)
        editor = await client.get(f"/mailing/templates/{template_id}")
        assert editor.status_code == 200 and 'data-testid="checks"' in editor.text
    library = await client.get("/mailing/templates")
    assert library.text.count('data-testid="template-card-') == 3


async def test_saving_removes_scripts_and_says_what_was_removed(client):
    await signed_in_client(client)
    template_id = await _from_gallery(client)
    response = await post_form(client, f"/mailing/templates/{template_id}", {
        "name": "Risky", "subject": "Hi", "html": '<p onclick="steal()">Hi</p><script>alert(1)</script>'
        '<a href="javascript:alert(2)">x</a><a href="{{ unsubscribe_url }}">u</a>'})
    assert response.status_code == 200
    assert 'data-testid="sanitizer-removed"' in response.text
    stored = await EmailTemplate.select(EmailTemplate.html, EmailTemplate.version).where(
        EmailTemplate.id == template_id).first()
    assert "<script" not in stored["html"] and "onclick" not in stored["html"] and "javascript:" not in stored["html"]
    assert stored["version"] == 2


async def test_template_syntax_error_is_shown_next_to_the_html(client):
    await signed_in_client(client)
    template_id = await _from_gallery(client)
    response = await post_form(client, f"/mailing/templates/{template_id}",
                               {"name": "Broken", "subject": "Hi", "html": "<p>{{ first_name </p>"})
    assert response.status_code == 400
    assert 'data-testid="error-html"' in response.text and "Template error" in response.text
    assert (await EmailTemplate.select(EmailTemplate.version).first())["version"] == 1


async def test_preview_is_sandboxed_and_merges_a_subscriber(client):
    workspace, _ = await signed_in_client(client)
    template_id = await _from_gallery(client)
    from tests.factories import make_list

    mailing_list = await make_list(workspace)
    from app.services.custom_fields import add_field
    from app.services.subscribers import add_subscriber

    await add_field(workspace["id"], mailing_list["id"], {"label": "First name", "kind": "text"})
    await add_subscriber(workspace["id"], mailing_list["id"], {"email": "zoe@example.com", "field_first_name": "Zoe"})
    preview = await client.get(f"/mailing/templates/{template_id}/preview?email=zoe@example.com")
    assert preview.headers["content-security-policy"].startswith("sandbox")
    assert "Zoe" in preview.text
    assert "Alex" in (await client.get(f"/mailing/templates/{template_id}/preview")).text


async def test_test_send_lands_in_dev_inbox_and_is_limited_to_five(client):
    workspace, _ = await signed_in_client(client)
    template_id = await _from_gallery(client)
    too_many = await post_form(client, f"/mailing/templates/{template_id}/test",
                               {"recipients": ", ".join(f"t{i}@example.com" for i in range(6))})
    assert too_many.status_code == 400 and "at most 5" in too_many.text
    sent = await post_form(client, f"/mailing/templates/{template_id}/test",
                           {"recipients": "qa@example.com, boss@example.com"})
    assert "Sent 2 test message(s)" in sent.text
    rows = await CapturedMessage.select(CapturedMessage.id, CapturedMessage.subject)
    assert len(rows) == 2 and all(row["subject"].startswith("[TEST]") for row in rows)
    message = await captured_message(workspace["id"], rows[0]["id"])
    headers = dict(message.headers)
    assert "List-Unsubscribe" in headers and headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_templates_of_another_workspace_are_not_found(client):
    other = await make_workspace("Other")
    from app.services.templates import create_from_gallery

    foreign = await create_from_gallery(other["id"], "plain-letter", None)
    await signed_in_client(client)
    for path in ("", "/preview", "/checks"):
        assert (await client.get(f"/mailing/templates/{foreign['id']}{path}")).status_code == 404
    assert (await post_form(client, f"/mailing/templates/{foreign['id']}/test",
                            {"recipients": "a@example.com"})).status_code == 404
    assert (await post_form(client, f"/mailing/templates/{foreign['id']}",
                            {"name": "x", "html": "<p>x</p>"})).status_code == 404


async def test_test_send_goes_through_the_delivery_server_dkim_signed(client):
    import dkim
    from aiosmtpd.controller import Controller

    from app.embedded import free_port
    from app.services.delivery_servers import create_server
    from app.services.sending_domains import add_domain
    from tests.integration.delivery.smtp_servers import ScriptedHandler

    workspace, _ = await signed_in_client(client)
    domain = await add_domain(workspace["id"], "brand.example")
    handler = ScriptedHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        await create_server(workspace["id"], "smtp", {
            "name": "MTA", "setting_host": "127.0.0.1", "setting_port": str(controller.port),
            "setting_security": "none", "from_email": "news@brand.example"})
        template_id = await _from_gallery(client)
        sent = await post_form(client, f"/mailing/templates/{template_id}/test", {"recipients": "qa@example.com"})
    finally:
        controller.stop()
    assert "Sent 1 test message(s)" in sent.text
    assert await CapturedMessage.count() == 0
    [received] = handler.received
    record = domain["dkim_public_record"].encode()
    assert dkim.verify(received.content, dnsfunc=lambda name, timeout=5: record)
