import asyncio

import pytest

from app.db.content import EmailTemplate
from app.db.inbox import CapturedMessage
from app.services.inbox import captured_message
from tests.factories import make_list, make_subscriber, make_workspace, post_form, signed_in_client


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
    assert response.status_code == 422
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
    assert too_many.status_code == 422 and "at most 5" in too_many.text
    sent = await post_form(client, f"/mailing/templates/{template_id}/test",
                           {"recipients": "qa@example.com, boss@example.com"})
    assert "Sent 2 test message(s)" in sent.text
    rows = await CapturedMessage.select(CapturedMessage.id, CapturedMessage.subject)
    assert len(rows) == 2 and all(row["subject"].startswith("[TEST]") for row in rows)
    message = await captured_message(workspace["id"], rows[0]["id"])
    headers = dict(message.headers)
    # A test send has no real unsubscribe link: no header pointing at a placeholder.
    assert "List-Unsubscribe" not in headers and "List-Unsubscribe-Post" not in headers


async def test_templates_of_another_workspace_are_not_found(client):
    other = await make_workspace("Other")
    from app.services.templates import create_from_gallery

    foreign = await create_from_gallery(other["id"], "plain-letter", None)
    await signed_in_client(client)
    for path in ("", "/preview", "/preview-as?email=a@example.com", "/checks"):
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


NESTED_LOOPS = "<p>{% for a in range(100000) %}{% for b in range(1500) %}{{ b }}{% endfor %}{% endfor %}</p>"


async def _stored(workspace: dict, html: str) -> int:
    """A template stored as it is, as one saved before templates had a budget would be."""
    from app.services.accounts import now

    [row] = await EmailTemplate.insert(EmailTemplate(
        workspace_id=workspace["id"], name="Stored", subject="Hi", html=html, created_at=now(), updated_at=now(),
    )).returning(EmailTemplate.id)
    return row["id"]


@pytest.mark.parametrize(("html", "message"), [
    (NESTED_LOOPS, "This template takes too long to render"),
    ("<p>{{ 'x' * 10**7 }}</p>", "This template is too large to render"),
    ("<p>{{ 10**5000 }}</p>", "This template is too large to render"),
])
async def test_a_template_over_its_budget_is_refused_next_to_the_html(client, html: str, message: str):
    await signed_in_client(client)
    template_id = await _from_gallery(client)
    response = await post_form(client, f"/mailing/templates/{template_id}", {"name": "Heavy", "subject": "Hi",
                                                                              "html": html})
    assert response.status_code == 422
    assert 'data-testid="error-html"' in response.text and message in response.text
    assert "Saved version" not in response.text
    assert (await EmailTemplate.select(EmailTemplate.version).first())["version"] == 1


async def test_a_stored_template_over_budget_previews_as_a_message(client):
    workspace, _ = await signed_in_client(client)
    template_id = await _stored(workspace, NESTED_LOOPS)
    preview = await client.get(f"/mailing/templates/{template_id}/preview")
    assert preview.status_code == 422 and "takes too long to render" in preview.text
    assert preview.headers["content-security-policy"].startswith("sandbox")
    editor = await client.get(f"/mailing/templates/{template_id}")
    assert editor.status_code == 200 and "takes too long to render" in editor.text
    test = await post_form(client, f"/mailing/templates/{template_id}/test", {"recipients": "qa@example.com"})
    assert test.status_code == 422 and 'data-testid="form-error"' in test.text and "too long" in test.text
    assert await CapturedMessage.count() == 0


async def _until(condition) -> None:
    # The count changes on a render thread, which has no event loop to signal: look again until it holds.
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def test_health_answers_while_a_heavy_preview_renders_and_the_render_stops_with_its_request(
        client, monkeypatch):
    from app.services import templates
    from app.services.rendering import RenderBudget, renders_running

    # A budget large enough that the preview is still rendering when /health is asked.
    monkeypatch.setattr(templates, "EDITOR_BUDGET", RenderBudget(steps=10**12, chars=10**12, seconds=3600))
    monkeypatch.setattr(templates, "RENDER_WAIT_SECONDS", 3600)
    workspace, _ = await signed_in_client(client)
    template_id = await _stored(workspace, NESTED_LOOPS)
    preview = asyncio.create_task(client.get(f"/mailing/templates/{template_id}/preview"))
    await asyncio.wait_for(_until(lambda: renders_running() == 1), timeout=30)
    health = await asyncio.wait_for(client.get("/health"), timeout=30)
    assert health.status_code == 200 and health.json()["status"] in ("ok", "degraded")
    assert renders_running() == 1 and not preview.done()
    preview.cancel()
    await asyncio.wait_for(_until(lambda: renders_running() == 0), timeout=30)


async def test_preview_as_says_when_it_shows_sample_data(client):
    workspace, _ = await signed_in_client(client)
    template_id = await _from_gallery(client)
    mailing_list = await make_list(workspace)
    await make_subscriber(mailing_list, "zoe@example.com", {"first_name": "Zoe"})
    known = await client.get(f"/mailing/templates/{template_id}/preview-as?email=Zoe@Example.com")
    assert 'data-testid="preview-who"' in known.text and "preview?email=zoe%40example.com" in known.text
    assert 'data-testid="preview-notice"' not in known.text
    unknown = await client.get(f"/mailing/templates/{template_id}/preview-as?email=nobody@example.com")
    assert "No subscriber nobody@example.com in this workspace: showing sample data." in unknown.text
    invalid = await client.get(f"/mailing/templates/{template_id}/preview-as?email=not-an-address")
    assert "is not an email address: showing sample data." in invalid.text


async def test_a_subscriber_of_another_workspace_is_unknown_to_previews(client):
    other = await make_workspace("Other")
    await make_subscriber(await make_list(other), "zoe@example.com", {"first_name": "Zoe"})
    await signed_in_client(client)
    template_id = await _from_gallery(client)
    unknown = await client.get(f"/mailing/templates/{template_id}/preview-as?email=zoe@example.com")
    assert 'data-testid="preview-notice"' in unknown.text
    assert "Zoe" not in (await client.get(f"/mailing/templates/{template_id}/preview?email=zoe@example.com")).text


async def test_a_test_send_can_use_a_chosen_subscribers_data(client):
    workspace, _ = await signed_in_client(client)
    template_id = await _from_gallery(client)
    mailing_list = await make_list(workspace)
    await make_subscriber(mailing_list, "zoe@example.com", {"first_name": "Zoe"})
    unknown = await post_form(client, f"/mailing/templates/{template_id}/test",
                              {"recipients": "qa@example.com", "subscriber": "nobody@example.com"})
    assert unknown.status_code == 422 and 'data-testid="error-subscriber"' in unknown.text
    assert 'value="qa@example.com"' in unknown.text and await CapturedMessage.count() == 0
    sent = await post_form(client, f"/mailing/templates/{template_id}/test",
                           {"recipients": "qa@example.com", "subscriber": "zoe@example.com"})
    assert "Sent 1 test message(s) to qa@example.com" in sent.text
    [row] = await CapturedMessage.select(CapturedMessage.id, CapturedMessage.subject, CapturedMessage.rcpt_to)
    assert row["rcpt_to"] == "qa@example.com" and row["subject"] in ("[TEST] Hi Zoe", "[TEST] Hello Zoe")
    message = await captured_message(workspace["id"], row["id"])
    assert "Zoe" in message.html and "Alex" not in message.html


async def test_a_bad_recipient_list_keeps_what_was_typed_and_sends_nothing(client):
    await signed_in_client(client)
    template_id = await _from_gallery(client)
    response = await post_form(client, f"/mailing/templates/{template_id}/test", {"recipients": "qa@, boss"})
    assert response.status_code == 422 and 'data-testid="error-recipients"' in response.text
    assert 'value="qa@, boss"' in response.text and "Sent" not in response.text
    assert await CapturedMessage.count() == 0
