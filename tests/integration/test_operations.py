"""Health, metrics, the API root and its schema, and errors that never show a stack trace."""

import json

from tests.factories import login, make_user, make_workspace, post_form


async def test_health_reports_postgres_redis_and_workers(client):
    response = await client.get("/health")
    body = response.json()
    assert response.status_code == 200
    assert body["postgres"] == {"ok": True}
    assert body["redis"] == {"ok": True}
    assert body["workers"]["count"] == 0
    assert body["status"] == "degraded"


async def test_health_counts_worker_heartbeats(client):
    from app.redis_client import get_redis
    from app.services.health import HEARTBEAT_PREFIX

    await get_redis().set(f"{HEARTBEAT_PREFIX}host:1", json.dumps({"host": "host", "pid": 1}), ex=30)
    body = (await client.get("/health")).json()
    assert body["status"] == "ok"
    assert body["workers"]["count"] == 1


async def test_metrics_expose_requests_and_queue_depths(client):
    await client.get("/login")
    from app.redis_client import get_broker_redis, get_redis

    await get_broker_redis().rpush("dramatiq:imports", "a", "b")
    await get_redis().hincrby("ignite:metrics:actors", "ping:succeeded", 3)
    text = (await client.get("/metrics")).text
    assert 'ignite_http_requests_total{method="GET",route="/login",status="200"}' in text
    assert 'ignite_queue_depth{queue="imports"} 2.0' in text
    assert 'ignite_actor_runs_total{actor="ping",outcome="succeeded"} 3.0' in text


async def test_api_root_without_key_is_a_json_401(client):
    response = await client.get("/api/v1")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "missing_key"
    assert "API key" in response.json()["error"]["message"]


async def test_api_is_not_opened_by_a_browser_session(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    await login(client, user["email"])
    assert (await client.get("/api/v1")).status_code == 401


async def test_openapi_schema_and_docs_page_are_served(client):
    schema = await client.get("/api/v1/docs/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1" in paths
    assert all(path.startswith("/api/") for path in paths)
    docs = await client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text


async def test_unknown_page_is_a_friendly_404_without_trace(client):
    workspace = await make_workspace()
    user = await make_user(workspace)
    await login(client, user["email"])
    response = await client.get("/mailing/no-such-section")
    assert response.status_code == 404
    assert 'data-testid="error-page"' in response.text
    assert "Traceback" not in response.text


async def test_every_portal_section_shows_an_empty_state(client):
    from app.routes.portals import PORTALS

    workspace = await make_workspace()
    user = await make_user(workspace)
    await login(client, user["email"])
    for portal, details in PORTALS.items():
        for section in details["sections"]:
            response = await client.get(f"/{portal}/{section.slug}")
            assert response.status_code == 200, (portal, section.slug)
            assert 'data-testid="empty-state"' in response.text


async def test_oversized_form_body_is_refused_clearly(client):
    response = await post_form(client, "/login", {"email": "a@example.com", "password": "x" * 2_000_000})
    assert response.status_code == 413
    assert "larger than this form accepts" in response.text
    assert "Traceback" not in response.text


async def test_every_response_carries_a_request_id(client):
    response = await client.get("/login")
    assert len(response.headers["x-request-id"]) == 32


async def test_server_error_shows_reference_not_trace(client, app, monkeypatch):
    from app.routes import portals

    async def explode(*_args, **_kwargs):
        raise RuntimeError("secret internals")

    workspace = await make_workspace()
    user = await make_user(workspace)
    await login(client, user["email"])
    monkeypatch.setattr(portals.activity_feed, "recent", explode)
    response = await client.get("/")
    assert response.status_code == 500
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["x-request-id"] in response.text


async def test_pages_carry_security_headers(client):
    response = await client.get("/login")
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
