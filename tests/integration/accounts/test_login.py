from app.services.accounts import authenticate
from tests.factories import PASSWORD, login, make_user, make_workspace, post_form


async def test_login_page_renders_form_with_csrf_field(client):
    response = await client.get("/login")
    assert response.status_code == 200
    assert 'name="_csrf_token"' in response.text
    assert 'data-testid="login-submit"' in response.text


async def test_owner_logs_in_and_sees_both_portals(client):
    workspace = await make_workspace("Acme")
    user = await make_user(workspace, "owner")
    response = await login(client, user["email"])
    assert response.headers["location"] == "/"
    landing = await client.get("/")
    assert landing.status_code == 200
    assert 'data-testid="portal-card-mailing"' in landing.text
    assert 'data-testid="portal-card-analytics"' in landing.text
    assert "Acme" in landing.text


async def test_wrong_password_is_refused_with_a_clear_message(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    response = await post_form(client, "/login", {"email": user["email"], "password": "wrong password!"})
    assert response.status_code == 422
    assert "do not match an account" in response.text
    assert (await client.get("/", follow_redirects=False)).status_code == 303


async def test_unknown_user_gets_the_same_message_as_wrong_password(client):
    response = await post_form(client, "/login", {"email": "nobody@example.com", "password": "whatever12345"})
    assert response.status_code == 422
    assert "do not match an account" in response.text


async def test_login_is_throttled_after_repeated_failures(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    for _ in range(5):
        await post_form(client, "/login", {"email": user["email"], "password": "wrong password!"})
    locked = await post_form(client, "/login", {"email": user["email"], "password": PASSWORD})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
    assert "Too many failed sign-ins" in locked.text


async def test_pages_redirect_to_login_when_signed_out(client):
    response = await client.get("/mailing/lists", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/mailing/lists"


async def test_login_never_redirects_off_site(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    response = await post_form(client, "/login",
                               {"email": user["email"], "password": PASSWORD, "next": "//evil.example/x"})
    assert response.headers["location"] == "/"


async def test_logout_ends_the_session(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    await login(client, user["email"])
    await post_form(client, "/logout")
    assert (await client.get("/", follow_redirects=False)).status_code == 303


async def test_authenticate_ignores_inactive_users():
    workspace = await make_workspace()
    user = await make_user(workspace)
    from app.db.accounts import User

    await User.update({User.is_active: False}).where(User.id == user["id"])
    assert await authenticate(user["email"], PASSWORD) is None


async def test_session_id_changes_at_sign_in(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    await client.get("/login")
    planted = "a" * 64
    client.cookies.delete("ignite_session")
    client.cookies.set("ignite_session", planted, domain="127.0.0.1")
    response = await login(client, user["email"])
    issued = next(h for h in response.headers.get_list("set-cookie") if h.startswith("ignite_session="))
    assert planted not in issued
    assert (await client.get("/")).status_code == 200
    from app.redis_client import get_redis

    assert not await get_redis().exists(f"ignite:sessions{planted}")


async def test_session_cookie_is_httponly_and_samesite_lax(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    response = await login(client, user["email"])
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("ignite_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


async def test_sign_out_everywhere_ends_every_session_of_the_user(server):
    import httpx

    workspace = await make_workspace()
    user = await make_user(workspace)
    transport = httpx.ASGITransport(app=server, client=("127.0.0.1", 50000))
    async with (httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as laptop,
                httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as phone):
        await login(laptop, user["email"])
        await login(phone, user["email"])
        assert (await phone.get("/")).status_code == 200
        response = await post_form(laptop, "/account/sign-out-everywhere")
        assert response.status_code == 303
        assert (await phone.get("/", follow_redirects=False)).status_code == 303
        assert (await laptop.get("/", follow_redirects=False)).status_code == 303
        await login(phone, user["email"])
        assert (await phone.get("/")).status_code == 200
