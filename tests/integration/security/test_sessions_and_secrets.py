"""Sessions end when the password changes, CSRF tokens belong to one session, failed sign-ins slow down
the guesser rather than lock out the owner, and stored secrets are never shown back."""

from __future__ import annotations

from app.db.accounts import Invite
from app.db.inbox import CapturedMessage
from app.services import lockout, vault
from app.services.inbox import captured_message
from tests.factories import PASSWORD, csrf_token, link_in, login, make_user, make_workspace, post_form

NEW_PASSWORD = "a brand new passphrase"


async def _reset_path(client, email: str) -> str:
    await post_form(client, "/password/forgot", {"email": email})
    row = await CapturedMessage.select(CapturedMessage.id, CapturedMessage.workspace_id).where(
        CapturedMessage.rcpt_to == email).first()
    message = await captured_message(row["workspace_id"], row["id"])
    return link_in(message.text, "/password/reset/").removeprefix("http://127.0.0.1:8000")


async def test_a_password_reset_ends_the_other_sessions_of_the_account(client, client_from):
    workspace = await make_workspace()
    user = await make_user(workspace)
    await login(client, user["email"])
    assert (await client.get("/")).status_code == 200

    async with client_from("198.51.100.20") as phone:
        path = await _reset_path(phone, user["email"])
        done = await post_form(phone, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
        assert done.status_code == 303

    assert (await client.get("/", follow_redirects=False)).status_code == 303
    await login(client, user["email"], NEW_PASSWORD)
    assert (await client.get("/")).status_code == 200


async def test_a_csrf_token_from_another_session_is_refused(client, client_from):
    workspace = await make_workspace()
    victim = await make_user(workspace)
    attacker = await make_user(await make_workspace())
    await login(client, victim["email"])
    async with client_from("198.51.100.30") as evil:
        await login(evil, attacker["email"])
        await evil.get("/")
        planted = csrf_token(evil)

    client.cookies.delete("ignite_csrf")
    client.cookies.set("ignite_csrf", planted, domain="127.0.0.1")
    response = await client.post("/settings/team/invites", data={"email": "spy@example.com", "role": "owner",
                                                                 "_csrf_token": planted})

    assert response.status_code == 403
    assert await Invite.count() == 0


async def test_a_csrf_token_issued_before_sign_in_stops_working_after_it(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    await client.get("/login")
    before = csrf_token(client)
    await login(client, user["email"])

    assert csrf_token(client) != before
    client.cookies.delete("ignite_csrf")
    client.cookies.set("ignite_csrf", before, domain="127.0.0.1")
    stale = await client.post("/settings/team/invites", data={"email": "spy@example.com", "role": "marketer",
                                                              "_csrf_token": before})
    assert stale.status_code == 403
    await client.get("/settings/team")
    assert csrf_token(client) != before
    fresh = await post_form(client, "/settings/team/invites", {"email": "new@example.com", "role": "marketer"})
    assert fresh.status_code == 200 and await Invite.count() == 1


async def test_a_stale_header_token_does_not_hide_a_current_form_token(client):
    """After signing out, a boosted page keeps the old header token; the form's own field still counts."""
    workspace = await make_workspace()
    user = await make_user(workspace)
    await login(client, user["email"])
    await client.get("/")
    signed_in_token = csrf_token(client)
    await post_form(client, "/logout")
    await client.get("/password/forgot")

    response = await client.post("/password/forgot", data={"email": user["email"], "_csrf_token": csrf_token(client)},
                                 headers={"x-csrftoken": signed_in_token})

    assert response.status_code == 200 and 'data-testid="reset-sent"' in response.text


async def test_failures_from_another_address_do_not_lock_the_owner_out(client, remote_client):
    workspace = await make_workspace()
    owner = await make_user(workspace)
    for _ in range(8):
        await post_form(remote_client, "/login", {"email": owner["email"], "password": "a wrong guess"})

    guesser = await post_form(remote_client, "/login", {"email": owner["email"], "password": PASSWORD})
    assert guesser.status_code == 429 and int(guesser.headers["retry-after"]) >= 1

    await login(client, owner["email"])


async def test_failures_from_a_shared_address_do_not_lock_out_others_behind_it(client):
    workspace = await make_workspace()
    colleague = await make_user(workspace)
    for n in range(20):
        await post_form(client, "/login", {"email": f"guess{n}@example.com", "password": "a wrong guess"})

    await login(client, colleague["email"])


async def test_delays_grow_with_each_failure_and_stop_at_the_longest():
    from app.redis_client import get_redis

    redis, policy = get_redis(), lockout.LockoutPolicy(max_failures=3, longest_delay=120)
    now, delays = 1_000_000.0, []
    for _ in range(8):
        await lockout.record_failure(redis, policy, "owner@example.com", "203.0.113.9", now)
        delays.append(await lockout.delay_left(redis, policy, "owner@example.com", "203.0.113.9", now))
        now += 10_000

    first = lockout.FIRST_DELAY
    assert delays == [0, 0, first, 2 * first, 4 * first, 120, 120, 120]
    # The same account from elsewhere, and another account from the same address, are not held up.
    assert await lockout.delay_left(redis, policy, "owner@example.com", "198.51.100.1", now - 10_000) == 0
    assert await lockout.delay_left(redis, policy, "other@example.com", "203.0.113.9", now - 10_000) == 0


def test_masked_secrets_show_at_most_the_last_four_characters_and_only_to_admins():
    short, long = "s3cret-pass-123", "sk_live_0123456789abcdefWXYZ"

    for shown in (vault.masked(short), vault.masked(short, shown_to_admin=True), vault.masked(long)):
        assert not any(part in shown for part in ("s3cr", "-123", "sk_l", "WXYZ"))
    hint = vault.masked(long, shown_to_admin=True)
    assert hint.endswith("WXYZ") and "sk_l" not in hint and "abcd" not in hint
    assert len(vault.masked(short)) == len(vault.masked(long))


async def test_changing_the_password_ends_other_sessions_but_keeps_this_one(client, client_from):
    workspace = await make_workspace()
    user = await make_user(workspace)
    await login(client, user["email"])
    async with client_from("198.51.100.40") as laptop:
        await login(laptop, user["email"])

        changed = await post_form(client, "/account/password", {
            "current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

        assert changed.status_code == 303
        assert (await laptop.get("/", follow_redirects=False)).status_code == 303
    assert (await client.get("/")).status_code == 200
    await post_form(client, "/logout")
    await login(client, user["email"], NEW_PASSWORD)


async def test_a_password_change_needs_the_current_password(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    await login(client, user["email"])

    wrong = await post_form(client, "/account/password", {
        "current_password": "not my password", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    short = await post_form(client, "/account/password", {
        "current_password": PASSWORD, "password": "short", "confirm": "short"})

    assert wrong.status_code == 422 and 'data-testid="error-current_password"' in wrong.text
    assert short.status_code == 422 and 'data-testid="error-password"' in short.text
    await post_form(client, "/logout")
    await login(client, user["email"], PASSWORD)
