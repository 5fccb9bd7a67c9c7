"""A user of workspace A gets 404 for every object of workspace B."""

from app.db.accounts import Invite
from app.services.system_mail import SystemMail, send_account_mail
from tests.factories import login, make_user, make_workspace, post_form


async def _two_workspaces(client):
    a = await make_workspace("Alpha")
    b = await make_workspace("Beta")
    user_a = await make_user(a, "owner")
    user_b = await make_user(b, "owner")
    await login(client, user_a["email"])
    return a, b, user_a, user_b


async def test_captured_message_of_another_workspace_is_not_found(client):
    _a, b, _, _ = await _two_workspaces(client)
    await send_account_mail(b["id"], "secret@example.com", SystemMail("Beta only", "text", "<p>html</p>"))
    from app.db.inbox import CapturedMessage

    message = await CapturedMessage.select(CapturedMessage.id).first()
    assert (await client.get(f"/mailing/inbox/{message['id']}")).status_code == 404
    assert (await client.get(f"/mailing/inbox/{message['id']}/html")).status_code == 404
    listing = await client.get("/mailing/inbox")
    assert "Beta only" not in listing.text


async def test_invites_and_members_of_another_workspace_are_not_found(client):
    _a, b, _user_a, user_b = await _two_workspaces(client)
    from app.services.team import invite

    row, _ = await invite(b["id"], "guest@example.com", "marketer", user_b["id"], "http://x", 3600)
    assert (await post_form(client, f"/settings/team/invites/{row['id']}/revoke")).status_code == 404
    assert await Invite.count() == 1
    role_change = await post_form(client, f"/settings/team/members/{user_b['id']}/role", {"role": "analyst"})
    assert role_change.status_code == 404
    assert (await post_form(client, f"/settings/team/members/{user_b['id']}/remove")).status_code == 404
    team_page = await client.get("/settings/team")
    assert user_b["email"] not in team_page.text


async def test_cannot_switch_into_a_workspace_without_membership(client):
    _a, b, _, _ = await _two_workspaces(client)
    response = await post_form(client, "/workspaces/switch", {"workspace_id": b["id"]})
    assert response.status_code == 404
    assert "Alpha" in (await client.get("/")).text


async def test_audit_log_shows_only_own_workspace(client):
    _a, b, _user_a, _user_b = await _two_workspaces(client)
    from app.redis_client import get_redis
    from app.services.audit import SYSTEM, record

    await record(get_redis(), b["id"], SYSTEM, "beta.secret_action")
    page = await client.get("/settings/audit")
    assert "beta.secret_action" not in page.text
