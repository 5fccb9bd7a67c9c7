"""`ignite demo traffic` on a demo workspace: three capture servers, the Demo audience upserted once, a campaign
sent by the real engine (in this process, as the campaign tests send), and recipients acting over HTTP on the
app; the rollups the platform keeps then show sends on three servers, opens, clicks and conversions."""

from __future__ import annotations

from decimal import Decimal

from app.cli import build_parser, cmd_demo_traffic
from app.db.campaigns import Delivery
from app.services import demo_traffic
from app.services.demo import add_campaign_basics
from app.services.demo_recipients import Inbox, behave
from tests.factories import signed_in_client
from tests.integration.campaigns.helpers import LocalQueue
from tests.integration.tracking.helpers import drain_all

AUDIENCE = 600


def _total(figures: dict[int, dict], name: str) -> int | Decimal:
    return sum(row[name] for row in figures.values())


async def test_demo_traffic_fills_the_rollups_of_three_servers_with_opens_clicks_and_conversions(
        client, redis, adapters) -> None:
    workspace, user = await signed_in_client(client)
    await add_campaign_basics(workspace["id"], user["id"])

    setup = await demo_traffic.prepare(workspace["id"], AUDIENCE)
    again = await demo_traffic.prepare(workspace["id"], AUDIENCE)
    assert (setup.added, again.added) == (AUDIENCE, 0), "a second run added subscribers again"
    assert again.servers == setup.servers and len(setup.servers) == 3
    assert again.postback_key == setup.postback_key, "a second run rotated the postback key it keeps"

    queue = LocalQueue()
    inbox = await Inbox.from_now(workspace["id"])
    campaign = await demo_traffic.launch(redis, queue, setup, "Demo offer")
    await queue.drain(redis, adapters)
    assert await inbox.read_new() == AUDIENCE
    # Read an hour later: a click seconds after delivery is a scanner's under the default robot rules.
    await Delivery.raw("UPDATE deliveries SET sent_at = sent_at - interval '1 hour' WHERE campaign_id = {}",
                       campaign["id"])
    placements = {server_id: profile.placement for server_id, profile in setup.servers.items()}
    done = await behave(client, workspace["id"], campaign["id"], inbox, placements, setup.postback_key, seed=3)
    assert done.refused == [] and done.read == AUDIENCE
    await drain_all(redis)

    figures = await demo_traffic.rollup_figures(workspace["id"], campaign["id"])
    assert set(figures) == set(setup.servers)
    sent = {setup.servers[server_id].name: row["sent"] for server_id, row in figures.items()}
    assert sum(sent.values()) == AUDIENCE and sent["Demo ESP Atlas"] > sent["Demo ESP Budget"] > sent[
        "Demo ESP Premier"] > 0, sent
    totals = done.totals
    assert _total(figures, "human_opens") == totals["opens"] > 0
    assert _total(figures, "machine_opens") == totals["machine opens"] > 0
    assert _total(figures, "human_clicks") == totals["clicks"] > 0
    assert _total(figures, "bot_clicks") == totals["bot clicks"] > 0
    assert _total(figures, "conversions") == totals["conversions"] > 0
    assert _total(figures, "revenue") == sum(done.revenue.values()) > 0
    assert _total(figures, "unsubscribes") == totals["unsubscribes"] > 0
    assert _total(figures, "hard") == totals["hard bounces"] > 0
    assert await demo_traffic.wait_for_rollups(workspace["id"], campaign["id"], done.tracked, seconds=0) == (
        figures, True)

    page = await client.get("/analytics/esp-performance")
    assert page.status_code == 200
    assert all(profile.name in page.text for profile in setup.servers.values())


def test_the_command_is_ignite_demo_traffic() -> None:
    args = build_parser().parse_args(["demo", "traffic", "--workspace", "7", "--subscribers", "50"])
    assert (args.func, args.workspace, args.subscribers) == (cmd_demo_traffic, 7, 50)
