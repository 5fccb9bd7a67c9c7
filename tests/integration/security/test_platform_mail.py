"""Account mail (password resets, invitations) goes through the platform sender, never to a shared inbox;
every system email is rendered from an autoescaped template."""

from __future__ import annotations

import os
import subprocess
import sys
from email import message_from_bytes, policy

from app.db.accounts import Invite
from app.db.inbox import CapturedMessage
from app.services.inbox import captured_message
from app.settings import PROJECT_ROOT
from tests.factories import PASSWORD, link_in, login, make_list, make_user, make_workspace, post_form
from tests.integration.security.conftest import BASE_URL


def _text_of(raw: bytes) -> str:
    message = message_from_bytes(raw, policy=policy.default)
    return message.get_body(preferencelist=("plain",)).get_content()


def _local(link: str) -> str:
    return link.removeprefix(BASE_URL)


async def test_password_reset_mail_arrives_at_the_platform_sender(client, platform_smtp):
    workspace = await make_workspace()
    user = await make_user(workspace)

    response = await post_form(client, "/password/forgot", {"email": user["email"]})

    assert response.status_code == 200 and 'data-testid="reset-sent"' in response.text
    [mail] = platform_smtp.received
    assert mail.recipients == (user["email"],)
    assert mail.mail_from == "accounts@example.com"
    assert b"From: Ignite <accounts@example.com>" in mail.content
    assert await CapturedMessage.count() == 0
    path = _local(link_in(_text_of(mail.content), "/password/reset/"))
    assert (await client.get(path)).status_code == 200


async def test_invitation_arrives_at_the_platform_sender_and_can_be_accepted(client, platform_smtp):
    workspace = await make_workspace("Crew")
    owner = await make_user(workspace)
    await login(client, owner["email"])

    response = await post_form(client, "/settings/team/invites", {"email": "joiner@example.com", "role": "marketer"})

    assert response.status_code == 200
    [mail] = platform_smtp.received
    assert mail.recipients == ("joiner@example.com",)
    assert await CapturedMessage.count() == 0
    path = _local(link_in(_text_of(mail.content), "/invite/"))
    await post_form(client, "/logout")
    assert (await post_form(client, path, {"name": "Jo", "password": PASSWORD})).status_code == 303


async def test_the_platform_sender_speaks_starttls(client, configure, tmp_path):
    from aiosmtpd.controller import Controller

    from app.embedded import free_port
    from tests.integration.delivery.smtp_servers import ScriptedHandler, self_signed_context

    handler = ScriptedHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), tls_context=self_signed_context(tmp_path),
                            require_starttls=True)
    controller.start()
    try:
        configure(SYSTEM_MAIL_URL=f"smtp://127.0.0.1:{controller.port}?verify=false")
        workspace = await make_workspace()
        user = await make_user(workspace)
        await post_form(client, "/password/forgot", {"email": user["email"]})
    finally:
        controller.stop()

    [mail] = handler.received
    assert mail.recipients == (user["email"],)
    assert mail.mail_from == "no-reply@127.0.0.1"


async def test_production_without_a_platform_sender_says_so_and_sends_nothing(client, configure):
    configure(IGNITE_ENV="production")
    workspace = await make_workspace()
    user = await make_user(workspace)

    page = await client.get("/password/forgot")
    response = await post_form(client, "/password/forgot", {"email": user["email"]})

    assert 'data-testid="reset-unavailable"' in page.text and "SYSTEM_MAIL_URL" in page.text
    assert 'data-testid="reset-sent"' not in response.text
    assert 'data-testid="reset-unavailable"' in response.text
    assert await CapturedMessage.count() == 0


async def test_production_without_a_platform_sender_refuses_to_invite(client, configure):
    workspace = await make_workspace()
    owner = await make_user(workspace)
    await login(client, owner["email"])
    configure(IGNITE_ENV="production")

    response = await post_form(client, "/settings/team/invites", {"email": "joiner@example.com", "role": "marketer"})

    assert response.status_code == 422
    assert "SYSTEM_MAIL_URL" in response.text
    assert await Invite.count() == 0
    assert await CapturedMessage.count() == 0


def test_production_without_a_platform_sender_is_logged_at_start_up():
    environment = {**os.environ, "IGNITE_ENV": "production", "LOG_LEVEL": "INFO"}
    environment.pop("SYSTEM_MAIL_URL", None)
    started = subprocess.run([sys.executable, "-c", "from app.main import create_app; create_app()"],
                             env=environment, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    assert "platform_mail_missing" in started.stderr and "SYSTEM_MAIL_URL" in started.stderr


async def test_confirmation_email_escapes_the_list_name(client):
    from app.services.subscriptions import public_form_url
    from app.settings import get_settings

    workspace = await make_workspace()
    mailing_list = await make_list(workspace, "Plain", opt_in="double",
                                   display_name='<img src=x onerror="alert(1)"> & Co')
    path = public_form_url(get_settings(), mailing_list["id"]).removeprefix(BASE_URL)

    response = await client.post(path, data={"email": "reader@example.com"})

    assert "Check your inbox" in response.text
    row = await CapturedMessage.select(CapturedMessage.id).first()
    message = await captured_message(workspace["id"], row["id"])
    assert "<img" not in message.html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; Co" in message.html
    assert '<img src=x onerror="alert(1)"> & Co' in message.text
    assert "/s/confirm/" in message.text


async def test_invitation_email_escapes_the_workspace_name(client):
    workspace = await make_workspace("<b>Bold</b> Crew")
    owner = await make_user(workspace)
    await login(client, owner["email"])

    await post_form(client, "/settings/team/invites", {"email": "joiner@example.com", "role": "marketer"})

    row = await CapturedMessage.select(CapturedMessage.id).first()
    message = await captured_message(workspace["id"], row["id"])
    assert "<b>Bold</b>" not in message.html and "&lt;b&gt;Bold&lt;/b&gt; Crew" in message.html
