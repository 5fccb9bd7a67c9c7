"""One stored content per distinct content: messages that carry the same one point at the same row, so a
template's HTML is not written again for every message; any difference (the template's next version, another
sender, attachments) is a content of its own, and each message keeps reading the one it was sent with."""

from __future__ import annotations

import asyncio
import base64

from app.db.transactional import TransactionalContent, TransactionalMessage
from app.piccolo_conf import DB
from app.services import privacy
from app.services.sqlparams import fetch_positional
from app.services.templates import checked_template, create_template, save_template
from app.services.transactional import ContentInput, RecipientInput, Submission, accept_message, events, previews
from tests.integration.transactional.helpers import HTML, SENDER, raw_message, sender


async def _content_ids(ids: list[int]) -> list[int]:
    rows = await TransactionalMessage.select(TransactionalMessage.id, TransactionalMessage.content_id).where(
        TransactionalMessage.id.is_in(ids))
    by_id = {row["id"]: row["content_id"] for row in rows}
    return [by_id[message_id] for message_id in ids]


async def _statements_waiting_on_a_lock() -> int:
    return (await fetch_positional("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                   "AND datname = current_database()", []))[0]["n"]


async def _sent(client, caller, bodies: list[dict]) -> list[int]:
    answers = [await client.post("/api/v1/messages", headers=caller.headers, json=body) for body in bodies]
    assert [answer.status_code for answer in answers] == [202] * len(bodies), answers[-1].text
    return [answer.json()["id"] for answer in answers]


async def test_messages_of_one_template_share_its_content_until_the_template_changes(client, queue) -> None:
    caller = await sender()
    workspace_id = caller.workspace["id"]
    template = await create_template(workspace_id, {
        "name": "Receipt", "subject": "Order {{ order }}", "html": "<p>Thanks {{ name }}</p>"}, None)
    first = await _sent(client, caller, [{"to": f"p{n}@example.com", "template_id": template["id"],
                                          "data": {"order": f"A-{n}", "name": f"P{n}"}} for n in range(3)])
    assert len(set(await _content_ids(first))) == 1
    await save_template(workspace_id, template["id"], await checked_template(
        {"name": "Receipt", "subject": "Your order {{ order }}", "html": "<p>Thank you {{ name }}</p>"}))
    [later] = await _sent(client, caller, [{"to": "p9@example.com", "template_id": template["id"],
                                            "data": {"order": "A-9", "name": "P9"}}])
    assert (await _content_ids([later]))[0] not in await _content_ids(first)
    assert await TransactionalContent.count().where(TransactionalContent.workspace_id == workspace_id) == 2
    # Each message still shows what it was sent with, and its own data.
    before = await events.message_of(workspace_id, first[1])
    assert before["subject"] == "Order {{ order }}"
    shown = await previews.message_content(workspace_id, before)
    assert "Thanks P1" in shown["preview"].parts.html and "Thank you" not in shown["preview"].parts.html
    after = await events.message_of(workspace_id, later)
    assert after["subject"] == "Your order {{ order }}"


async def test_any_difference_in_the_content_is_a_content_of_its_own(client, queue) -> None:
    caller = await sender()
    attachment = {"filename": "a.txt", "content": base64.b64encode(b"hello").decode()}
    ids = await _sent(client, caller, [
        raw_message("a@example.com"), raw_message("b@example.com", data={"order": "B-2"}),
        raw_message("c@example.com", subject="Another subject"),
        raw_message("d@example.com", from_name="The Shop"),
        raw_message("e@example.com", reply_to="help@mail.example.com"),
        raw_message("f@example.com", headers={"X-Campaign": "spring"}),
        raw_message("g@example.com", text="Plain words"),
        raw_message("h@example.com", attachments=[attachment]),
        raw_message("i@example.com", attachments=[attachment])])
    contents = await _content_ids(ids)
    assert contents[0] == contents[1]
    assert len(set(contents)) == len(ids) - 1


async def test_concurrent_first_messages_of_a_new_content_are_all_stored_with_one_content(client, queue) -> None:
    caller = await sender()
    answers = await asyncio.gather(*(client.post("/api/v1/messages", headers=caller.headers, json=raw_message(
        f"r{n}@example.com", subject="Fresh {{ order }}", data={"order": n})) for n in range(12)))
    assert [answer.status_code for answer in answers] == [202] * 12, answers[0].text
    ids = [answer.json()["id"] for answer in answers]
    assert len(set(ids)) == 12
    assert len(set(await _content_ids(ids))) == 1
    assert await TransactionalMessage.count().where(TransactionalMessage.id.is_in(ids)) == 12


async def test_a_message_racing_one_that_stores_the_same_content_waits_for_it_and_shares_it(client, queue) -> None:
    caller = await sender()
    workspace_id = caller.workspace["id"]
    stored, release = asyncio.Event(), asyncio.Event()

    async def first() -> int:
        async with DB.transaction():
            accepted = await accept_message(
                workspace_id, ContentInput(subject="Your order {{ order }}", html=HTML, from_email=SENDER),
                RecipientInput("first@example.com"), Submission(api_key_id=None), queue)
            stored.set()
            await release.wait()
        return accepted.id or 0

    holder = asyncio.create_task(first())
    await stored.wait()
    racing = asyncio.create_task(client.post("/api/v1/messages", headers=caller.headers,
                                             json=raw_message("second@example.com")))
    # The second statement waits on the first one's uncommitted content row (the unique fingerprint).
    for _ in range(3000):
        if await _statements_waiting_on_a_lock():
            break
        await asyncio.sleep(0.01)
    release.set()
    first_id, answer = await holder, await racing
    assert answer.status_code == 202, answer.text
    assert len(set(await _content_ids([first_id, answer.json()["id"]]))) == 1


async def test_erasing_a_person_keeps_the_content_other_messages_share(client, queue) -> None:
    caller = await sender()
    workspace_id = caller.workspace["id"]
    ids = await _sent(client, caller, [raw_message("gone@example.com", data={"order": "G-1"}),
                                       raw_message("kept@example.com", data={"order": "K-1"})])
    await privacy.erase_person(workspace_id, "gone@example.com")
    kept = await events.message_of(workspace_id, ids[1])
    shown = await previews.message_content(workspace_id, kept)
    assert "K-1" in shown["preview"].parts.html
    erased = await TransactionalMessage.select(TransactionalMessage.data).where(
        TransactionalMessage.id == ids[0]).output(load_json=True)
    assert erased == [{"data": {}}]
