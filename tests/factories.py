"""Building test data through the same services the app uses."""

from __future__ import annotations

import itertools
import re

from httpx import AsyncClient, Response

from app.services.accounts import add_member, create_user, create_workspace

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


async def make_workspace(name: str | None = None) -> dict:
    return await create_workspace(name or f"Workspace {next(_counter)}")


async def make_user(workspace: dict, role: str = "owner", email: str | None = None, password: str = PASSWORD) -> dict:
    user = await create_user(email or f"user{next(_counter)}@example.com", password, name="Test User")
    await add_member(workspace["id"], user["id"], role)
    return user


def csrf_token(client: AsyncClient) -> str:
    return client.cookies.get("ignite_csrf", "")


async def prime_csrf(client: AsyncClient) -> str:
    """The CSRF cookie is set by any safe request; returns its token."""
    if not csrf_token(client):
        await client.get("/login")
    return csrf_token(client)


async def post_form(client: AsyncClient, url: str, data: dict | None = None, **kwargs) -> Response:
    token = await prime_csrf(client)
    return await client.post(url, data={**(data or {}), "_csrf_token": token}, **kwargs)


async def login(client: AsyncClient, email: str, password: str = PASSWORD) -> Response:
    response = await post_form(client, "/login", {"email": email, "password": password, "next": "/"})
    assert response.status_code in (302, 303), response.text[:500]
    return response


async def signed_in_client(client: AsyncClient, role: str = "owner") -> tuple[dict, dict]:
    workspace = await make_workspace()
    user = await make_user(workspace, role)
    await login(client, user["email"])
    return workspace, user


def link_in(text: str, path_prefix: str) -> str:
    """The first link in a message body that starts with base URL + path_prefix."""
    match = re.search(rf"https?://[^\s\"'<>]+{re.escape(path_prefix)}[^\s\"'<>]+", text)
    assert match, f"no {path_prefix} link in message"
    return match.group(0)


async def make_list(workspace: dict, name: str | None = None, **settings) -> dict:
    from app.services.lists import create_list

    return await create_list(workspace["id"], {"name": name or f"List {next(_counter)}", **settings})


async def make_subscribers(mailing_list: dict, n: int, fields: dict | None = None, status: str = "confirmed",
                           prefix: str = "sub", domain: str = "example.com") -> list[dict]:
    """n subscribers `{prefix}{i}@{domain}` with the same fields, in one INSERT ... SELECT generate_series."""
    import json

    from app.db.audience import Subscriber

    return await Subscriber.raw(
        "INSERT INTO subscribers (workspace_id, list_id, email, email_domain, status, fields, confirmed_at) "
        "SELECT {}, {}, {} || g || '@' || {}, {}, {}, {}::jsonb, now() FROM generate_series(1, {}) g "
        "RETURNING id, email",
        mailing_list["workspace_id"], mailing_list["id"], prefix, domain, domain, status, json.dumps(fields or {}), n,
    )


async def make_subscriber(mailing_list: dict, email: str, fields: dict | None = None, **columns) -> dict:
    """One subscriber with any column set directly (status, engagement_score, last_open_at, created_at ...)."""
    from app.db.audience import Subscriber

    row = Subscriber(workspace_id=mailing_list["workspace_id"], list_id=mailing_list["id"], email=email,
                     email_domain=email.rpartition("@")[2], fields=fields or {}, **columns)
    rows = await Subscriber.insert(row).returning(*Subscriber.all_columns())
    return rows[0]


async def make_verified_domain(workspace_id: int, domain: str = "news.example.com", *, dkim_key: bool = False) -> dict:
    """A sending domain whose DNS check passed (SPF, DKIM, DMARC, Return-Path), so campaigns may come from it.

    Without `dkim_key` its key is dropped, for tests about delivery rather than signing.
    """
    from app.db.content import SendingDomain
    from app.services.accounts import now
    from app.services.sending_domains import add_domain

    row = await add_domain(workspace_id, domain)
    changes: dict = {SendingDomain.checked_at: now(),
                     SendingDomain.dns_status: {"DKIM": True, "SPF": True, "DMARC": True, "Return-Path": True}}
    if not dkim_key:
        changes[SendingDomain.dkim_private_key] = ""
    await SendingDomain.update(changes).where(SendingDomain.id == row["id"])
    return row
