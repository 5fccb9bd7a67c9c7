"""Operator endpoints: health as JSON, Prometheus metrics.

Anyone may ask whether Ignite works (ok or degraded; 503 when PostgreSQL or Redis is down). The details
(which part, worker hosts and pids) and /metrics (every route with its counts) are for operators: a
caller with the METRICS_TOKEN bearer token, or one on the loopback interface whose request was not
forwarded by a proxy (behind a proxy on the same host every visitor would look like loopback).
"""

from __future__ import annotations

import hmac
import ipaddress

from litestar import Controller, Request, Response, get
from redis.asyncio import Redis

from app.metrics import render_metrics
from app.services.health import health_report, public_health
from app.settings import get_settings
from app.web.auth import client_ip

FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _is_operator(request: Request) -> bool:
    token = get_settings().security.metrics_token
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
        return True
    forwarded = any(request.headers.get(name) for name in FORWARDING_HEADERS)
    return _is_loopback(client_ip(request)) and not forwarded


class OpsController(Controller):
    include_in_schema = False

    @get("/health", name="health", cache=False)
    async def health(self, request: Request, redis: Redis) -> Response:
        report = await health_report(redis)
        body = report if _is_operator(request) else public_health(report)
        return Response(body, status_code=503 if report["status"] == "down" else 200)

    @get("/metrics", name="metrics")
    async def metrics(self, request: Request, redis: Redis) -> Response:
        if not _is_operator(request):
            return Response("Metrics need the METRICS_TOKEN as a bearer token.\n", status_code=401,
                            media_type="text/plain", headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return Response(await render_metrics(redis), media_type="text/plain; version=0.0.4")
