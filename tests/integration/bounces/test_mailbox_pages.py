"""Mailing → Bounces → Mailboxes over HTTP: add, refuse bad input, Test connection, Poll now, who may."""

from __future__ import annotations

from app.services.bounces import mailboxes
from tests.factories import login, make_user, make_workspace, post_form, signed_in_client
from tests.integration.bounces.helpers_mailboxes import dovecot, dsn, mailbox_form

__all__ = ["dovecot"]


async def test_the_empty_page_says_how_to_collect_bounces(client):
    await signed_in_client(client)

    page = await client.get("/mailing/bounces/mailboxes")

    assert page.status_code == 200
    assert "No bounce mailboxes yet." in page.text and "ignite inbound" in page.text


async def test_an_owner_adds_a_mailbox_tests_it_and_polls_it(client, dovecot):
    workspace, _ = await signed_in_client(client)
    user = dovecot.new_user()
    dovecot.append(user, dsn("gone@example.org"))

    added = await post_form(client, "/mailing/bounces/mailboxes", mailbox_form(dovecot, user, name="Returns"))
    [mailbox] = await mailboxes.mailboxes(workspace["id"])
    tested = await post_form(client, f"/mailing/bounces/mailboxes/{mailbox['id']}/test")
    polled = await post_form(client, f"/mailing/bounces/mailboxes/{mailbox['id']}/poll")
    listed = await client.get("/mailing/bounces/mailboxes")

    assert added.status_code == 303 and added.headers["location"] == f"/mailing/bounces/mailboxes/{mailbox['id']}"
    assert "Connection works." in tested.text and "INBOX holds 1 message." in tested.text
    assert "Read 1 message: 1 new report queued for processing." in polled.text
    assert dovecot.count(user) == 0
    assert "Returns" in listed.text and "Read 1 message" in listed.text


async def test_bad_input_is_shown_next_to_its_field_and_nothing_is_saved(client, dovecot):
    workspace, _ = await signed_in_client(client)
    user = dovecot.new_user()

    refused = await post_form(client, "/mailing/bounces/mailboxes",
                              mailbox_form(dovecot, user, protocol="pop3", after="move", move_to="Done"))

    assert refused.status_code == 422
    assert 'data-testid="error-after"' in refused.text and "POP3 has no folders" in refused.text
    assert user.username in refused.text
    assert await mailboxes.mailboxes(workspace["id"]) == []


async def test_only_admins_change_mailboxes(client, dovecot):
    workspace = await make_workspace()
    owner_made = await mailboxes.create_mailbox(workspace["id"], mailbox_form(dovecot, dovecot.new_user()))
    marketer = await make_user(workspace, "marketer")
    await login(client, marketer["email"])

    page = await client.get(f"/mailing/bounces/mailboxes/{owner_made['id']}")
    polled = await post_form(client, f"/mailing/bounces/mailboxes/{owner_made['id']}/poll")
    deleted = await post_form(client, f"/mailing/bounces/mailboxes/{owner_made['id']}/delete")

    assert page.status_code == 200 and 'data-testid="mailbox-save"' not in page.text
    assert polled.status_code == 403 and deleted.status_code == 403
    assert len(await mailboxes.mailboxes(workspace["id"])) == 1


async def test_another_workspaces_mailbox_is_not_found(client, dovecot):
    other = await make_workspace()
    theirs = await mailboxes.create_mailbox(other["id"], mailbox_form(dovecot, dovecot.new_user()))
    await signed_in_client(client)

    assert (await client.get(f"/mailing/bounces/mailboxes/{theirs['id']}")).status_code == 404
    assert (await post_form(client, f"/mailing/bounces/mailboxes/{theirs['id']}/poll")).status_code == 404
    assert (await post_form(client, f"/mailing/bounces/mailboxes/{theirs['id']}/delete")).status_code == 404
    assert len(await mailboxes.mailboxes(other["id"])) == 1
