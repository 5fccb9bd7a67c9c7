"""The scheduler process: fires periodic jobs by enqueueing actors on cron-like schedules.

Several scheduler processes may run (one per machine); a Redis lock per job
and fire time makes sure each firing is enqueued once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import dramatiq
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from app.logs import get_logger
from app.redis_client import get_sync_redis

log = get_logger("ignite.scheduler")


@dataclass(frozen=True)
class Job:
    name: str
    actor_name: str
    cron: str  # crontab syntax, minute hour day month weekday, in UTC


JOBS: list[Job] = [
    Job("purge-expired-tokens", "purge_expired_tokens", "17 * * * *"),
    # Hourly, so each workspace's local midnight is caught; a server moves at most once per local date.
    Job("advance-warmups", "advance_warmups", "5 * * * *"),
    # Every minute: lost batches and dead workers' leases back to the queue; scheduled campaigns that are due.
    Job("reap-deliveries", "reap_deliveries", "* * * * *"),
    Job("start-due-campaigns", "start_due_campaigns", "* * * * *"),
    # Every minute: A/B tests whose wait is over get their winner, which then goes to the rest.
    Job("decide-ab-tests", "decide_ab_tests", "* * * * *"),
    Job("discard-abandoned-imports", "discard_abandoned_imports", "41 * * * *"),
    Job("forget-old-feedback-counts", "forget_old_feedback_counts", "53 2 * * *"),
    # Opens and clicks into PostgreSQL, nearly continuously; next months' event partitions, daily.
    Job("aggregate-tracking", "aggregate_tracking_events", "* * * * *"),
    Job("create-event-partitions", "create_event_partitions", "23 3 * * *"),
    Job("decay-engagement-scores", "decay_engagement_scores", "41 4 * * *"),
    # Daily, after the decay: engagement snapshots, then churn models retrained and subscribers scored.
    Job("refresh-intelligence", "refresh_intelligence", "17 5 * * *"),
    # Every minute: bounce reports stored but never processed (their task was lost) are processed late.
    Job("sweep-bounce-reports", "sweep_bounce_reports", "* * * * *"),
    # Every 30 s (each firing queues the half-minute tick too): bounce and FBL mailboxes that are due, polled.
    Job("poll-due-mailboxes", "poll_due_mailboxes", "* * * * *"),
    # Every minute: transactional messages whose scheduled time has come; webhook deliveries due a retry.
    Job("send-due-messages", "send_due_messages", "* * * * *"),
    Job("retry-due-webhooks", "retry_due_webhooks", "* * * * *"),
    # Every minute (each run loops for most of it): flow steps that are due, advanced.
    Job("advance-flows", "advance_flows", "* * * * *"),
    # Every 5 minutes: date flows whose subscribers' local day and time have come; every 15: segment flows' new
    # members.
    Job("enrol-due-dates", "enrol_due_dates", "*/5 * * * *"),
    Job("enrol-segment-entrants", "enrol_segment_entrants", "*/15 * * * *"),
    # Every 5 minutes: S3 intake sources that are due, polled; failing and quiet sources noticed.
    Job("poll-due-intake-sources", "poll_due_sources", "*/5 * * * *"),
    # Every 15 minutes: each enabled Everflow connection pulls its conversion records and reconciles them.
    Job("pull-everflow", "pull_due_everflow", "*/15 * * * *"),
]


def fire_once(job: Job, fired_at: datetime, enqueue: Callable[[str], None]) -> bool:
    """Enqueue the job's actor unless another scheduler already did for this fire time."""
    lock = f"ignite:scheduler:{job.name}:{fired_at.strftime('%Y%m%d%H%M')}"
    if not get_sync_redis().set(lock, "1", nx=True, ex=3600):
        return False
    enqueue(job.actor_name)
    log.info("job_fired", job=job.name)
    return True


def _enqueue(actor_name: str) -> None:
    dramatiq.get_broker().get_actor(actor_name).send()


def run_scheduler() -> None:
    import app.tasks  # noqa: F401  (declares the broker and actors)

    scheduler = BlockingScheduler(timezone="UTC")
    for job in JOBS:
        trigger = CronTrigger.from_crontab(job.cron, timezone="UTC")
        scheduler.add_job(
            lambda job=job: fire_once(job, datetime.now(UTC), _enqueue), trigger, id=job.name,
            misfire_grace_time=300, coalesce=True,
        )
    log.info("scheduler_started", jobs=[job.name for job in JOBS])
    scheduler.start()
