"""Suppression through the API: addresses, hashes and domains added to the blacklist or a named list, removed,
listed a page at a time, checked with the reasons; every send and count subtracts them at once."""

from __future__ import annotations

import hashlib

from app.db.audit import AuditEntry
from app.db.suppression import SuppressionEntry
from app.web.api_pages import encode_cursor
from tests.api_client import api_key, bearer
from tests.factories import make_list, make_subscriber, make_subscribers, make_workspace

SCOPE = ("suppression:manage",)


async def test_entries_go_to_the_blacklist_and_every_count_subtracts_them(client):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace, "Main")
    await make_subscribers(mailing_list, 3, prefix="reader", domain="example.com")
    await make_subscriber(mailing_list, "ann@spam.example")
    headers = bearer(await api_key(workspace, scopes=(*SCOPE, "subscribers:read")))
    assert (await client.post("/api/v1/segments/count", headers=headers, json={})).json()["count"] == 4

    digest = hashlib.md5(b"reader2@example.com").hexdigest()
    added = await client.post("/api/v1/suppression/entries", headers=headers, json={
        "entries": ["Reader1@Example.com", "@spam.example", digest, "not an entry"], "reason": "complained by phone"})
    assert added.status_code == 200, added.text
    assert added.json() | {"list_id": 0} == {"list_id": 0, "added": 3, "already_present": 0,
                                             "invalid": ["not an entry"]}
    again = await client.post("/api/v1/suppression/entries", headers=headers, json={"entries": ["@spam.example"]})
    assert (again.json()["added"], again.json()["already_present"]) == (0, 1)
    assert (await client.post("/api/v1/segments/count", headers=headers, json={})).json()["count"] == 1

    lists = (await client.get("/api/v1/suppression/lists", headers=headers)).json()["data"]
    assert [(row["name"], row["is_blacklist"], row["entry_count"]) for row in lists] == [("Blacklist", True, 3)]
    assert added.json()["list_id"] == lists[0]["id"]


async def test_check_says_whether_an_address_is_suppressed_and_why(client):
    workspace = await make_workspace()
    mailing_list = await make_list(workspace, "Main")
    await make_subscriber(mailing_list, "gone@example.com", status="unsubscribed")
    headers = bearer(await api_key(workspace, scopes=SCOPE))
    await client.post("/api/v1/suppression/entries", headers=headers, json={"entries": ["@spam.example"]})

    spam = (await client.get("/api/v1/suppression/check?email=Bob@Spam.example", headers=headers)).json()
    assert (spam["email"], spam["suppressed"], spam["mailable"]) == ("bob@spam.example", True, False)
    assert spam["matches"] == [{"list_name": "Blacklist", "is_blacklist": True, "kind": "domain",
                                "value": "spam.example"}]
    assert "blacklist" in spam["reasons"][0]
    gone = (await client.get("/api/v1/suppression/check?email=gone@example.com", headers=headers)).json()
    assert (gone["suppressed"], gone["mailable"], gone["matches"]) == (False, False, [])
    assert "unsubscribed" in gone["reasons"][0]
    fresh = (await client.get("/api/v1/suppression/check?email=new@example.com", headers=headers)).json()
    assert (fresh["suppressed"], fresh["mailable"], fresh["reasons"]) == (False, True, [])
    bad = await client.get("/api/v1/suppression/check?email=nobody", headers=headers)
    assert bad.status_code == 422 and "email" in bad.json()["error"]["fields"]


async def test_a_named_list_is_filled_paged_emptied_and_deleted(client):
    workspace = await make_workspace()
    headers = bearer(await api_key(workspace, scopes=SCOPE))
    created = await client.post("/api/v1/suppression/lists", headers=headers, json={"name": "Affiliate X"})
    assert created.status_code == 201
    list_id = created.json()["id"]
    entries = ["a@example.com", "b@example.com", "c@example.com", "d.example.net"]
    await client.post("/api/v1/suppression/entries", headers=headers, json={"entries": entries, "list_id": list_id})

    first = (await client.get(f"/api/v1/suppression/lists/{list_id}/entries?limit=3", headers=headers)).json()
    assert [row["value"] for row in first["data"]] == ["a@example.com", "b@example.com", "c@example.com"]
    rest = (await client.get(f"/api/v1/suppression/lists/{list_id}/entries?limit=3&cursor={first['next_cursor']}",
                             headers=headers)).json()
    assert [row["value"] for row in rest["data"]] == ["d.example.net"] and rest["next_cursor"] is None

    removed = await client.post("/api/v1/suppression/entries/remove", headers=headers, json={
        "entries": ["A@example.com", "x@example.com"], "list_id": list_id})
    assert removed.json() == {"list_id": list_id, "removed": 1, "invalid": []}
    one = first["data"][1]
    assert (await client.delete(f"/api/v1/suppression/lists/{list_id}/entries/{one['id']}",
                                headers=headers)).status_code == 204
    assert {row["value"] for row in await SuppressionEntry.select(SuppressionEntry.value)} == {
        "c@example.com", "d.example.net"}

    assert (await client.delete(f"/api/v1/suppression/lists/{list_id}", headers=headers)).status_code == 204
    blacklist_id = (await client.get("/api/v1/suppression/lists", headers=headers)).json()["data"][0]["id"]
    kept = await client.delete(f"/api/v1/suppression/lists/{blacklist_id}", headers=headers)
    assert kept.status_code == 422
    actions = [row["action"] for row in await AuditEntry.select(AuditEntry.action).order_by(AuditEntry.id)]
    assert actions == ["suppression_list.created", "suppression.entries_added", "suppression.entries_removed",
                       "suppression.entry_removed", "suppression_list.deleted"]


async def test_another_workspaces_list_is_not_found_and_the_scope_is_needed(client):
    workspace, other = await make_workspace(), await make_workspace()
    theirs = (await client.post("/api/v1/suppression/lists", headers=bearer(await api_key(other)),
                                json={"name": "Theirs"})).json()["id"]
    headers = bearer(await api_key(workspace, scopes=SCOPE))
    added = await client.post("/api/v1/suppression/entries", headers=headers,
                              json={"entries": ["a@example.com"], "list_id": theirs})
    assert added.status_code == 404
    assert (await client.get(f"/api/v1/suppression/lists/{theirs}/entries", headers=headers)).status_code == 404
    assert (await client.delete(f"/api/v1/suppression/lists/{theirs}", headers=headers)).status_code == 404
    assert await SuppressionEntry.count() == 0

    empty = await client.post("/api/v1/suppression/entries", headers=headers, json={"entries": []})
    assert empty.status_code == 400
    reader = bearer(await api_key(workspace, scopes=("subscribers:read",)))
    refused = await client.post("/api/v1/suppression/entries", headers=reader, json={"entries": ["a@example.com"]})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"


async def test_a_cursor_this_api_did_not_give_is_refused(client):
    workspace = await make_workspace()
    headers = bearer(await api_key(workspace, scopes=(*SCOPE, "campaigns:manage")))
    list_id = (await client.get("/api/v1/suppression/lists", headers=headers)).json()["data"][0]["id"]
    for cursor in (encode_cursor("a@example.com|" + "9" * 30), encode_cursor(["x"]), "%%%"):
        answer = await client.get(f"/api/v1/suppression/lists/{list_id}/entries?cursor={cursor}", headers=headers)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_cursor", cursor
    huge = await client.get(f"/api/v1/campaigns?cursor={encode_cursor(2**40)}", headers=headers)
    assert huge.status_code == 400 and huge.json()["error"]["code"] == "invalid_cursor"
