"""Each key has a token bucket: every /api/v1 answer says how much is left, and an empty bucket is a 429."""

from __future__ import annotations

from tests.api_client import api_key, bearer
from tests.factories import make_workspace

BAD_KEY = {"Authorization": "Bearer ig_live_" + "B" * 43}


def _limits(answer) -> tuple[int, int, int]:
    return (int(answer.headers["x-ratelimit-limit"]), int(answer.headers["x-ratelimit-remaining"]),
            int(answer.headers["x-ratelimit-reset"]))


async def test_every_answer_says_the_limit_and_what_is_left(client):
    secret = await api_key(await make_workspace(), scopes=("stats:read",), rate_limit=100)
    first = await client.get("/api/v1/", headers=bearer(secret))
    second = await client.get("/api/v1/", headers=bearer(secret))
    assert _limits(first)[:2] == (100, 99)
    assert _limits(second)[:2] == (100, 98)
    assert _limits(second)[2] >= 1
    # Errors too: a scope the key lacks, refused input, a key that does not exist.
    refused = await client.get("/api/v1/keys", headers=bearer(secret))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
    assert _limits(refused)[1] == 97
    admin = await api_key(await make_workspace(), rate_limit=100)
    invalid = await client.post("/api/v1/keys", json={"name": "x", "scopes": []}, headers=bearer(admin))
    missing = await client.get("/api/v1/keys/999999", headers=bearer(admin))
    assert invalid.status_code == 422 and missing.status_code == 404
    assert _limits(invalid)[1] == 99 and _limits(missing)[1] == 98


async def test_an_empty_bucket_answers_429_with_retry_after(client):
    secret = await api_key(await make_workspace(), rate_limit=3)
    answers = [await client.get("/api/v1/", headers=bearer(secret)) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    limited = answers[-1]
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    assert _limits(limited)[:2] == (3, 0)


async def test_keys_have_buckets_of_their_own(client):
    workspace = await make_workspace()
    busy, other = await api_key(workspace, rate_limit=1), await api_key(workspace, rate_limit=1)
    assert (await client.get("/api/v1/", headers=bearer(busy))).status_code == 200
    assert (await client.get("/api/v1/", headers=bearer(busy))).status_code == 429
    assert (await client.get("/api/v1/", headers=bearer(other))).status_code == 200


async def test_refused_requests_touch_no_key_bucket(client):
    secret = await api_key(await make_workspace(), rate_limit=2)
    for headers in ({}, BAD_KEY, {"Authorization": "Bearer " + secret[:-1] + "x"}):
        answer = await client.get("/api/v1/", headers=headers)
        assert answer.status_code == 401
        assert "x-ratelimit-remaining" in answer.headers
    answers = [await client.get("/api/v1/", headers=bearer(secret)) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]


async def test_an_address_that_keeps_guessing_keys_is_slowed_down(client):
    from app.web.api_auth import REFUSED_PER_MINUTE

    refused = 0
    for _ in range(2 * REFUSED_PER_MINUTE):
        answer = await client.get("/api/v1/", headers=BAD_KEY)
        if answer.status_code != 401:
            break
        refused += 1
    # The bucket refills while the loop runs, so a few more than the limit may pass first.
    assert answer.status_code == 429
    assert refused >= REFUSED_PER_MINUTE
    assert answer.json()["error"]["code"] == "rate_limited"
    assert int(answer.headers["retry-after"]) >= 1


async def test_the_documentation_needs_no_key(client):
    answer = await client.get("/api/v1/docs/openapi.json")
    assert answer.status_code == 200
    assert "x-ratelimit-limit" not in answer.headers
