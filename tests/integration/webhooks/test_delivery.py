"""Delivery: signed posts to a real receiver on loopback, retries with backoff, giving up, disabling, replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.redis_client import get_redis
from app.services import activity_feed, webhooks
from app.services.audit import recent_entries
from app.services.sqlparams import fetch_positional
from app.services.webhooks import endpoints, log
from app.services.webhooks.delivery import BACKOFF_SECONDS, PER_ENDPOINT, deliver_due, disable, forget_old
from tests.factories import make_workspace
from tests.integration.webhooks.helpers import deliveries, loopback_endpoint, make_due
from tests.integration.webhooks.receiver import running_receiver

BOUNCE = {"email": "bob@example.org", "campaign_id": 7, "category": "hard"}


async def test_an_event_is_posted_signed_with_the_endpoints_secret():
    workspace = await make_workspace()
    async with running_receiver() as receiver:
        _, secret = await loopback_endpoint(workspace, receiver.url)
        await webhooks.publish(workspace["id"], "message.bounced", BOUNCE)
        assert await deliver_due(get_redis()) == 1

    [received] = receiver.received
    assert received.signed_by(secret)
    assert not received.signed_by(secret + "x")
    assert received.headers["x-ignite-event"] == "message.bounced"
    assert received.headers["host"] == f"127.0.0.1:{receiver.port}"
    body = received.json()
    assert (body["type"], body["data"]) == ("message.bounced", BOUNCE)
    [row] = await deliveries(workspace)
    assert received.headers["x-ignite-delivery"] == str(row["id"])
    assert body["id"] == str(row["event_id"])
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("delivered", 1, 200)


async def test_events_nobody_listens_to_are_not_stored():
    workspace = await make_workspace()
    async with running_receiver() as receiver:
        await loopback_endpoint(workspace, receiver.url, events=("message.opened",))
        await webhooks.publish_many(workspace["id"], [("message.bounced", BOUNCE), ("message.clicked", {})])
    assert await deliveries(workspace) == []


async def test_a_disabled_endpoint_hears_nothing_new():
    workspace = await make_workspace()
    async with running_receiver() as receiver:
        endpoint, _ = await loopback_endpoint(workspace, receiver.url)
        await endpoints.set_enabled(workspace["id"], endpoint["id"], False)
        await webhooks.publish(workspace["id"], "message.bounced", BOUNCE)
    assert await deliveries(workspace) == []


async def test_failures_are_retried_with_backoff_then_the_endpoint_is_disabled_with_a_notice():
    workspace = await make_workspace()
    async with running_receiver() as receiver:
        receiver.default = 500
        endpoint, _ = await loopback_endpoint(workspace, receiver.url)
        await webhooks.publish(workspace["id"], "message.bounced", BOUNCE)
        waits = []
        for _ in range(len(BACKOFF_SECONDS)):
            before = datetime.now(UTC)
            assert await deliver_due(get_redis()) == 1
            [row] = await deliveries(workspace)
            assert row["status"] == "pending"
            waits.append(round((row["next_attempt_at"] - before) / timedelta(seconds=1), -1))
            assert await deliver_due(get_redis()) == 0  # not due yet
            await make_due(workspace)
        assert await deliver_due(get_redis()) == 1

    assert waits == [float(round(s, -1)) for s in BACKOFF_SECONDS]
    assert len(receiver.received) == len(BACKOFF_SECONDS) + 1
    [row] = await deliveries(workspace)
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("failed", 6, 500)
    disabled = await endpoints.endpoint_of(workspace["id"], endpoint["id"])
    assert not disabled["enabled"] and "failed attempts" in disabled["disabled_reason"]
    assert [e["action"] for e in await recent_entries(workspace["id"])] == ["webhook_endpoint.failing"]


async def test_a_success_after_failures_delivers_and_clears_the_streak():
    workspace = await make_workspace()
    async with running_receiver(503, 503) as receiver:
        endpoint, _ = await loopback_endpoint(workspace, receiver.url)
        await webhooks.publish(workspace["id"], "message.bounced", BOUNCE)
        for _ in range(3):
            await deliver_due(get_redis())
            await make_due(workspace)
    [row] = await deliveries(workspace)
    assert (row["status"], row["attempts"]) == ("delivered", 3)
    assert (await endpoints.endpoint_of(workspace["id"], endpoint["id"]))["failures"] == 0


async def test_a_redirect_is_not_followed():
    workspace = await make_workspace()
    async with running_receiver(302) as receiver:
        await loopback_endpoint(workspace, receiver.url)
        await webhooks.publish(workspace["id"], "message.bounced", BOUNCE)
        await deliver_due(get_redis())
    [row] = await deliveries(workspace)
    assert (row["status"], row["last_status_code"], len(receiver.received)) == ("pending", 302, 1)


async def test_replay_posts_the_same_event_again_as_a_new_row():
    workspace = await make_workspace()
    async with running_receiver() as receiver:
        endpoint, _ = await loopback_endpoint(workspace, receiver.url)
        await webhooks.publish(workspace["id"], "message.bounced", BOUNCE)
        await deliver_due(get_redis())
        [first] = await deliveries(workspace)
        await log.replay(workspace["id"], endpoint["id"], first["id"])
        await deliver_due(get_redis())
    assert [r.json()["id"] for r in receiver.received] == [str(first["event_id"])] * 2
    assert [r["status"] for r in await deliveries(workspace)] == ["delivered", "delivered"]


async def test_replaying_an_event_whose_retry_is_waiting_brings_the_retry_forward_and_posts_it_once():
    workspace = await make_workspace()
    async with running_receiver(500) as receiver:
        endpoint, _ = await loopback_endpoint(workspace, receiver.url)
        await webhooks.publish(workspace["id"], "message.bounced", BOUNCE)
        await deliver_due(get_redis())
        [waiting] = await deliveries(workspace)
        replayed = await log.replay(workspace["id"], endpoint["id"], waiting["id"])
        again = await log.replay(workspace["id"], endpoint["id"], waiting["id"])
        assert await deliver_due(get_redis()) == 1
    assert (replayed["id"], again["id"], replayed["attempts"]) == (waiting["id"], waiting["id"], 1)
    assert len(receiver.received) == 2
    [row] = await deliveries(workspace)
    assert (row["status"], row["attempts"]) == ("delivered", 2)


def test_a_waiting_retry_is_shown_at_the_minute_the_retry_job_runs_it():
    at = datetime(2026, 12, 1, 11, 1, 30, tzinfo=UTC)
    assert log.next_try_at(at) == datetime(2026, 12, 1, 11, 2, tzinfo=UTC)
    assert log.next_try_at(at.replace(second=0)) == at.replace(second=0)
    assert log.next_try_at(datetime(2026, 12, 1, 23, 59, 0, 1, tzinfo=UTC)) == datetime(2026, 12, 2, tzinfo=UTC)


async def test_a_ping_is_posted_at_once_and_logged():
    workspace = await make_workspace()
    async with running_receiver() as receiver:
        endpoint, secret = await loopback_endpoint(workspace, receiver.url)
        logged = await log.ping(workspace["id"], endpoint["id"])
    assert (logged["kind"], logged["status"], logged["last_status_code"]) == ("ping", "delivered", 200)
    [received] = receiver.received
    assert received.signed_by(secret) and received.headers["x-ignite-event"] == "ping"


async def test_another_workspaces_endpoint_is_not_found():
    mine, theirs = await make_workspace(), await make_workspace()
    endpoint, _ = await endpoints.create_endpoint(theirs["id"], {"url": "https://example.com/h",
                                                                 "events": ["message.opened"]})
    for call in (endpoints.endpoint_of(mine["id"], endpoint["id"]), log.ping(mine["id"], endpoint["id"]),
                 log.deliveries_of(mine["id"], endpoint["id"])):
        try:
            await call
        except LookupError:
            continue
        raise AssertionError("another workspace's endpoint was found")


async def test_a_disabled_endpoints_waiting_deliveries_are_kept_and_posted_once_it_is_enabled_again():
    workspace = await make_workspace()
    async with running_receiver() as receiver:
        endpoint, _ = await loopback_endpoint(workspace, receiver.url)
        await webhooks.publish_many(workspace["id"], [("message.bounced", BOUNCE)] * 3)
        await endpoints.set_enabled(workspace["id"], endpoint["id"], False)
        assert await deliver_due(get_redis()) == 0
        assert {row["next_attempt_at"] for row in await deliveries(workspace)} == {None}
        await endpoints.set_enabled(workspace["id"], endpoint["id"], True)
        assert await deliver_due(get_redis()) == 3
    assert len(receiver.received) == 3
    assert [row["status"] for row in await deliveries(workspace)] == ["delivered"] * 3


async def test_the_log_forgets_deliveries_done_with_long_ago_and_keeps_waiting_ones():
    workspace = await make_workspace()
    async with running_receiver() as receiver:
        await loopback_endpoint(workspace, receiver.url)
        await webhooks.publish_many(workspace["id"], [("message.bounced", BOUNCE)] * 2)
        await deliver_due(get_redis())
        await webhooks.publish(workspace["id"], "message.bounced", BOUNCE)
    await fetch_positional("UPDATE webhook_deliveries SET created_at = now() - interval '31 days' "
                           "WHERE workspace_id = $1", [workspace["id"]])
    assert await forget_old(get_redis()) == 2
    assert await forget_old(get_redis()) == 0  # once an hour
    assert [row["status"] for row in await deliveries(workspace)] == ["pending"]


async def test_the_activity_feed_says_which_endpoint_was_disabled_and_links_to_it():
    workspace = await make_workspace()
    endpoint, _ = await endpoints.create_endpoint(workspace["id"], {"url": "https://hooks.example.com/in",
                                                                    "events": ["message.opened"]})
    await disable(get_redis(), {**endpoint, "failures": 6})
    [entry] = await activity_feed.recent(workspace["id"])
    assert entry["sentence"] == ("system disabled webhook endpoint “https://hooks.example.com/in”: its deliveries "
                                 "kept failing")
    assert entry["link"] == f"/settings/webhooks/{endpoint['id']}"


async def test_only_the_start_of_a_huge_answer_is_read_and_logged():
    workspace = await make_workspace()
    async with running_receiver() as receiver:
        receiver.answer = b"x" * 5_000_000
        await loopback_endpoint(workspace, receiver.url)
        await webhooks.publish(workspace["id"], "message.bounced", BOUNCE)
        await deliver_due(get_redis())
    [row] = await deliveries(workspace)
    assert (row["status"], row["response_excerpt"]) == ("delivered", "x" * 500)


async def test_an_endpoint_that_does_not_answer_fails_its_batch_at_once_and_others_are_still_posted():
    workspace = await make_workspace()
    async with running_receiver() as receiver:
        await endpoints.allow_private_targets(workspace["id"], True)
        # Nothing listens on port 9 of loopback: refused at once, as a dead endpoint is.
        await endpoints.create_endpoint(workspace["id"], {"url": "http://127.0.0.1:9/h", "events": ["message.opened"]})
        await endpoints.create_endpoint(workspace["id"], {"url": receiver.url, "events": ["message.opened"]})
        await webhooks.publish_many(workspace["id"], [("message.opened", {"n": n}) for n in range(10)])
        assert await deliver_due(get_redis()) == 20
    assert len(receiver.received) == 10
    dead = [row for row in await deliveries(workspace) if row["status"] == "pending"]
    assert len(dead) == 10 and all(row["attempts"] == 1 for row in dead)
    assert sum(row["last_error"].startswith("Not sent") for row in dead) == 10 - PER_ENDPOINT
