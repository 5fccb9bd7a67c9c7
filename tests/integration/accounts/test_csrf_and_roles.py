from app.db.audit import AuditEntry
from tests.factories import csrf_token, login, make_user, make_workspace, post_form, prime_csrf


async def test_state_change_without_csrf_token_is_rejected(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    await login(client, user["email"])
    response = await client.post("/settings/team/invites", data={"email": "x@example.com", "role": "marketer"})
    assert response.status_code == 403
    assert "form expired" in response.text
    assert "Traceback" not in response.text
    assert await AuditEntry.count().where(AuditEntry.action == "invite.created") == 0


async def test_htmx_request_with_csrf_header_is_accepted(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    await login(client, user["email"])
    response = await client.post(
        "/settings/team/invites", data={"email": "new@example.com", "role": "marketer"},
        headers={"x-csrftoken": csrf_token(client), "hx-request": "true"},
    )
    assert response.status_code == 200
    assert "new@example.com" in response.text


async def test_login_form_itself_requires_csrf(client):
    await prime_csrf(client)
    response = await client.post("/login", data={"email": "a@example.com", "password": "x" * 12})
    assert response.status_code == 403


async def test_analyst_cannot_change_anything(client):
    workspace = await make_workspace()
    analyst = await make_user(workspace, "analyst")
    await login(client, analyst["email"])
    assert (await client.get("/mailing")).status_code == 200
    response = await post_form(client, "/settings/team/invites", {"email": "x@example.com", "role": "analyst"})
    assert response.status_code == 403
    assert "read-only" in response.text


async def test_analyst_may_still_switch_workspace_and_sign_out(client):
    first = await make_workspace("First")
    second = await make_workspace("Second")
    analyst = await make_user(first, "analyst")
    from app.services.accounts import add_member

    await add_member(second["id"], analyst["id"], "analyst")
    await login(client, analyst["email"])
    response = await post_form(client, "/workspaces/switch", {"workspace_id": second["id"], "next": "/"})
    assert response.status_code == 303
    assert "Second" in (await client.get("/")).text
    assert (await post_form(client, "/logout")).status_code == 303


async def test_marketer_cannot_invite_but_admin_can(client):
    workspace = await make_workspace()
    marketer = await make_user(workspace, "marketer")
    await login(client, marketer["email"])
    response = await post_form(client, "/settings/team/invites", {"email": "x@example.com", "role": "marketer"})
    assert response.status_code == 403


async def test_admin_cannot_make_an_owner(client):
    workspace = await make_workspace()
    admin = await make_user(workspace, "admin")
    other = await make_user(workspace, "marketer")
    await login(client, admin["email"])
    response = await post_form(client, f"/settings/team/members/{other['id']}/role", {"role": "owner"})
    assert response.status_code == 422
    assert "Only an owner" in response.text
    from app.services.team import member_role

    assert await member_role(workspace["id"], other["id"]) == "marketer"


async def test_audit_log_is_for_owners_only(client):
    workspace = await make_workspace()
    admin = await make_user(workspace, "admin")
    await login(client, admin["email"])
    assert (await client.get("/settings/audit")).status_code == 403


async def test_state_changes_write_audit_rows_with_ip(client):
    workspace = await make_workspace()
    owner = await make_user(workspace, "owner")
    await login(client, owner["email"])
    await post_form(client, "/settings/team/invites", {"email": "newbie@example.com", "role": "analyst"})
    rows = await AuditEntry.select().where(AuditEntry.workspace_id == workspace["id"]).order_by(AuditEntry.id)
    assert [row["action"] for row in rows] == ["user.login", "invite.created"]
    assert rows[1]["actor"] == owner["email"]
    assert rows[1]["ip"] == "127.0.0.1"
    page = await client.get("/settings/audit")
    assert "invite.created" in page.text


async def test_last_owner_cannot_be_demoted(client):
    workspace = await make_workspace()
    owner = await make_user(workspace, "owner")
    admin = await make_user(workspace, "admin")
    await login(client, admin["email"])
    response = await post_form(client, f"/settings/team/members/{owner['id']}/role", {"role": "admin"})
    assert response.status_code == 422
    assert "Only an owner" in response.text
    from app.services.accounts import AccountError
    from app.services.team import change_role

    try:
        await change_role(workspace["id"], owner["id"], "marketer", by_role="owner")
    except AccountError as exc:
        assert "at least one owner" in str(exc)
    else:
        raise AssertionError("the last owner was demoted")
