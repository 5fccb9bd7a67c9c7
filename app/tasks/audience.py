"""Background work on audiences that is not an import."""

from __future__ import annotations

import dns.asyncresolver
import dramatiq

from app.redis_client import get_redis
from app.services import audit, mx_checks
from app.services.audit import SYSTEM
from app.services.sending_domains import configured_resolver
from app.tasks.broker import broker


@dramatiq.actor(broker=broker, queue_name="default", max_retries=1, time_limit=3_600_000)
async def check_list_mx(workspace_id: int, list_id: int) -> None:
    report = await mx_checks.check_list(workspace_id, list_id, configured_resolver(dns.asyncresolver.Resolver))
    await audit.record(get_redis(), workspace_id, SYSTEM, "list.mx_checked", "list", list_id, {
        "domains": report.domains_checked, "dead_domains": report.dead_domains[:50],
        "marked_bounced": report.subscribers_marked})
