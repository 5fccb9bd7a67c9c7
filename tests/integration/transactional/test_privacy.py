"""A person's transactional mail under GDPR: in their export, and its merge data gone when they are erased."""

from __future__ import annotations

from app.db.transactional import TransactionalMessage
from app.services import privacy
from tests.integration.transactional.helpers import raw_message, sender


async def test_an_export_lists_the_messages_and_an_erasure_removes_their_data(client, queue) -> None:
    caller = await sender()
    answer = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message(
        "ann@example.com", data={"order": "A-1", "street": "1 Elm Row"}, metadata={"customer": 77}))
    assert answer.status_code == 202, answer.text
    other = await client.post("/api/v1/messages", headers=caller.headers, json=raw_message(
        "bo@example.com", data={"order": "B-2"}))
    workspace_id = caller.workspace["id"]

    exported = await privacy.person_export(workspace_id, "Ann@example.com")
    [message] = exported["transactional_messages"]
    assert message["id"] == answer.json()["id"] and "1 Elm Row" in str(message["data"])

    # Ann is no subscriber: the erasure still reaches what was sent to her, and only that.
    assert await privacy.erase_person(workspace_id, "ann@example.com") == 0
    rows = {row["id"]: row for row in await TransactionalMessage.select().output(load_json=True)}
    assert (rows[answer.json()["id"]]["data"], rows[answer.json()["id"]]["metadata"]) == ({}, {})
    assert rows[other.json()["id"]]["data"] == {"order": "B-2"}
