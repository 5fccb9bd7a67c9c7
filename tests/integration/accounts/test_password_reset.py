from datetime import timedelta

from app.db.accounts import PasswordReset
from app.db.inbox import CapturedMessage
from app.services.accounts import now
from app.services.inbox import captured_message
from tests.factories import link_in, login, make_user, make_workspace, post_form

NEW_PASSWORD = "a brand new passphrase"


async def _request_reset(client, email: str) -> str:
    response = await post_form(client, "/password/forgot", {"email": email})
    assert response.status_code == 200
    assert "reset link is on its way" in response.text
    row = await CapturedMessage.select(CapturedMessage.id, CapturedMessage.workspace_id).first()
    message = await captured_message(row["workspace_id"], row["id"])
    return link_in(message.text, "/password/reset/").split("127.0.0.1:8000", 1)[1]


async def test_reset_link_arrives_in_dev_inbox_and_changes_password(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    path = await _request_reset(client, user["email"])
    assert (await client.get(path)).status_code == 200
    response = await post_form(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303
    await login(client, user["email"], NEW_PASSWORD)


async def test_reset_token_works_only_once(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    path = await _request_reset(client, user["email"])
    await post_form(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    again = await post_form(client, path, {"password": "another passphrase", "confirm": "another passphrase"})
    assert again.status_code == 422
    assert "expired or was already used" in again.text
    assert (await client.get(path)).status_code == 410


async def test_expired_reset_token_is_refused(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    path = await _request_reset(client, user["email"])
    await PasswordReset.update({PasswordReset.expires_at: now() - timedelta(seconds=1)}).where(
        PasswordReset.user_id == user["id"]
    )
    response = await post_form(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 422
    assert "expired" in response.text


async def test_short_password_is_shown_next_to_the_field(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    path = await _request_reset(client, user["email"])
    response = await post_form(client, path, {"password": "short", "confirm": "short"})
    assert response.status_code == 422
    assert 'data-testid="error-password"' in response.text
    assert await PasswordReset.count().where(PasswordReset.used_at.is_not_null()) == 0


async def test_unknown_address_gets_the_same_answer_and_no_mail(client):
    response = await post_form(client, "/password/forgot", {"email": "ghost@example.com"})
    assert response.status_code == 200
    assert "reset link is on its way" in response.text
    assert await CapturedMessage.count() == 0


async def test_differing_repetition_is_shown_next_to_its_field(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    path = await _request_reset(client, user["email"])
    response = await post_form(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "!"})
    assert response.status_code == 422
    assert 'data-testid="error-confirm"' in response.text
    assert await PasswordReset.count().where(PasswordReset.used_at.is_not_null()) == 0


async def test_the_account_is_told_that_its_password_changed(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    path = await _request_reset(client, user["email"])
    await post_form(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    notice = await CapturedMessage.select(CapturedMessage.id).where(
        CapturedMessage.subject == "Your Ignite password was changed").first()
    message = await captured_message(workspace["id"], notice["id"])
    assert message.rcpt_to == user["email"]
    assert "/password/forgot" in message.text and "signed out" in message.text
