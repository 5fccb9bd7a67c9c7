from app.db.accounts import Membership
from app.db.inbox import CapturedMessage
from app.services.inbox import captured_message
from tests.factories import PASSWORD, link_in, login, make_user, make_workspace, post_form


async def _invite_path(client, workspace, email: str, role: str) -> str:
    response = await post_form(client, "/settings/team/invites", {"email": email, "role": role})
    assert response.status_code == 200, response.text[:300]
    # Said in the section the request replaces, not left in the session for whatever page comes next.
    assert 'data-testid="team-notice"' in response.text
    assert "Invitation sent" not in (await client.get("/mailing/lists")).text
    row = await CapturedMessage.select(CapturedMessage.id).where(CapturedMessage.rcpt_to == email).first()
    message = await captured_message(workspace["id"], row["id"])
    return link_in(message.text, "/invite/").split("127.0.0.1:8000", 1)[1]


async def test_invited_person_sets_a_password_and_joins_with_the_role(client, app):
    workspace = await make_workspace("Crew")
    owner = await make_user(workspace)
    await login(client, owner["email"])
    path = await _invite_path(client, workspace, "joiner@example.com", "marketer")
    await post_form(client, "/logout")
    assert "Join Crew" in (await client.get(path)).text
    response = await post_form(client, path, {"name": "Jo", "password": PASSWORD})
    assert response.status_code == 303
    membership = await Membership.select(Membership.role).where(
        Membership.workspace_id == workspace["id"], Membership.user_id.email == "joiner@example.com"
    ).first()
    assert membership["role"] == "marketer"
    landing = await client.get("/")
    assert "Crew" in landing.text
    assert (await client.get(path)).status_code == 410


async def test_existing_user_must_prove_their_password_to_accept(client):
    home = await make_workspace("Home")
    other = await make_workspace("Other")
    owner = await make_user(other)
    existing = await make_user(home, email="existing@example.com")
    await login(client, owner["email"])
    path = await _invite_path(client, other, existing["email"], "analyst")
    await post_form(client, "/logout")
    wrong = await post_form(client, path, {"password": "not my password at all"})
    assert wrong.status_code == 422 and 'data-testid="error-password"' in wrong.text
    assert await Membership.count().where(Membership.workspace_id == other["id"]) == 1
    right = await post_form(client, path, {"password": PASSWORD})
    assert right.status_code == 303


async def test_inviting_an_existing_member_is_refused_next_to_the_field(client):
    workspace = await make_workspace()
    owner = await make_user(workspace)
    await login(client, owner["email"])
    response = await post_form(client, "/settings/team/invites", {"email": owner["email"], "role": "admin"})
    assert response.status_code == 422
    assert 'data-testid="error-email"' in response.text


async def test_invalid_email_is_refused_next_to_the_field(client):
    workspace = await make_workspace()
    owner = await make_user(workspace)
    await login(client, owner["email"])
    response = await post_form(client, "/settings/team/invites", {"email": "not-an-address", "role": "admin"})
    assert response.status_code == 422
    assert 'data-testid="error-email"' in response.text
    assert await CapturedMessage.count() == 0
