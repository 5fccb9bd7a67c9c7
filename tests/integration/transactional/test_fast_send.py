"""`POST /api/v1/messages` answered in the API middleware for its common case (`send_fast`), and by the handler
for everything else, with one shape for every answer either way."""

from __future__ import annotations

import json

from app.db.campaigns import Delivery
from app.routes.api.messages import send_fast
from app.web.api_auth import ApiCaller
from tests.api_client import api_key, bearer
from tests.integration.transactional.helpers import raw_message, sender


def _caller(workspace: dict, scopes: tuple[str, ...] = ("messages:send",)) -> ApiCaller:
    return ApiCaller(key_id=0, workspace_id=workspace["id"], sandbox=False, scopes=frozenset(scopes))


async def test_a_well_formed_message_is_accepted_by_the_fast_answer(queue) -> None:
    caller = await sender()
    status, body = await send_fast(_caller(caller.workspace), json.dumps(raw_message("ann@example.com")).encode())
    assert status == 202
    answer = json.loads(body)
    assert answer["status"] == "queued"
    [delivery] = await Delivery.select().where(Delivery.id == answer["id"])
    assert delivery["email"] == "ann@example.com"


async def test_bodies_it_does_not_take_and_refusals_are_left_to_the_handler(queue) -> None:
    caller = await sender()
    for body in (b"{not json", json.dumps({**raw_message("ann@example.com"), "template_id": "7"}).encode(),
                 json.dumps({**raw_message("ann@example.com"), "surprise": 1, "to": 5}).encode(),
                 json.dumps(raw_message("not an address")).encode(),
                 json.dumps({"to": "ann@example.com", "template_id": 2_000_000_000}).encode()):
        assert await send_fast(_caller(caller.workspace), body) is None, body
    assert await Delivery.count() == 0


async def test_the_answers_keep_the_handlers_shape_either_way(client, queue) -> None:
    caller = await sender()
    fast = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message("ann@example.com"))
    # A request with a query string is the handler's.
    handled = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message("bo@example.com"),
                                params={"via": "handler"})
    assert fast.status_code == handled.status_code == 202
    assert set(fast.json()) == set(handled.json()) == {"id", "status"}
    assert [name for name in fast.headers if name != "date"] == [name for name in handled.headers if name != "date"]
    refused = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message("not an address"))
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid"
    assert set(refused.json()["error"]["fields"]) == {"to"}
    undecodable = await client.post("/api/v1/messages", headers=caller.headers, json={"to": 5})
    assert undecodable.status_code == 400 and "fields" in undecodable.json()["error"]


async def test_a_refused_message_with_an_idempotency_key_replays_its_refusal(client, queue) -> None:
    caller = await sender()
    headers = {**caller.headers, "Idempotency-Key": "refused-once"}
    first = await client.post("/api/v1/messages", headers=headers, json=raw_message("not an address"))
    retry = await client.post("/api/v1/messages", headers=headers, json=raw_message("not an address"))
    assert first.status_code == retry.status_code == 422
    assert retry.headers["idempotent-replayed"] == "true" and retry.json() == first.json()


async def test_a_key_without_the_scope_is_refused_by_the_handlers_guard(client, queue) -> None:
    caller = await sender()
    reader = bearer(await api_key(caller.workspace, scopes=("messages:read",)))
    answer = await client.post("/api/v1/messages", headers=reader, json=raw_message("ann@example.com"))
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "insufficient_scope"
    assert await Delivery.count() == 0
