"""Templates through the API: sanitised and checked like the editor's saves, versioned, archived on delete,
held to the key's workspace and scope."""

from __future__ import annotations

from app.db.content import EmailTemplate
from tests.api_client import api_key, bearer
from tests.factories import make_workspace

SCOPE = ("campaigns:manage",)
HTML = "<p>Hello {{ first_name | default('there') }}</p><script>alert(1)</script>"


async def test_a_template_is_created_sanitised_updated_and_archived(client):
    workspace = await make_workspace()
    headers = bearer(await api_key(workspace, scopes=SCOPE))
    created = await client.post("/api/v1/templates", headers=headers, json={
        "name": "Welcome", "subject": "Hi {{ first_name }}", "html": HTML, "category": "Onboarding"})
    assert created.status_code == 201, created.text
    template = created.json()
    assert "<script" not in template["html"] and "Hello" in template["html"]
    assert template["removed_on_save"] and template["version"] == 1
    assert (await client.get(f"/api/v1/templates/{template['id']}", headers=headers)).json()["html"] == \
        template["html"]

    updated = await client.put(f"/api/v1/templates/{template['id']}", headers=headers, json={
        "name": "Welcome v2", "html": "<p>Welcome aboard</p>", "text_part": "Welcome aboard"})
    assert updated.status_code == 200
    assert (updated.json()["version"], updated.json()["name"], updated.json()["text_part"]) == (
        2, "Welcome v2", "Welcome aboard")

    listed = (await client.get("/api/v1/templates", headers=headers)).json()
    assert [(row["id"], row["name"]) for row in listed["data"]] == [(template["id"], "Welcome v2")]
    assert "html" not in listed["data"][0]
    assert (await client.delete(f"/api/v1/templates/{template['id']}", headers=headers)).status_code == 204
    assert (await client.get("/api/v1/templates", headers=headers)).json()["data"] == []
    archived = (await client.get("/api/v1/templates?archived=true", headers=headers)).json()["data"]
    assert [row["id"] for row in archived] == [template["id"]] and archived[0]["archived_at"]


async def test_a_template_that_cannot_render_is_refused_beside_its_field_and_nothing_is_stored(client):
    workspace = await make_workspace()
    headers = bearer(await api_key(workspace, scopes=SCOPE))
    broken = await client.post("/api/v1/templates", headers=headers, json={
        "name": "Broken", "html": "<p>{{ first_name </p>"})
    assert broken.status_code == 422 and set(broken.json()["error"]["fields"]) == {"html"}
    unnamed = await client.post("/api/v1/templates", headers=headers, json={"name": " ", "html": "<p>Hi</p>"})
    assert unnamed.status_code == 422 and set(unnamed.json()["error"]["fields"]) == {"name"}
    assert await EmailTemplate.count() == 0


async def test_templates_come_a_page_at_a_time(client):
    headers = bearer(await api_key(await make_workspace(), scopes=SCOPE))
    for name in ("One", "Two", "Three"):
        await client.post("/api/v1/templates", headers=headers, json={"name": name, "html": "<p>Hi</p>"})
    first = (await client.get("/api/v1/templates?limit=2", headers=headers)).json()
    rest = (await client.get(f"/api/v1/templates?limit=2&cursor={first['next_cursor']}", headers=headers)).json()
    assert [row["name"] for row in first["data"] + rest["data"]] == ["One", "Two", "Three"]
    assert rest["next_cursor"] is None


async def test_another_workspaces_template_is_not_found_and_the_scope_is_needed(client):
    other = bearer(await api_key(await make_workspace()))
    theirs = (await client.post("/api/v1/templates", headers=other, json={"name": "Theirs",
                                                                         "html": "<p>Hi</p>"})).json()["id"]
    workspace = await make_workspace()
    headers = bearer(await api_key(workspace, scopes=SCOPE))
    assert (await client.get(f"/api/v1/templates/{theirs}", headers=headers)).status_code == 404
    assert (await client.put(f"/api/v1/templates/{theirs}", headers=headers,
                             json={"name": "Mine", "html": "<p>x</p>"})).status_code == 404
    assert (await client.delete(f"/api/v1/templates/{theirs}", headers=headers)).status_code == 404
    assert (await EmailTemplate.select(EmailTemplate.name, EmailTemplate.archived_at).first()) == {
        "name": "Theirs", "archived_at": None}
    stats_only = bearer(await api_key(workspace, scopes=("stats:read",)))
    refused = await client.get("/api/v1/templates", headers=stats_only)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
