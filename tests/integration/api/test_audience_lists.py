"""Lists and their custom fields through the API: the list services' rules, keyset pages, other workspaces 404."""

from __future__ import annotations

from app.db.api_keys import ApiKey
from app.db.audit import AuditEntry
from app.services import custom_fields, lists
from tests.api_client import api_key, bearer
from tests.factories import make_list, make_workspace


async def _caller(scopes=("lists:manage",)) -> tuple[dict, dict[str, str]]:
    workspace = await make_workspace()
    return workspace, bearer(await api_key(workspace, scopes=scopes))


async def _key_id(workspace: dict) -> int:
    return (await ApiKey.select(ApiKey.id).where(ApiKey.workspace_id == workspace["id"]).first())["id"]


async def test_a_list_is_created_read_updated_and_deleted(client):
    workspace, headers = await _caller()
    created = await client.post("/api/v1/lists", headers=headers,
                                json={"name": "Buyers", "opt_in": "double", "from_email": "News@Example.com"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["name"], body["opt_in"], body["from_email"]) == ("Buyers", "double", "news@example.com")
    assert body["counts"]["total"] == 0
    list_id = body["id"]

    changed = await client.patch(f"/api/v1/lists/{list_id}", headers=headers,
                                 json={"description": "Paying customers", "archived": True})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["description"], changed.json()["archived"]) == (
        "Buyers", "Paying customers", True)
    stored = await lists.get_list(workspace["id"], list_id)
    assert stored["opt_in"] == "double" and stored["archived_at"] is not None

    assert (await client.get(f"/api/v1/lists/{list_id}", headers=headers)).json()["description"] == "Paying customers"
    assert (await client.delete(f"/api/v1/lists/{list_id}", headers=headers)).status_code == 204
    assert await lists.get_list(workspace["id"], list_id) is None
    entries = await AuditEntry.select(AuditEntry.action, AuditEntry.actor).where(
        AuditEntry.workspace_id == workspace["id"]).order_by(AuditEntry.id)
    assert [entry["action"] for entry in entries] == ["list.created", "list.updated", "list.archived", "list.deleted"]
    assert {entry["actor"] for entry in entries} == {f"API key #{await _key_id(workspace)}"}


async def test_bad_list_values_are_refused_field_by_field_and_nothing_is_created(client):
    workspace, headers = await _caller()
    await make_list(workspace, "Taken")
    answer = await client.post("/api/v1/lists", headers=headers,
                               json={"name": "Taken", "opt_in": "triple", "reply_to": "not an address"})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"opt_in", "reply_to"}
    duplicate = await client.post("/api/v1/lists", headers=headers, json={"name": "Taken"})
    assert duplicate.status_code == 422 and "name" in duplicate.json()["error"]["fields"]
    assert len(await lists.lists_with_counts(workspace["id"])) == 1


async def test_lists_come_in_keyset_pages_with_their_counters(client):
    workspace, headers = await _caller()
    made = [await make_list(workspace, f"List {n}") for n in range(5)]
    await make_list(await make_workspace(), "Someone else's")
    seen, cursor = [], None
    while True:
        page = (await client.get("/api/v1/lists", headers=headers,
                                 params={"limit": 2, **({"cursor": cursor} if cursor else {})})).json()
        seen += [row["id"] for row in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [row["id"] for row in made]
    bad = await client.get("/api/v1/lists", headers=headers, params={"cursor": "bm90IG91cnM"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"


async def test_another_workspaces_list_and_fields_are_not_found(client):
    _, headers = await _caller()
    theirs = await make_list(await make_workspace(), "Theirs")
    field = await custom_fields.add_field(theirs["workspace_id"], theirs["id"], {"label": "City"})
    for method, url, body in [
        ("GET", f"/api/v1/lists/{theirs['id']}", None),
        ("PATCH", f"/api/v1/lists/{theirs['id']}", {"name": "Mine now"}),
        ("DELETE", f"/api/v1/lists/{theirs['id']}", None),
        ("GET", f"/api/v1/lists/{theirs['id']}/fields", None),
        ("POST", f"/api/v1/lists/{theirs['id']}/fields", {"label": "Stolen"}),
        ("PATCH", f"/api/v1/lists/{theirs['id']}/fields/{field['id']}", {"label": "Stolen"}),
        ("DELETE", f"/api/v1/lists/{theirs['id']}/fields/{field['id']}", None),
    ]:
        answer = await client.request(method, url, headers=headers, json=body)
        assert answer.status_code == 404, (method, url, answer.text)
        assert answer.json()["error"]["code"] == "not_found"
    assert (await lists.get_list(theirs["workspace_id"], theirs["id"]))["name"] == "Theirs"
    assert [f["label"] for f in await custom_fields.fields_of(theirs["workspace_id"], theirs["id"])] == ["City"]


async def test_a_field_of_one_list_is_not_reached_through_another(client):
    workspace, headers = await _caller()
    first, second = await make_list(workspace, "First"), await make_list(workspace, "Second")
    field = await custom_fields.add_field(workspace["id"], first["id"], {"label": "City"})
    answer = await client.patch(f"/api/v1/lists/{second['id']}/fields/{field['id']}", headers=headers,
                                json={"label": "Town"})
    assert answer.status_code == 404


async def test_custom_fields_are_added_changed_and_removed(client):
    workspace, headers = await _caller()
    mailing_list = await make_list(workspace, "Shop")
    base = f"/api/v1/lists/{mailing_list['id']}/fields"
    added = await client.post(base, headers=headers,
                              json={"label": "Plan", "kind": "dropdown", "options": ["free", "pro"]})
    assert added.status_code == 201, added.text
    field = added.json()
    assert (field["tag"], field["options"]) == ("plan", ["free", "pro"])
    refused = await client.post(base, headers=headers, json={"label": "Size", "kind": "dropdown"})
    assert refused.status_code == 422 and "options" in refused.json()["error"]["fields"]
    reserved = await client.post(base, headers=headers, json={"label": "Email", "tag": "email"})
    assert reserved.status_code == 422 and "tag" in reserved.json()["error"]["fields"]

    changed = await client.patch(f"{base}/{field['id']}", headers=headers,
                                 json={"label": "Plan name", "options": ["free", "pro", "team"], "required": True})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["label"], changed.json()["tag"], changed.json()["required"]) == ("Plan name", "plan", True)
    listed = (await client.get(base, headers=headers)).json()
    assert [row["options"] for row in listed] == [["free", "pro", "team"]]
    assert (await client.delete(f"{base}/{field['id']}", headers=headers)).status_code == 204
    assert await custom_fields.fields_of(workspace["id"], mailing_list["id"]) == []


async def test_lists_need_the_lists_scope(client):
    workspace, headers = await _caller(scopes=("subscribers:write",))
    answer = await client.post("/api/v1/lists", headers=headers, json={"name": "Nope"})
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "insufficient_scope"
    assert await lists.lists_with_counts(workspace["id"]) == []
