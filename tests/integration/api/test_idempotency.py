"""An `Idempotency-Key` makes a write run once: retries get its first answer, even when they race it."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from litestar import Litestar, post
from msgspec import Struct

from app.web.api_auth import ApiCaller, ApiController, api_middleware
from app.web.errors import EXCEPTION_HANDLERS
from tests.api_client import api_key, bearer
from tests.factories import make_workspace

runs: Counter[str] = Counter()


class Order(Struct):
    item: str


class Placed(Struct):
    item: str
    run: int


class CountingController(ApiController):
    path = "/api/v1/test-orders"

    @post("/", opt={"scope": "messages:send"})
    async def place(self, data: Order, caller: ApiCaller) -> Placed:
        runs[data.item] += 1
        # Long enough for racing duplicates to arrive while this one runs.
        await asyncio.sleep(0.2)
        if data.item == "flaky" and runs[data.item] == 1:
            raise RuntimeError("injected failure")
        return Placed(item=data.item, run=runs[data.item])


@pytest.fixture
async def api(app):
    """A small app with the API middleware and a handler that counts its runs (the pool is the test app's)."""
    runs.clear()
    counting = Litestar(route_handlers=[CountingController], middleware=[api_middleware],
                        exception_handlers=EXCEPTION_HANDLERS)
    transport = httpx.ASGITransport(app=counting, client=("127.0.0.1", 50000), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        yield client


async def _secret(rate_limit: int = 6000) -> str:
    return await api_key(await make_workspace(), scopes=("messages:send",), rate_limit=rate_limit)


def _headers(secret: str, key: str) -> dict[str, str]:
    return {**bearer(secret), "Idempotency-Key": key}


async def test_a_retry_gets_the_first_answer(api):
    secret = await _secret(rate_limit=10)
    first = await api.post("/api/v1/test-orders", json={"item": "book"}, headers=_headers(secret, "k1"))
    retry = await api.post("/api/v1/test-orders", json={"item": "book"}, headers=_headers(secret, "k1"))
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() == {"item": "book", "run": 1}
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert runs["book"] == 1
    # The limit headers are today's, not the first answer's.
    assert int(retry.headers["x-ratelimit-remaining"]) < int(first.headers["x-ratelimit-remaining"])


async def test_the_same_key_with_another_body_is_a_conflict(api):
    secret = await _secret()
    await api.post("/api/v1/test-orders", json={"item": "book"}, headers=_headers(secret, "k1"))
    other = await api.post("/api/v1/test-orders", json={"item": "lamp"}, headers=_headers(secret, "k1"))
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"
    assert runs["lamp"] == 0


async def test_racing_duplicates_run_once(api):
    secret = await _secret()
    answers = await asyncio.gather(*(
        api.post("/api/v1/test-orders", json={"item": "book"}, headers=_headers(secret, "race"))
        for _ in range(8)))
    assert runs["book"] == 1
    assert {answer.status_code for answer in answers} == {201}
    assert all(answer.json() == {"item": "book", "run": 1} for answer in answers)
    assert sum(answer.headers.get("idempotent-replayed") == "true" for answer in answers) == 7


async def test_a_server_error_is_not_kept(api):
    secret = await _secret()
    failed = await api.post("/api/v1/test-orders", json={"item": "flaky"}, headers=_headers(secret, "k1"))
    retry = await api.post("/api/v1/test-orders", json={"item": "flaky"}, headers=_headers(secret, "k1"))
    assert failed.status_code == 500
    assert retry.status_code == 201 and retry.json()["run"] == 2
    assert "idempotent-replayed" not in retry.headers


async def test_idempotency_keys_belong_to_one_api_key(api):
    one, other = await _secret(), await _secret()
    await api.post("/api/v1/test-orders", json={"item": "book"}, headers=_headers(one, "shared"))
    theirs = await api.post("/api/v1/test-orders", json={"item": "book"}, headers=_headers(other, "shared"))
    assert "idempotent-replayed" not in theirs.headers
    assert runs["book"] == 2


async def test_without_a_key_every_write_runs(api):
    secret = await _secret()
    for _ in range(2):
        await api.post("/api/v1/test-orders", json={"item": "book"}, headers=bearer(secret))
    assert runs["book"] == 2


async def test_an_overlong_idempotency_key_is_refused(api):
    answer = await api.post("/api/v1/test-orders", json={"item": "book"}, headers=_headers(await _secret(), "k" * 256))
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_idempotency_key"
    assert runs["book"] == 0


async def test_a_write_over_the_limit_does_not_run_and_leaves_its_idempotency_key_free(api, redis):
    from app.services import api_keys, idempotency

    secret = await _secret(rate_limit=1)
    first = await api.post("/api/v1/test-orders", json={"item": "book"}, headers=_headers(secret, "k1"))
    limited = await api.post("/api/v1/test-orders", json={"item": "lamp"}, headers=_headers(secret, "k2"))
    assert (first.status_code, limited.status_code) == (201, 429)
    assert limited.json()["error"]["code"] == "rate_limited" and runs["lamp"] == 0
    record = await api_keys.authenticated(redis, secret, "127.0.0.1")
    assert await redis.exists(idempotency.entry_key(record.id, "k1")) == 1
    assert await redis.exists(idempotency.entry_key(record.id, "k2")) == 0


async def test_writes_under_way_together_are_all_metered_and_each_runs_once(api):
    secret = await _secret(rate_limit=100)
    answers = await asyncio.gather(*(
        api.post("/api/v1/test-orders", json={"item": f"item{n}"}, headers=_headers(secret, f"key{n}"))
        for n in range(12)))
    assert [answer.status_code for answer in answers] == [201] * 12
    assert sorted(int(answer.headers["x-ratelimit-remaining"]) for answer in answers) == list(range(88, 100))
    assert all(runs[f"item{n}"] == 1 for n in range(12))
