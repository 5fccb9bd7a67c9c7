"""Standing check: every registered route, called with the real ids of a first workspace, gives nothing of
that workspace to an anonymous caller (sent to sign in), to its analyst (refused every change) or to a member
of another workspace (404, or a page of their own): no name or address of it in any answer, and no change
to any of its rows."""

from __future__ import annotations

import json
from typing import Any

from litestar.status_codes import HTTP_303_SEE_OTHER

from app.db.accounts import Workspace
from tests.factories import login, make_user, make_workspace
from tests.integration.security.walking import (
    Endpoint,
    FirstWorkspace,
    call,
    endpoints,
    first_workspace,
    id_form,
    path_values_for,
)

REFUSED = (401, 403, 404)
# Tables whose rows a failed attempt may add to (sign-in notices, audit entries): not the workspace's data.
JOURNALS = ("audit_log",)


async def snapshot(workspace_id: int) -> dict[str, list[str]]:
    """Every row of every table that belongs to the workspace, as JSON."""
    tables = await Workspace.raw(
        "SELECT DISTINCT c.table_name FROM information_schema.columns c JOIN pg_class p ON p.relname = c.table_name "
        "WHERE c.table_schema = 'public' AND c.column_name = 'workspace_id' AND p.relkind = 'r' ORDER BY 1")
    rows = {}
    for table in (row["table_name"] for row in tables if row["table_name"] not in JOURNALS):
        found = await Workspace.raw(f'SELECT to_jsonb(t)::text AS row FROM "{table}" t WHERE workspace_id = {{}} '
                                    "ORDER BY 1", workspace_id)
        rows[table] = [row["row"] for row in found]
    return rows


def _to_sign_in(response: Any) -> bool:
    location = response.headers.get("location", "") or response.headers.get("hx-redirect", "")
    return response.status_code in REFUSED or (response.status_code in (200, HTTP_303_SEE_OTHER)
                                               and location.startswith("/login"))


def _stranger_values(endpoint: Endpoint, first: FirstWorkspace) -> dict[str, Any]:
    """The first workspace's ids in the path; text parameters (tokens) are ones a stranger cannot know."""
    return {**path_values_for(endpoint, first.ids), "token": "not-a-token", "str": "not-a-token", "path": "x"}


# An address of the first workspace that the caller types in (a page may repeat what was asked).
ASKED = "zqsubscriber@first.example"


def _id_query(first: FirstWorkspace) -> dict[str, Any]:
    ids = first.ids
    return {"list_id": ids["list_id"], "segment_id": ids["segment_id"], "tag_id": ids["list_id"], "email": ASKED,
            "addresses": ASKED}


def _leaks(first: FirstWorkspace, endpoint: Endpoint, text: str) -> list[str]:
    return [f"{endpoint}: {secret}" for secret in first.leaked(text.replace(ASKED, "")) if secret != ASKED]


async def test_anonymous_callers_are_sent_to_sign_in_and_learn_nothing(client, app):
    first = await first_workspace()
    leaks, wrong = [], []
    for endpoint in endpoints(app):
        url = endpoint.url(_stranger_values(endpoint, first))
        response = await call(client, endpoint, url, _id_query(first), id_form(first.ids))
        leaks += _leaks(first, endpoint, response.text)
        if endpoint.guarded and not _to_sign_in(response):
            wrong.append(f"{endpoint}: {response.status_code}")
        if response.status_code >= 500:
            wrong.append(f"{endpoint}: {response.status_code}")
    assert not leaks, leaks
    assert not wrong, wrong


async def test_an_analyst_is_refused_every_change(client, app):
    first = await first_workspace()
    analyst = await make_user(first.workspace, "analyst", email="zqanalyst@first.example")
    await login(client, analyst["email"])
    before = await snapshot(first.workspace["id"])
    wrong = []
    for endpoint in endpoints(app):
        if not endpoint.guarded or endpoint.least_role == "analyst":
            continue
        url = endpoint.url(path_values_for(endpoint, first.ids))
        response = await call(client, endpoint, url, form=id_form(first.ids))
        if response.status_code != 403:
            wrong.append(f"{endpoint}: {response.status_code}")
    assert not wrong, wrong
    assert await snapshot(first.workspace["id"]) == before


async def test_a_member_of_another_workspace_gets_nothing_of_the_first(client, app):
    first = await first_workspace()
    stranger = await make_user(await make_workspace("Second Co"), "owner", email="stranger@second.example")
    await login(client, stranger["email"])
    before = await snapshot(first.workspace["id"])
    leaks, wrong = [], []
    for endpoint in endpoints(app):
        if endpoint.streams and not endpoint.int_params:
            continue  # the stranger's own live feeds, which never end
        url = endpoint.url(_stranger_values(endpoint, first))
        response = await call(client, endpoint, url, _id_query(first), id_form(first.ids))
        leaks += _leaks(first, endpoint, response.text)
        if endpoint.guarded and endpoint.int_params and response.status_code not in REFUSED:
            wrong.append(f"{endpoint}: {response.status_code}")
        if response.status_code >= 500:
            wrong.append(f"{endpoint}: {response.status_code}")
    assert not leaks, leaks
    assert not wrong, wrong
    after = await snapshot(first.workspace["id"])
    changed = {table: [json.loads(row) for row in rows if row not in before.get(table, [])]
               for table, rows in after.items() if rows != before.get(table)}
    assert not changed, changed
