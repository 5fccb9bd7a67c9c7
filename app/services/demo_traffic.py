"""`ignite demo traffic`: real sends and real recipient behaviour on the running development platform.

So that the Analytics portal has figures on a fresh machine, this sends a campaign through the real engine and
then lets its recipients act (app/services/demo_recipients.py):
- three development capture servers (mail stays on the machine, in the development inbox), each with its
  price per 1,000 and fixed monthly cost, and a routing rule splitting the "Demo audience" list between them
  by uneven weights;
- that list, ~2,000 addresses at the usual mailbox providers, upserted in bulk (a second run adds none);
- a campaign launched by the campaign services and sent by the running workers, the inbox read meanwhile;
- the recipients' opens, clicks, unsubscribes and the network's postbacks over HTTP, a few bounces;
- the rollups then kept by the platform's own writers (opens and clicks by the aggregator, every minute).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import httpx
from redis.asyncio import Redis

from app.db.accounts import Workspace
from app.db.audience import MailingList
from app.db.content import EmailTemplate
from app.db.delivery import DeliveryServer, RoutingRule
from app.db.tracking import TrackingSettings
from app.services import campaigns, lists, routing, sending_domains
from app.services.accounts import now
from app.services.analytics.costs import save_server_costs
from app.services.audit import Actor
from app.services.campaigns.drafts import is_verified
from app.services.campaigns.queue import SendQueue
from app.services.custom_fields import add_field, fields_of
from app.services.delivery_servers import create_server
from app.services.demo import DEMO_WORKSPACE
from app.services.demo_recipients import Inbox, Placement, behave
from app.services.sqlparams import fetch_positional
from app.services.subscribers.bulk import MAX_ROWS, upsert_many
from app.services.templates import create_template
from app.services.tenancy import owned_by
from app.services.tracking.conversions import rotate_postback_secret, secret_digest
from app.settings import data_dir

AUDIENCE, RULE, TEMPLATE = "Demo audience", "Demo traffic", "Demo offer"
ACTOR = Actor(user_id=None, email="ignite demo traffic")
# A click within 10 s of delivery is a scanner's under the default rules: people read a little later.
READING_DELAY = 12.0
STALLED_AFTER = 180.0
# (domain, share in %): mostly the big mailbox providers, as a consumer list is.
DOMAINS = (("gmail.com", 38), ("yahoo.com", 14), ("outlook.com", 10), ("hotmail.com", 8), ("icloud.com", 8),
           ("aol.com", 5), ("comcast.net", 5), ("gmx.com", 4), ("protonmail.com", 4), ("me.com", 4))
FIRST_NAMES = ("ada", "alan", "grace", "linus", "margaret", "ken", "barbara", "dennis", "frances", "edsger",
               "katherine", "john", "radia", "tim", "hedy", "claude", "annie", "niklaus", "karen", "donald")
# The offer is the first link: the one a recipient who clicks follows (app/services/demo_recipients.py).
HTML = """<html><body style="font-family:Arial,sans-serif">
<h1>Hello {{ first_name | default('there') }}</h1>
<p>This week only: 40% off the spring collection.</p>
<p><a href="https://offers.example.net/spring?aff=demo" data-offer>Claim the offer</a></p>
<p><a href="https://shop.example.com/new">See what is new</a></p>
<p style="font-size:12px">You receive this because you subscribed.
<a href="{{ unsubscribe_url }}">Unsubscribe</a><br>{{ physical_address }}</p>
</body></html>"""


class DemoError(Exception):
    """The demo cannot go on; the message says what to do."""


@dataclass(frozen=True)
class EspProfile:
    """A demo server's prices and routing weight, and how its recipients behave (its inbox placement)."""

    per_thousand: str
    monthly: str
    weight: int
    placement: Placement

    @property
    def name(self) -> str:
        return self.placement.server


PROFILES = (
    EspProfile("0.80", "150.00", 55, Placement("Demo ESP Atlas", opens=0.30, clicks=0.25, converts=0.20,
                                               payout="9.00")),
    EspProfile("0.35", "60.00", 30, Placement("Demo ESP Budget", opens=0.16, clicks=0.18, converts=0.12,
                                              payout="7.00")),
    EspProfile("1.40", "300.00", 15, Placement("Demo ESP Premier", opens=0.40, clicks=0.30, converts=0.28,
                                               payout="14.00")),
)


@dataclass(frozen=True)
class Setup:
    workspace_id: int
    list_id: int
    template_id: int
    from_email: str
    servers: dict[int, EspProfile]
    postback_key: str
    added: int


def audience(size: int) -> list[tuple[str, dict[str, str]]]:
    """`size` addresses spread over DOMAINS by share; the same ones on every run, so a rerun adds none."""
    weights = [share for _, share in DOMAINS]
    picker = random.Random(7)
    rows = []
    for n in range(size):
        name = FIRST_NAMES[n % len(FIRST_NAMES)]
        domain = picker.choices(DOMAINS, weights)[0][0]
        rows.append((f"{name}.demo{n}@{domain}", {"first_name": name.title()}))
    return rows


async def _servers(workspace_id: int) -> dict[int, EspProfile]:
    """The three demo capture servers with their costs, made once, kept up to date."""
    existing = {row["name"]: row["id"] for row in await DeliveryServer.select(
        DeliveryServer.id, DeliveryServer.name).where(owned_by(DeliveryServer, workspace_id))}
    servers = {}
    for profile in PROFILES:
        server_id = existing.get(profile.name) or (await create_server(workspace_id, "capture", {
            "name": profile.name, "weight": str(profile.weight)}))["id"]
        await save_server_costs(workspace_id, server_id, {"cost_per_thousand": profile.per_thousand,
                                                          "monthly_cost": profile.monthly})
        servers[server_id] = profile
    return servers


async def _routing_rule(workspace_id: int, list_id: int, servers: dict[int, EspProfile]) -> None:
    """The Demo audience list goes through the demo servers only, split by their weights."""
    for rule in await RoutingRule.select(RoutingRule.id).where(owned_by(RoutingRule, workspace_id),
                                                               RoutingRule.name == RULE):
        await routing.delete_rule(workspace_id, rule["id"])
    await routing.save_rule(workspace_id, {"name": RULE, "list_id": str(list_id), **{
        f"weight_{server_id}": str(profile.weight) for server_id, profile in servers.items()}})


async def _sender(workspace_id: int) -> str:
    verified = [row["domain"] for row in await sending_domains.domains(workspace_id) if is_verified(row)]
    if not verified:
        raise DemoError("The workspace has no verified sending domain (the demo workspace has example.com).")
    return f"offers@{verified[0]}"


async def _audience_list(workspace_id: int, from_email: str, size: int) -> tuple[int, int]:
    """(list id, subscribers added this time): the Demo audience list, filled through the bulk upsert."""
    found = await MailingList.select(MailingList.id).where(
        owned_by(MailingList, workspace_id), MailingList.name == AUDIENCE).first()
    list_id = found["id"] if found else (await lists.create_list(workspace_id, {
        "name": AUDIENCE, "from_name": "Demo Shop", "from_email": from_email, "company_name": "Demo Shop",
        "company_address": "1 Sample Street, Springfield"}))["id"]
    if not any(row["tag"] == "first_name" for row in await fields_of(workspace_id, list_id)):
        await add_field(workspace_id, list_id, {"label": "First name", "tag": "first_name"})
    rows = audience(size)
    added = 0
    for start in range(0, size, MAX_ROWS):
        results = await upsert_many(workspace_id, list_id, rows[start:start + MAX_ROWS])
        added += sum(result.outcome == "created" for result in results)
    return list_id, added


async def _template(workspace_id: int) -> int:
    found = await EmailTemplate.select(EmailTemplate.id).where(owned_by(EmailTemplate, workspace_id),
                                                               EmailTemplate.name == TEMPLATE).first()
    if found:
        return found["id"]
    return (await create_template(workspace_id, {"name": TEMPLATE, "subject": "{{ first_name }}, 40% off spring",
                                                 "html": HTML}, None))["id"]


async def _postback_key(workspace_id: int) -> str:
    """The key kept from an earlier run when it is still the workspace's; else a new one (the old one stops)."""
    keys_file = data_dir() / "demo-postback-keys.json"
    keys = json.loads(keys_file.read_text()) if keys_file.exists() else {}
    stored = await TrackingSettings.select(TrackingSettings.postback_secret_hash).where(
        owned_by(TrackingSettings, workspace_id)).first()
    kept = keys.get(str(workspace_id), "")
    if kept and stored and stored["postback_secret_hash"] == secret_digest(kept):
        return kept
    keys[str(workspace_id)] = await rotate_postback_secret(workspace_id)
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    keys_file.write_text(json.dumps(keys))
    return keys[str(workspace_id)]


async def prepare(workspace_id: int, size: int = 2000) -> Setup:
    """Servers, costs, routing, the audience, the template and a postback key: everything but the send."""
    from_email = await _sender(workspace_id)
    servers = await _servers(workspace_id)
    list_id, added = await _audience_list(workspace_id, from_email, size)
    await _routing_rule(workspace_id, list_id, servers)
    return Setup(workspace_id, list_id, await _template(workspace_id), from_email, servers,
                 await _postback_key(workspace_id), added)


async def launch(redis: Redis, queue: SendQueue, setup: Setup, name: str) -> dict:
    """The demo campaign, launched now through the campaign services; `queue` is where its batches go."""
    draft = await campaigns.create_draft(setup.workspace_id, {
        "name": name, "from_email": setup.from_email, "from_name": "Demo Shop",
        "template_id": str(setup.template_id), "list_ids": [str(setup.list_id)]})
    return await campaigns.launch(redis, queue, setup.workspace_id, draft["id"], ACTOR)


async def watch_send(redis: Redis, workspace_id: int, campaign_id: int, inbox: Inbox,
                     say: Callable[[str], None]) -> dict:
    """Waits for the workers to send the campaign, reading the inbox and showing progress meanwhile;
    DemoError when nothing moves for minutes (no workers running)."""
    moved_at, last = time.monotonic(), -1
    while True:
        campaign = await campaigns.get_campaign(workspace_id, campaign_id)
        figures = await campaigns.live_figures(redis, campaign)
        done = figures["sent"] + figures["failed"] + figures["skipped"]
        say(f"\r  sent {figures['sent']:,} of {figures['recipients']:,} (failed {figures['failed']}), "
            f"{len(inbox.messages):,} read in the inbox ")
        if campaign["status"] not in ("sending", "scheduled"):
            await inbox.read_new()
            say("\n")
            return campaign
        if done != last:
            moved_at, last = time.monotonic(), done
        elif time.monotonic() - moved_at > STALLED_AFTER:
            raise DemoError(f"the campaign has not moved for {STALLED_AFTER:.0f} s: are the workers running "
                            "(`make run`)?")
        # Read four times a second: two workers' batches can push the capture past its keep between reads.
        for _ in range(4):
            await inbox.read_new()
            await asyncio.sleep(0.25)


async def rollup_figures(workspace_id: int, campaign_id: int) -> dict[int, dict]:
    """The campaign's rollups per server, as the Analytics pages read them."""
    rows = await fetch_positional(
        "SELECT server_id, sum(sent) AS sent, sum(human_opens) AS human_opens, sum(machine_opens) AS machine_opens, "
        "sum(human_clicks) AS human_clicks, sum(bot_clicks) AS bot_clicks, sum(unsubscribes) AS unsubscribes, "
        "sum(hard) AS hard, sum(conversions) AS conversions, sum(revenue) AS revenue FROM performance_days "
        "WHERE workspace_id = $1::integer AND campaign_id = $2::bigint GROUP BY server_id",
        [workspace_id, campaign_id])
    return {row["server_id"]: row for row in rows}


async def wait_for_rollups(workspace_id: int, campaign_id: int, tracked: int,
                           seconds: float = 180.0) -> tuple[dict[int, dict], bool]:
    """(figures, complete): polls until the aggregator (a job every minute) has counted the `tracked` opens
    and clicks, or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        figures = await rollup_figures(workspace_id, campaign_id)
        counted = sum(row[name] for row in figures.values()
                      for name in ("human_opens", "machine_opens", "human_clicks", "bot_clicks"))
        if counted >= tracked or time.monotonic() > deadline:
            return figures, counted >= tracked
        await asyncio.sleep(3)


async def wait_until_readable(workspace_id: int, campaign_id: int) -> None:
    """Sleeps until the last message is READING_DELAY seconds old, so clicks count as a person's."""
    rows = await fetch_positional("SELECT max(sent_at) AS at FROM deliveries WHERE workspace_id = $1::integer "
                                  "AND campaign_id = $2::bigint", [workspace_id, campaign_id])
    last = rows[0]["at"]
    if last is not None:
        await asyncio.sleep(max(0.0, READING_DELAY - (now() - last).total_seconds()))


async def demo_workspace_id() -> int:
    found = await Workspace.select(Workspace.id).where(Workspace.name == DEMO_WORKSPACE).first()
    if found is None:
        raise DemoError(f"no workspace named {DEMO_WORKSPACE!r}: start `make run` once, or pass --workspace N")
    return found["id"]


async def _web_is_up(http: httpx.AsyncClient) -> None:
    try:
        answer = await http.get("/health")
    except httpx.HTTPError as exc:
        raise DemoError(f"the web server at {http.base_url} does not answer ({exc!r}): start `make run` first, "
                        "or set BASE_URL to where it listens") from exc
    if answer.status_code != 200:
        raise DemoError(f"{http.base_url}health answered {answer.status_code}: is the platform up?")


def server_table(servers: dict[int, EspProfile], figures: dict[int, dict]) -> list[str]:
    """Per server: sent, opens, clicks, conversions, revenue, eCPM and the price per 1,000, from the rollups."""
    lines = [f"  {'server':<18}{'sent':>6}{'opens':>7}{'machine':>8}{'clicks':>7}{'bot':>5}{'conv':>6}"
             f"{'revenue':>10}{'eCPM':>9}{'cost/1k':>9}"]
    for server_id, profile in servers.items():
        row = figures.get(server_id)
        if row is None:
            continue
        ecpm = row["revenue"] * 1000 / row["sent"] if row["sent"] else Decimal(0)
        lines.append(f"  {profile.name:<18}{row['sent']:>6}{row['human_opens']:>7}{row['machine_opens']:>8}"
                     f"{row['human_clicks']:>7}{row['bot_clicks']:>5}{row['conversions']:>6}"
                     f"{row['revenue']:>10.2f}{ecpm:>9.2f}{profile.per_thousand:>9}")
    return lines


def where_to_look(base_url: str) -> list[str]:
    return [f"  {title:<22}{base_url}/analytics/{slug}" for title, slug in (
        ("ESP performance", "esp-performance"), ("Revenue", "revenue"), ("P&L (today's cost)", "pnl"),
        ("Intelligence", "intelligence"), ("Volume planner", "volume-planner"))]


async def run(redis: Redis, queue: SendQueue, http: httpx.AsyncClient, workspace_id: int, size: int,
              say: Callable[[str], None], base_url: str) -> None:
    """The whole demo against the running platform, told on the terminal as it goes."""
    await _web_is_up(http)
    setup = await prepare(workspace_id, size)
    servers = ", ".join(f"{p.name} (weight {p.weight}, {p.per_thousand}/1k + {p.monthly}/month)"
                        for p in setup.servers.values())
    say(f"Servers: {servers}.\n"
        f"List {AUDIENCE!r}: {setup.added:,} subscribers added ({size:,} asked for; existing ones are kept).\n")
    inbox = await Inbox.from_now(workspace_id)
    campaign = await launch(redis, queue, setup, f"Demo offer {now():%Y-%m-%d %H:%M:%S}")
    say(f"Campaign {campaign['name']!r} (id {campaign['id']}) launched; the workers send it:\n")
    campaign = await watch_send(redis, workspace_id, campaign["id"], inbox, say)
    await wait_until_readable(workspace_id, campaign["id"])
    say(f"Recipients act over HTTP on {http.base_url} …\n")
    done = await behave(http, workspace_id, campaign["id"], inbox,
                        {server_id: profile.placement for server_id, profile in setup.servers.items()},
                        setup.postback_key)
    say(f"  {done.read:,} messages read: " + ", ".join(f"{n:,} {what}" for what, n in sorted(done.totals.items()))
        + f"; revenue posted back {sum(done.revenue.values(), Decimal(0)):.2f}\n")
    for problem in done.refused[:5]:
        say(f"  refused: {problem}\n")
    say("Waiting for the tracking aggregator (it runs every minute) to count the opens and clicks …\n")
    figures, complete = await wait_for_rollups(workspace_id, campaign["id"], done.tracked)
    say("\n".join(server_table(setup.servers, figures)) + "\n")
    if not complete:
        say("  (still counting: the pages show the rest within a few minutes)\n")
    say("Where to look (sign in as the demo admin):\n" + "\n".join(where_to_look(base_url)) + "\n"
        f"  {'Development inbox':<22}{base_url}/mailing/inbox\n")
