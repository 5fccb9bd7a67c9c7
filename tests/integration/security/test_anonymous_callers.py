"""What an anonymous caller learns: /health says only ok or degraded; details and /metrics need the
metrics token or a loopback caller; CSRF exemptions are path prefixes, not substrings."""

from __future__ import annotations

import json

from app.db.accounts import Invite
from tests.factories import make_user, make_workspace

TOKEN = "metrics-token-for-tests-0123456789"


async def test_anonymous_health_answers_only_its_status(remote_client):
    from app.redis_client import get_redis
    from app.services.health import HEARTBEAT_PREFIX

    degraded = await remote_client.get("/health")
    await get_redis().set(f"{HEARTBEAT_PREFIX}host:1", json.dumps({"host": "worker-7", "pid": 41}), ex=30)
    ok = await remote_client.get("/health")

    assert (degraded.status_code, degraded.json()) == (200, {"status": "degraded"})
    assert (ok.status_code, ok.json()) == (200, {"status": "ok"})
    assert "worker-7" not in ok.text


async def test_anonymous_metrics_are_refused(remote_client, configure):
    configure(METRICS_TOKEN=TOKEN)
    response = await remote_client.get("/metrics")

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "ignite_http_requests_total" not in response.text


async def test_the_metrics_token_opens_details_and_metrics(remote_client, configure):
    configure(METRICS_TOKEN=TOKEN)
    bearer = {"authorization": f"Bearer {TOKEN}"}

    health = await remote_client.get("/health", headers=bearer)
    metrics = await remote_client.get("/metrics", headers=bearer)
    wrong = await remote_client.get("/metrics", headers={"authorization": "Bearer not-the-token"})

    assert health.json()["postgres"] == {"ok": True}
    assert metrics.status_code == 200 and "ignite_queue_depth" in metrics.text
    assert wrong.status_code == 401


async def test_a_loopback_caller_sees_details_unless_the_request_was_forwarded(client):
    direct = await client.get("/health")
    proxied = await client.get("/health", headers={"x-forwarded-for": "203.0.113.50"})
    proxied_metrics = await client.get("/metrics", headers={"forwarded": "for=203.0.113.50"})

    assert direct.json()["redis"] == {"ok": True}
    assert proxied.json() == {"status": "degraded"}
    assert proxied_metrics.status_code == 401
    assert (await client.get("/metrics")).status_code == 200


async def test_a_path_that_merely_contains_an_exempt_prefix_still_needs_the_csrf_token(client):
    workspace = await make_workspace()
    owner = await make_user(workspace)
    from app.services.team import invite

    await invite(workspace["id"], "guest@example.com", "marketer", owner["id"], "http://x", 3600)
    for path in ("/invite/health-check", "/invite/metrics-token", "/password/reset/metrics"):
        response = await client.post(path, data={"password": "a long password here", "confirm": "x"})
        assert response.status_code == 403, path
        assert "form expired" in response.text
    assert await Invite.count() == 1
