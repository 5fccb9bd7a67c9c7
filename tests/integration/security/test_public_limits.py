"""Public endpoints that send mail or write are rate limited per client address and per email address
(429 with Retry-After, the message shown on the form); hidden fields and honeypots keep form bots out."""

from __future__ import annotations

from app.db.accounts import PasswordReset
from app.db.audience import Subscriber
from app.db.inbox import CapturedMessage
from app.services import public_limits
from app.services.custom_fields import add_field
from app.services.subscriptions import HONEYPOT, public_form_url, unsubscribe_url
from app.settings import get_settings
from tests.factories import PASSWORD, make_list, make_user, make_workspace, post_form
from tests.integration.security.conftest import BASE_URL


async def _form_path(**settings) -> tuple[dict, str]:
    workspace = await make_workspace()
    mailing_list = await make_list(workspace, "News", **settings)
    return mailing_list, public_form_url(get_settings(), mailing_list["id"]).removeprefix(BASE_URL)


def _assert_limited(response) -> None:
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) >= 1
    assert "Too many" in response.text


async def test_subscribe_form_is_limited_per_client_address(client):
    _, path = await _form_path(opt_in="double")
    allowed = public_limits.SUBSCRIBE.per_ip.limit
    answers = [await client.post(path, data={"email": f"victim{n}@example.com"}) for n in range(allowed + 5)]

    assert [a.status_code for a in answers[:allowed]] == [200] * allowed
    _assert_limited(answers[allowed])
    assert 'data-testid="form-error"' in answers[allowed].text
    assert 'data-testid="public-subscribe-form"' in answers[allowed].text
    assert await Subscriber.count() == allowed
    assert await CapturedMessage.count() == allowed


async def test_subscribe_form_is_limited_per_email_address(client, client_from):
    _, path = await _form_path(opt_in="double")
    allowed = public_limits.SUBSCRIBE.per_address.limit
    for n in range(allowed):
        async with client_from(f"198.51.100.{n + 1}") as elsewhere:
            assert (await elsewhere.post(path, data={"email": "victim@example.com"})).status_code == 200

    _assert_limited(await client.post(path, data={"email": "Victim@Example.com"}))


async def test_forgot_password_is_limited_per_email_address(client, client_from):
    workspace = await make_workspace()
    user = await make_user(workspace)
    allowed = public_limits.FORGOT_PASSWORD.per_address.limit
    for n in range(allowed):
        async with client_from(f"198.51.100.{n + 1}") as elsewhere:
            assert (await post_form(elsewhere, "/password/forgot", {"email": user["email"]})).status_code == 200

    limited = await post_form(client, "/password/forgot", {"email": user["email"]})

    _assert_limited(limited)
    assert 'data-testid="forgot-form"' in limited.text and 'data-testid="form-error"' in limited.text
    assert await PasswordReset.count() == allowed


async def test_forgot_password_is_limited_per_client_address(client):
    allowed = public_limits.FORGOT_PASSWORD.per_ip.limit
    for n in range(allowed):
        assert (await post_form(client, "/password/forgot", {"email": f"x{n}@example.com"})).status_code == 200

    _assert_limited(await post_form(client, "/password/forgot", {"email": "another@example.com"}))


async def test_login_is_limited_per_client_address(client):
    from app.redis_client import get_redis

    # The bucket is emptied directly: a sign-in costs a password hash, and the test need not pay thirty.
    for _ in range(public_limits.LOGIN.per_ip.limit):
        await public_limits.admit(get_redis(), public_limits.LOGIN, "127.0.0.1")

    limited = await post_form(client, "/login", {"email": "someone@example.com", "password": "wrong password"})

    _assert_limited(limited)
    assert 'data-testid="login-error"' in limited.text and 'value="someone@example.com"' in limited.text


async def test_forged_mail_links_are_limited_per_client_address(client):
    allowed = public_limits.FORGED_LINK.per_ip.limit
    answers = [await client.get(f"/s/confirm/forged{n}") for n in range(allowed)]

    assert {a.status_code for a in answers} == {410}
    _assert_limited(await client.post("/u/forged-unsubscribe-link"))
    _assert_limited(await client.get("/s/confirm/forged-again"))


async def test_a_genuine_unsubscribe_link_is_limited_per_link_not_per_client(client):
    workspace = await make_workspace()
    paths = [unsubscribe_url(get_settings(), workspace["id"], f"reader{n}@example.com").removeprefix(BASE_URL)
             for n in range(public_limits.FORGED_LINK.per_ip.limit + 5)]

    # A mail provider's one-click unsubscribes all come from one address: each link passes.
    assert {(await client.post(path)).status_code for path in paths} == {200}
    again = [await client.post(paths[0]) for _ in range(public_limits.MAILED_LINK.per_address.limit)]

    assert again[-2].status_code == 200
    _assert_limited(again[-1])


async def test_invitation_acceptance_is_limited_per_invitation(client, client_from):
    from app.services.team import invite

    workspace = await make_workspace()
    owner = await make_user(workspace)
    await make_user(await make_workspace(), email="existing@example.com")
    _, token = await invite(workspace["id"], "existing@example.com", "marketer", owner["id"], BASE_URL, 3600)
    allowed = public_limits.ACCEPT_INVITE.per_address.limit
    for n in range(allowed):
        async with client_from(f"198.51.100.{n + 1}") as elsewhere:
            guess = await post_form(elsewhere, f"/invite/{token}", {"password": f"guess number {n}"})
            assert guess.status_code == 422

    limited = await post_form(client, f"/invite/{token}", {"password": PASSWORD})

    _assert_limited(limited)
    assert 'data-testid="invite-form"' in limited.text


async def test_a_field_hidden_from_forms_cannot_be_set_from_the_public_form(client):
    mailing_list, path = await _form_path()
    await add_field(mailing_list["workspace_id"], mailing_list["id"], {"label": "Plan", "kind": "text",
                                                                      "visible": "", "default_value": "free"})
    await add_field(mailing_list["workspace_id"], mailing_list["id"], {"label": "City", "kind": "text"})

    response = await client.post(path, data={"email": "fan@example.com", "field_plan": "vip", "field_city": "Oslo"})

    assert response.status_code == 200
    row = await Subscriber.select(Subscriber.fields).output(load_json=True).first()
    assert row["fields"] == {"plan": "free", "city": "Oslo"}


async def test_a_filled_honeypot_looks_accepted_but_writes_nothing(client):
    _, path = await _form_path(opt_in="double")
    page = await client.get(path)
    assert f'name="{HONEYPOT}"' in page.text

    response = await client.post(path, data={"email": "bot-target@example.com", HONEYPOT: "http://spam"})

    assert response.status_code == 200 and "Check your inbox" in response.text
    assert await Subscriber.count() == 0
    assert await CapturedMessage.count() == 0


async def test_a_rate_limited_form_keeps_what_was_typed(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    for _ in range(public_limits.FORGOT_PASSWORD.per_address.limit):
        await post_form(client, "/password/forgot", {"email": user["email"]})

    limited = await post_form(client, "/password/forgot", {"email": user["email"]})

    assert f'value="{user["email"]}"' in limited.text


async def test_an_unconfirmed_address_asking_again_gets_a_fresh_link_within_its_limit(client):
    _, path = await _form_path(opt_in="double")
    allowed = public_limits.SUBSCRIBE.per_address.limit
    answers = [await client.post(path, data={"email": "again@example.com"}) for _ in range(allowed + 1)]

    assert [a.status_code for a in answers] == [200] * allowed + [429]
    assert await Subscriber.count() == 1
    assert await CapturedMessage.count() == allowed
