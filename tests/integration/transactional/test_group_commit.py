"""Group commit: single messages that arrive together are stored by one statement, each still answered with
its own id or its own refusal, and a call that cannot be stored fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from app.db.campaigns import Delivery
from app.db.transactional import TransactionalMessage
from app.services import statements, suppression
from app.services.sqlparams import fetch_positional
from app.services.suppression import Entry
from app.services.transactional.gathering import Gathering
from tests.integration.transactional.helpers import raw_message, sender


async def test_calls_that_arrive_during_a_run_share_the_next_one_and_each_gets_its_own_result() -> None:
    runs: list[list[int]] = []
    first_started, release = asyncio.Event(), asyncio.Event()

    async def run(key: str, parts: Sequence[int]) -> list[int]:
        runs.append(list(parts))
        if len(runs) == 1:
            first_started.set()
            await release.wait()
        return [part * 10 for part in parts]

    gathering: Gathering[str, int, int] = Gathering(run)
    first = asyncio.create_task(gathering("k", 1))
    await first_started.wait()
    later = [asyncio.create_task(gathering("k", n)) for n in (2, 3, 4)]
    other_key = asyncio.create_task(gathering("other", 5))
    await asyncio.sleep(0)
    release.set()
    assert await first == 10
    assert [await task for task in later] == [20, 30, 40]
    assert await other_key == 50
    assert sorted(runs) == [[1], [2, 3, 4], [5]]


async def test_a_run_that_fails_is_run_again_call_by_call_so_only_the_bad_call_fails() -> None:
    runs: list[list[str]] = []

    async def run(key: str, parts: Sequence[str]) -> list[str]:
        runs.append(list(parts))
        if "bad" in parts:
            raise ValueError("cannot store this one")
        return [part.upper() for part in parts]

    gathering: Gathering[str, str, str] = Gathering(run)
    calls = [asyncio.create_task(gathering("k", part)) for part in ("a", "bad", "b")]
    assert [await calls[0], await calls[2]] == ["A", "B"]
    with pytest.raises(ValueError, match="cannot store"):
        await calls[1]
    assert runs == [["a", "bad", "b"], ["a"], ["bad"], ["b"]]


async def test_a_caller_that_goes_away_does_not_cancel_the_run_its_neighbours_share() -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def run(key: str, parts: Sequence[int]) -> list[int]:
        started.set()
        await release.wait()
        return list(parts)

    gathering: Gathering[str, int, int] = Gathering(run)
    leaving = asyncio.create_task(gathering("k", 1))
    await started.wait()
    staying = asyncio.create_task(gathering("k", 2))
    leaving.cancel()
    release.set()
    assert await staying == 2


async def _transactions_of(ids: list[int]) -> int:
    """How many transactions wrote these messages (each statement of the accept path is its own)."""
    rows = await fetch_positional("SELECT count(DISTINCT xmin::text) AS n FROM transactional_messages "
                                  "WHERE id = ANY($1::bigint[])", [ids])
    return rows[0]["n"]


async def test_concurrent_messages_are_stored_by_fewer_statements_each_with_its_own_answer(client, queue) -> None:
    caller = await sender()
    workspace_id = caller.workspace["id"]
    await suppression.add_entries(workspace_id, (await suppression.blacklist(workspace_id))["id"],
                                  [Entry("email", "black@example.com")])
    addresses = [f"c{n}@example.com" for n in range(20)]
    addresses[7], addresses[13] = "black@example.com", "not an address"
    answers = await asyncio.gather(*(client.post("/api/v1/messages", headers=caller.headers, json=raw_message(
        address, data={"order": f"O-{n}"})) for n, address in enumerate(addresses)))
    codes = {n: answer.json()["error"]["code"] for n, answer in enumerate(answers) if answer.status_code != 202}
    assert codes == {7: "recipient_suppressed", 13: "invalid"}
    ids = {n: answer.json()["id"] for n, answer in enumerate(answers) if answer.status_code == 202}
    assert len(set(ids.values())) == 18
    stored = {row["id"]: row for row in await TransactionalMessage.select(
        TransactionalMessage.id, TransactionalMessage.email, TransactionalMessage.data).where(
        TransactionalMessage.id.is_in(list(ids.values()))).output(load_json=True)}
    assert all((stored[ids[n]]["email"], stored[ids[n]]["data"]) == (addresses[n], {"order": f"O-{n}"})
               for n in ids)
    assert await _transactions_of(list(ids.values())) < 18
    assert sorted(first for _, _, first, _, _ in queue.ranges) == sorted(ids.values())


async def test_a_message_whose_statement_fails_fails_alone(client, queue, monkeypatch) -> None:
    caller = await sender()
    run = statements.run

    async def failing_for_one(name: str, *args: object) -> list[dict]:
        if name == "transactional.accept" and "poison@example.com" in args[14]:  # $15, the addresses
            raise RuntimeError("injected failure")
        return await run(name, *args)

    monkeypatch.setattr(statements, "run", failing_for_one)
    addresses = [f"n{n}@example.com" for n in range(8)]
    addresses[3] = "poison@example.com"
    answers = await asyncio.gather(*(client.post("/api/v1/messages", headers=caller.headers,
                                                 json=raw_message(address)) for address in addresses))
    assert [answer.status_code for answer in answers] == [202, 202, 202, 500, 202, 202, 202, 202]
    assert await Delivery.count().where(Delivery.email.is_in(addresses)) == 7
