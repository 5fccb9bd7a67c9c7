"""Idempotent writes of the API: the first answer to an `Idempotency-Key` is the answer to every retry.

Each (API key, Idempotency-Key) is one Redis entry. The request that creates it (SET NX) runs; while it runs
the entry holds only the fingerprint of the request (a hash of method, path and body) under a lease, so a
process that died mid-request frees the key after `LEASE`. Its answer then replaces the entry for a day
(`KEEP`). A duplicate that arrives meanwhile polls until the answer is there and replays it, so two identical
requests racing each other execute once. A server error is not kept: the entry is deleted, and a retry runs
again.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

KEEP = 24 * 3600
LEASE = 120
# How long a duplicate waits for the first request's answer before it is told to retry later.
WAIT = 30.0
POLL = 0.05
MAX_KEY_LENGTH = 255
ENTRY = "ignite:idempotency:{}:{}"


class IdempotencyConflict(Exception):
    """The key was used before with another request (method, path or body)."""


class StillRunning(Exception):
    """The first request with this key has not answered within `WAIT` seconds."""


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def entry_key(key_id: int, idempotency_key: str) -> str:
    """The Redis key of one API key's Idempotency-Key (hashed: it is the caller's free text)."""
    return ENTRY.format(key_id, hashlib.sha256(idempotency_key.encode()).hexdigest())


@dataclass(frozen=True)
class FirstClaim:
    """What the first attempt to claim an entry found: this request runs, or there is an answer to replay;
    neither while the first request with the key still runs (then `claim` waits for it)."""

    run: bool
    answer: StoredAnswer | None = None


def _answer_of(data: dict) -> StoredAnswer:
    return StoredAnswer(status=data["status"], headers=[(name, value) for name, value in data["headers"]],
                        body=base64.b64decode(data["body"]))


def _stored_answer(stored: str, request_fingerprint: str) -> StoredAnswer | None:
    """The answer kept in an entry (None while its request runs); IdempotencyConflict for another request's."""
    data = json.loads(stored)
    if data["fingerprint"] != request_fingerprint:
        raise IdempotencyConflict
    return _answer_of(data) if "status" in data else None


def claim_commands(entry: str, request_fingerprint: str) -> list[tuple[Any, ...]]:
    """The first attempt of `claim` as commands to send in a pipeline of the caller's (see `first_claim`)."""
    return [("SET", entry, json.dumps({"fingerprint": request_fingerprint}), "NX", "EX", LEASE), ("GET", entry)]


def first_claim(replies: Sequence[Any], request_fingerprint: str) -> FirstClaim:
    """The replies of `claim_commands`, read."""
    made, stored = replies
    if made:
        return FirstClaim(run=True)
    return FirstClaim(run=False, answer=_stored_answer(stored, request_fingerprint) if stored is not None else None)


async def claim(redis: Redis, entry: str, request_fingerprint: str) -> StoredAnswer | None:
    """None when this request is the one to run; else the first answer to replay (waiting for it if needed)."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        if await redis.set(entry, json.dumps({"fingerprint": request_fingerprint}), nx=True, ex=LEASE):
            return None
        stored = await redis.get(entry)
        if stored is None:  # the first request failed with a server error meanwhile: run this one
            continue
        answer = _stored_answer(stored, request_fingerprint)
        if answer is not None:
            return answer
        if asyncio.get_running_loop().time() >= deadline:
            raise StillRunning
        await asyncio.sleep(POLL)


def settle_command(entry: str, request_fingerprint: str, answer: StoredAnswer | None) -> tuple[Any, ...]:
    """Keep the answer for replays; a server error (or none at all) frees the key for a retry."""
    if answer is None or answer.status >= 500:
        return ("DEL", entry)
    data = {"fingerprint": request_fingerprint, "status": answer.status, "headers": answer.headers,
            "body": base64.b64encode(answer.body).decode()}
    return ("SET", entry, json.dumps(data), "EX", KEEP)


async def settle(redis: Redis, entry: str, request_fingerprint: str, answer: StoredAnswer | None) -> None:
    await redis.execute_command(*settle_command(entry, request_fingerprint, answer))
