"""Operator endpoints: health as JSON, Prometheus metrics."""

from __future__ import annotations

from litestar import Controller, Response, get

from app.metrics import render_metrics
from app.redis_client import get_redis
from app.services.health import health_report


class OpsController(Controller):
    include_in_schema = False

    @get("/health", name="health", cache=False)
    async def health(self) -> Response:
        report = await health_report(get_redis())
        return Response(report, status_code=503 if report["status"] == "down" else 200)

    @get("/metrics", name="metrics")
    async def metrics(self) -> Response:
        body = await render_metrics(get_redis())
        return Response(body, media_type="text/plain; version=0.0.4")
