"""The API's refusals in one shape: `fields` maps each refused field to its message, 404s speak to a program."""

from __future__ import annotations

from tests.api_client import api_key, bearer
from tests.factories import make_workspace


async def test_a_body_that_does_not_fit_its_schema_names_each_field(client):
    headers = bearer(await api_key(await make_workspace(), scopes=("lists:manage",)))
    missing = await client.post("/api/v1/lists", headers=headers, json={"description": "no name"})
    assert missing.status_code == 400
    assert list(missing.json()["error"]["fields"]) == ["name"]
    wrong_type = await client.post("/api/v1/lists", headers=headers, json={"name": "News", "welcome_email": "often"})
    assert wrong_type.status_code == 400
    assert list(wrong_type.json()["error"]["fields"]) == ["welcome_email"]


async def test_an_unknown_id_is_a_404_worded_for_a_program_not_a_page(client):
    headers = bearer(await api_key(await make_workspace(), scopes=("lists:manage",)))
    answer = await client.get("/api/v1/lists/987654", headers=headers)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert "Reload the page" not in answer.json()["error"]["message"]


async def test_the_schema_declares_the_bearer_key_so_the_docs_page_can_send_it(client):
    schema = (await client.get("/api/v1/docs/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "ig_live_… or ig_test_…"}
    assert schema["security"] == [{"ApiKey": []}]
