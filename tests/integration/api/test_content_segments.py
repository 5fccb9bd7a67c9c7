"""Segments through the API: defined with the builder's condition tree and its checks, counted, paged, exported,
each held to its scope and to the key's workspace."""

from __future__ import annotations

import csv
import io
import json

from app.db.audit import AuditEntry
from app.db.segments import Segment
from tests.api_client import api_key, bearer
from tests.factories import make_list, make_workspace
from tests.integration.segments.helpers import make_audience

PARIS = {"kind": "field", "field": "city", "op": "starts_with", "value": "Paris"}


def _tree(*rules: dict) -> dict:
    return {"match": "all", "rules": list(rules)}


async def test_a_segment_is_defined_counted_changed_and_deleted(client):
    audience = await make_audience()
    workspace, list_id = audience["workspace"], audience["list"]["id"]
    headers = bearer(await api_key(workspace, scopes=("lists:manage", "subscribers:read")))

    created = await client.post("/api/v1/segments", headers=headers, json={
        "name": "Parisians", "list_ids": [list_id], "conditions": _tree(PARIS)})
    assert created.status_code == 201, created.text
    segment = created.json()
    assert (segment["name"], segment["cached_count"], segment["conditions"]["rules"]) == ("Parisians", 2, [PARIS])

    count = await client.get(f"/api/v1/segments/{segment['id']}/count", headers=headers)
    assert count.status_code == 200 and count.json()["count"] == 2
    unsaved = await client.post("/api/v1/segments/count", headers=headers, json={"list_ids": [list_id]})
    assert unsaved.status_code == 200 and unsaved.json()["count"] == 5

    changed = await client.put(f"/api/v1/segments/{segment['id']}", headers=headers, json={
        "name": "Everyone", "description": "all of them", "list_ids": [list_id]})
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["cached_count"]) == ("Everyone", 5)
    assert (await client.get(f"/api/v1/segments/{segment['id']}", headers=headers)).json()["name"] == "Everyone"

    assert (await client.delete(f"/api/v1/segments/{segment['id']}", headers=headers)).status_code == 204
    assert (await client.get(f"/api/v1/segments/{segment['id']}", headers=headers)).status_code == 404
    actions = [row["action"] for row in await AuditEntry.select(AuditEntry.action).where(
        AuditEntry.workspace_id == workspace["id"]).order_by(AuditEntry.id)]
    assert actions == ["segment.created", "segment.updated", "segment.deleted"]


async def test_a_definition_the_builder_would_refuse_is_a_422_naming_the_rule_and_nothing_is_saved(client):
    audience = await make_audience()
    headers = bearer(await api_key(audience["workspace"], scopes=("lists:manage",)))
    answer = await client.post("/api/v1/segments", headers=headers, json={
        "name": "", "list_ids": [audience["list"]["id"]],
        "conditions": _tree(PARIS, {"kind": "field", "field": "shoe_size", "op": "equals", "value": "9"})})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"name", "r.1"} and "shoe_size" in error["fields"]["r.1"]
    assert await Segment.count() == 0


async def test_segments_come_a_page_at_a_time(client):
    workspace = await make_workspace()
    await make_list(workspace, "Main")
    headers = bearer(await api_key(workspace))
    for name in ("A", "B", "C"):
        assert (await client.post("/api/v1/segments", headers=headers, json={"name": name})).status_code == 201
    first = (await client.get("/api/v1/segments?limit=2", headers=headers)).json()
    assert [row["name"] for row in first["data"]] == ["A", "B"] and first["next_cursor"]
    rest = (await client.get(f"/api/v1/segments?limit=2&cursor={first['next_cursor']}", headers=headers)).json()
    assert [row["name"] for row in rest["data"]] == ["C"] and rest["next_cursor"] is None
    assert (await client.get("/api/v1/segments?cursor=bm9wZQ", headers=headers)).status_code == 400


async def test_an_export_streams_the_mailable_subscribers_with_the_fields_asked_for(client):
    audience = await make_audience()
    headers = bearer(await api_key(audience["workspace"], scopes=("lists:manage", "subscribers:read")))
    created = (await client.post("/api/v1/segments", headers=headers, json={
        "name": "Parisians", "list_ids": [audience["list"]["id"]], "conditions": _tree(PARIS)})).json()
    answer = await client.get(f"/api/v1/segments/{created['id']}/export.csv?field=city&field=age", headers=headers)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(row["email"], row["city"], row["age"]) for row in rows] == [
        ("ann@example.com", "Paris", "30"), ("eve@example.com", "Parisville", "52")]

    lines = await client.get(f"/api/v1/segments/{created['id']}/export.jsonl?field=city", headers=headers)
    assert lines.status_code == 200 and lines.headers["content-type"].startswith("application/x-ndjson")
    people = [json.loads(line) for line in lines.text.splitlines()]
    assert [(person["email"], person["status"], person["fields"]) for person in people] == [
        ("ann@example.com", "confirmed", {"city": "Paris"}), ("eve@example.com", "confirmed", {"city": "Parisville"})]
    assert people[0]["subscribed_at"].endswith("Z")


async def test_each_action_needs_its_scope(client):
    audience = await make_audience()
    reader = bearer(await api_key(audience["workspace"], scopes=("subscribers:read",)))
    manager = bearer(await api_key(audience["workspace"], scopes=("lists:manage",)))
    refused = await client.post("/api/v1/segments", headers=reader, json={"name": "Nope"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
    created = await client.post("/api/v1/segments", headers=manager, json={"name": "All"})
    assert created.status_code == 201
    segment_id = created.json()["id"]
    assert (await client.get(f"/api/v1/segments/{segment_id}/count", headers=manager)).status_code == 403
    assert (await client.get(f"/api/v1/segments/{segment_id}/export.csv", headers=manager)).status_code == 403
    assert (await client.get(f"/api/v1/segments/{segment_id}/count", headers=reader)).status_code == 200


async def test_another_workspaces_segment_or_list_is_not_found(client):
    audience = await make_audience()
    other = await make_audience(await make_workspace())
    theirs = bearer(await api_key(other["workspace"]))
    mine = bearer(await api_key(audience["workspace"]))
    segment_id = (await client.post("/api/v1/segments", headers=theirs, json={"name": "Theirs"})).json()["id"]
    for method, path in [("GET", ""), ("GET", "/count"), ("GET", "/export.csv"), ("GET", "/export.jsonl"),
                         ("DELETE", "")]:
        answer = await client.request(method, f"/api/v1/segments/{segment_id}{path}", headers=mine)
        assert answer.status_code == 404, (method, path)
    put = await client.put(f"/api/v1/segments/{segment_id}", headers=mine, json={"name": "Mine now"})
    assert put.status_code == 404
    foreign_list = await client.post("/api/v1/segments", headers=mine, json={
        "name": "Sneaky", "list_ids": [other["list"]["id"]]})
    assert foreign_list.status_code == 422 and "list_ids" in foreign_list.json()["error"]["fields"]
    assert (await client.get("/api/v1/segments", headers=mine)).json()["data"] == []
