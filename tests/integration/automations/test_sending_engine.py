"""Flow emails through the engine: a welcome series sends its first email at once and its second a day later,
quiet hours put a send step off until they end, and each send is one run with its delivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.db.campaigns import Delivery
from app.services.automations import engine, flows, limits
from app.services.sqlparams import fetch_positional
from app.services.templates import create_template
from tests.factories import make_list, make_subscriber, make_workspace
from tests.integration.automations.send_helpers import local_sending
from tests.integration.campaigns.helpers import HTML, sending_domain, smtp_server
from tests.integration.campaigns.recorder import RecordingHandler, RecordingServer
from tests.integration.transactional.helpers import parsed

EVENING = datetime(2026, 12, 1, 21, 30, tzinfo=UTC)  # 22:30 in Berlin


async def _welcome_series(workspace_id: int, list_id: int) -> dict:
    """send (no sender of its own: the list's is used), wait a day, send."""
    await sending_domain(workspace_id)
    first = await create_template(workspace_id, {"name": "One", "subject": "Welcome {{ first_name }}",
                                                 "html": HTML}, None)
    second = await create_template(workspace_id, {"name": "Two", "subject": "Day two", "html": HTML}, None)
    steps = [{"id": "s1", "kind": "send", "params": {"template_id": first["id"]}, "next": "s2"},
             {"id": "s2", "kind": "wait", "params": {"mode": "duration", "minutes": 1440}, "next": "s3"},
             {"id": "s3", "kind": "send", "params": {"template_id": second["id"]}, "next": None}]
    flow = await flows.create_flow(workspace_id, {
        "name": "Welcome", "trigger": {"kind": "subscribed", "list_id": list_id}, "steps": steps})
    return await flows.activate(workspace_id, flow["id"])


async def _runs(flow_id: int) -> list[tuple[str, str, bool]]:
    rows = await fetch_positional("SELECT step_id, outcome, delivery_id FROM flow_step_runs WHERE flow_id = $1 "
                                  "ORDER BY id", [flow_id])
    return [(row["step_id"], row["outcome"], row["delivery_id"] is not None) for row in rows]


async def test_a_welcome_series_sends_at_once_then_a_day_later_and_each_send_is_one_run() -> None:
    workspace = await make_workspace()
    people = await make_list(workspace, from_email="hello@news.example.com", from_name="News")
    ada = await make_subscriber(people, "ada@example.com", {"first_name": "Ada"})
    flow = await _welcome_series(workspace["id"], people["id"])
    with RecordingServer(RecordingHandler(keep_bodies=True)) as smtp:
        await smtp_server(workspace["id"], smtp.port)
        async with local_sending() as local:
            assert await engine.enrol(workspace["id"], flow["id"], [ada["id"]], now=EVENING) == 1
            await engine.advance_all(EVENING)
            await local.queue.drain(local.redis, local.adapters, include_delayed=True)
            assert [parsed(raw)["Subject"] for raw in smtp.handler.bodies.values()] == ["Welcome Ada"]
            await engine.advance_all(EVENING + timedelta(hours=23))
            await engine.advance_all(EVENING)
            assert smtp.handler.received == 1
            await engine.advance_all(EVENING + timedelta(days=1))
            await local.queue.drain(local.redis, local.adapters, include_delayed=True)
        subjects = [parsed(raw)["Subject"] for raw in smtp.handler.bodies.values()]
        senders = set(smtp.handler.senders.values())
    assert subjects == ["Welcome Ada", "Day two"]
    assert all(sender.endswith("news.example.com") for sender in senders)
    assert await _runs(flow["id"]) == [("s1", "sent", True), ("s2", "done", False), ("s3", "sent", True)]
    delivered = await fetch_positional("SELECT r.delivery_id FROM flow_step_runs r WHERE r.flow_id = $1 "
                                       "AND r.outcome = 'sent'", [flow["id"]])
    statuses = await Delivery.select(Delivery.status).where(
        Delivery.id.is_in([row["delivery_id"] for row in delivered]))
    assert [row["status"] for row in statuses] == ["sent", "sent"]


async def test_quiet_hours_put_the_send_step_off_until_they_end_then_it_runs_once() -> None:
    workspace = await make_workspace()
    people = await make_list(workspace, from_email="hello@news.example.com")
    ada = await make_subscriber(people, "ada@example.com", timezone="Europe/Berlin")
    await limits.save_limits(workspace["id"], {"quiet_start": "21:00", "quiet_end": "08:00"})
    flow = await _welcome_series(workspace["id"], people["id"])
    with RecordingServer() as smtp:
        await smtp_server(workspace["id"], smtp.port)
        async with local_sending() as local:
            await engine.enrol(workspace["id"], flow["id"], [ada["id"]], now=EVENING)
            await engine.advance_all(EVENING)
            await engine.advance_all(EVENING + timedelta(hours=9))  # 07:30 in Berlin: still quiet
            assert local.queue.batches == [] and await _runs(flow["id"]) == []
            await engine.advance_all(EVENING + timedelta(hours=9, minutes=30))
            await local.queue.drain(local.redis, local.adapters, include_delayed=True)
        assert smtp.handler.recipients == ["ada@example.com"]
    assert await _runs(flow["id"]) == [("s1", "sent", True)]
