"""The scheduler's mailbox sweep: due mailboxes queued once each, polled by the actor, every 30 seconds."""

from __future__ import annotations

import dramatiq

from app.redis_client import get_redis
from app.services.bounces import mailboxes
from app.tasks import mailboxes as mailbox_tasks
from app.tasks.scheduler import JOBS
from tests.factories import make_workspace
from tests.integration.bounces.helpers_mailboxes import dovecot, dsn, mailbox_form

__all__ = ["dovecot"]


async def test_the_scheduler_fires_the_sweep_every_minute_and_its_actor_exists():
    job = next(job for job in JOBS if job.name == "poll-due-mailboxes")

    assert job.cron == "* * * * *"
    assert dramatiq.get_broker().get_actor(job.actor_name) is mailbox_tasks.poll_due_mailboxes


async def test_a_due_mailbox_is_queued_once_until_its_poll_starts(dovecot):
    workspace = await make_workspace()
    due = await mailboxes.create_mailbox(workspace["id"], mailbox_form(dovecot, dovecot.new_user()))
    await mailboxes.create_mailbox(workspace["id"], mailbox_form(dovecot, dovecot.new_user(), enabled=""))
    redis = get_redis()

    first = await mailbox_tasks.queue_due_polls(redis)
    second = await mailbox_tasks.queue_due_polls(redis)

    assert (first, second) == ([due["id"]], [])
    assert await redis.keys("ignite:bounces:mailbox:*:queued") == [mailbox_tasks.queued_key(due["id"])]


async def test_the_poll_actor_stores_the_reports_and_frees_the_mailbox_for_the_next_sweep(dovecot):
    workspace = await make_workspace()
    user = dovecot.new_user()
    mailbox = await mailboxes.create_mailbox(workspace["id"], mailbox_form(dovecot, user))
    dovecot.append(user, dsn("gone@example.org"))
    await mailbox_tasks.queue_due_polls(get_redis())

    result = await mailbox_tasks.poll_queued(get_redis(), workspace["id"], mailbox["id"])

    assert result is not None and len(result.report_ids) == 1
    polled = await mailboxes.get_mailbox(workspace["id"], mailbox["id"])
    assert polled["last_result"] == "Read 1 message: 1 new report queued for processing."
    assert dovecot.count(user) == 0
    assert await get_redis().get(mailbox_tasks.queued_key(mailbox["id"])) is None
    assert await mailboxes.due_mailboxes() == []


async def test_a_mailbox_deleted_after_it_was_queued_is_skipped(dovecot):
    workspace = await make_workspace()
    mailbox = await mailboxes.create_mailbox(workspace["id"], mailbox_form(dovecot, dovecot.new_user()))
    await mailboxes.delete_mailbox(workspace["id"], mailbox["id"])

    assert await mailbox_tasks.poll_queued(get_redis(), workspace["id"], mailbox["id"]) is None
