"""The development inbox never shows one person's account mail to another member: the addressee sees it,
owners see it with its link token hidden, everyone else does not see it at all."""

from __future__ import annotations

import re

from app.db.accounts import PasswordReset
from app.db.inbox import CapturedMessage
from app.services.inbox import captured_message
from tests.factories import link_in, login, make_user, make_workspace, post_form

TOKEN = re.compile(r"/password/reset/([A-Za-z0-9_-]{20,})")


async def _reset_requested_for(client, email: str) -> int:
    await post_form(client, "/password/forgot", {"email": email})
    row = await CapturedMessage.select(CapturedMessage.id).where(CapturedMessage.rcpt_to == email).first()
    return row["id"]


async def test_an_analyst_cannot_read_the_owners_reset_link(client):
    workspace = await make_workspace()
    owner = await make_user(workspace, "owner")
    analyst = await make_user(workspace, "analyst")
    await login(client, analyst["email"])

    message_id = await _reset_requested_for(client, owner["email"])

    listing = await client.get("/mailing/inbox")
    assert "Reset your Ignite password" not in listing.text
    assert (await client.get(f"/mailing/inbox/{message_id}")).status_code == 404
    assert (await client.get(f"/mailing/inbox/{message_id}/html")).status_code == 404
    assert await PasswordReset.count() == 1


async def test_a_marketer_cannot_read_a_pending_invitation(client):
    workspace = await make_workspace()
    owner = await make_user(workspace, "owner")
    marketer = await make_user(workspace, "marketer")
    await login(client, owner["email"])
    await post_form(client, "/settings/team/invites", {"email": "newbie@example.com", "role": "admin"})
    await post_form(client, "/logout")
    await login(client, marketer["email"])

    row = await CapturedMessage.select(CapturedMessage.id).first()
    listing = await client.get("/mailing/inbox")

    assert "invited to" not in listing.text
    assert (await client.get(f"/mailing/inbox/{row['id']}")).status_code == 404


async def test_an_owner_sees_other_peoples_account_mail_with_the_token_hidden(client):
    workspace = await make_workspace()
    owner = await make_user(workspace, "owner")
    analyst = await make_user(workspace, "analyst")
    await login(client, owner["email"])

    message_id = await _reset_requested_for(client, analyst["email"])
    token = TOKEN.search((await captured_message(workspace["id"], message_id)).text).group(1)

    listing = await client.get("/mailing/inbox")
    page = await client.get(f"/mailing/inbox/{message_id}")
    html = await client.get(f"/mailing/inbox/{message_id}/html")

    assert "Reset your Ignite password" in listing.text
    assert page.status_code == 200 and html.status_code == 200
    assert token not in page.text and token not in html.text
    assert "/password/reset/[hidden]" in page.text


async def test_the_addressee_reads_their_own_reset_link(client):
    workspace = await make_workspace()
    await make_user(workspace, "owner")
    analyst = await make_user(workspace, "analyst")
    await login(client, analyst["email"])

    message_id = await _reset_requested_for(client, analyst["email"])
    page = await client.get(f"/mailing/inbox/{message_id}")

    assert page.status_code == 200
    path = link_in(page.text, "/password/reset/").removeprefix("http://127.0.0.1:8000")
    assert (await client.get(path)).status_code == 200
