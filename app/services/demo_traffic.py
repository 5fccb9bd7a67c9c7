"""`ignite demo traffic`: real sends and real recipient behaviour on the running development platform.

So that the Analytics portal has something to show on a fresh machine, this sends a campaign through the
real engine and then behaves like its recipients, the way they would reach Ignite from outside:
- three development capture servers (mail stays in the development inbox) with their own price per 1,000,
  fixed monthly cost and routing weight, and a routing rule splitting the "Demo audience" list between them;
- the list itself, ~2,000 addresses at the usual mailbox providers, upserted in bulk (a second run adds none);
- a campaign launched by the campaign services, sent by the running workers;
- recipients reading the captured messages and acting over HTTP against the web server: open pixels (some
  through Apple's and Gmail's proxies, machine opens), offer clicks whose redirect carries the sub-ids, a
  link scanner clicking everything (bot clicks), one-click unsubscribes, and the network's postbacks.

Every capture server delivers alike, so each one's inbox placement is simulated by `EspProfile`: how many of
its recipients open, click and convert, and what a conversion pays. That is what makes their eCPM differ.
The rollups are then kept by the platform's own writers (opens and clicks by the minute's aggregator).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from email import policy
from email.parser import BytesParser
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import httpx
from redis.asyncio import Redis

from app.db.accounts import Workspace
from app.db.audience import MailingList
from app.db.campaigns import Delivery
from app.db.content import EmailTemplate
from app.db.delivery import DeliveryServer, RoutingRule
from app.db.inbox import CapturedMessage
from app.db.tracking import TrackingSettings
from app.services import campaigns, lists, routing, sending_domains
from app.services.accounts import now
from app.services.analytics.costs import save_server_costs
from app.services.audit import Actor
from app.services.bounces import actions
from app.services.bounces.classifier import classify_reply
from app.services.campaigns.drafts import is_verified
from app.services.campaigns.queue import SendQueue
from app.services.custom_fields import add_field, fields_of
from app.services.delivery_servers import create_server
from app.services.demo import DEMO_WORKSPACE
from app.services.sqlparams import fetch_positional
from app.services.subscribers.bulk import upsert_many
from app.services.templates import create_template
from app.services.tenancy import owned_by
from app.services.tracking.conversions import rotate_postback_secret, secret_digest
from app.services.tracking.offers import workspace_settings
from app.settings import data_dir

AUDIENCE, RULE, TEMPLATE = "Demo audience", "Demo traffic", "Demo offer"
ACTOR = Actor(user_id=None, email="ignite demo traffic")
BROWSERS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 "
            "Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Mobile/15E148")
# The default robot rules flag these: Apple Mail Privacy Protection's bare agent, Gmail's image proxy, and a
# mail security scanner on CrawlerDetect's list.
APPLE_PROXY = "Mozilla/5.0"
GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
SCANNER = "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))"
# A click within 10 s of delivery is a scanner's under the default rules: people read a little later.
READING_DELAY = 12.0
STALLED_AFTER = 180.0
# (domain, share in %): mostly the big mailbox providers, as a consumer list is.
DOMAINS = (("gmail.com", 38), ("yahoo.com", 14), ("outlook.com", 10), ("hotmail.com", 8), ("icloud.com", 8),
           ("aol.com", 5), ("comcast.net", 5), ("gmx.com", 4), ("protonmail.com", 4), ("me.com", 4))
FIRST_NAMES = ("ada", "alan", "grace", "linus", "margaret", "ken", "barbara", "dennis", "frances", "edsger",
               "katherine", "john", "radia", "tim", "hedy", "claude", "annie", "niklaus", "karen", "donald")
HTML = """<html><body style="font-family:Arial,sans-serif">
<h1>Hello {{ first_name | default('there') }}</h1>
<p>This week only: 40% off the spring collection.</p>
<p><a href="https://offers.example.net/spring?aff=demo" data-offer>Claim the offer</a></p>
<p><a href="https://shop.example.com/new">See what is new</a></p>
<p style="font-size:12px">You receive this because you subscribed.
<a href="{{ unsubscribe_url }}">Unsubscribe</a><br>{{ physical_address }}</p>
</body></html>"""
_HREF = re.compile(r'href="([^"]*/c/[^"]*)"')
_PIXEL = re.compile(r'<img src="([^"]*/o/[^"]*)"')
_HTTP_UNSUBSCRIBE = re.compile(r"<(https?://[^>]+)>")


class DemoError(Exception):
    """The demo cannot go on; the message says what to do."""


@dataclass(frozen=True)
class EspProfile:
    """A demo server's prices and weight, and how its recipients behave (its simulated inbox placement)."""

    name: str
    per_thousand: str
    monthly: str
    weight: int
    opens: float
    clicks: float
    converts: float
    payout: str


PROFILES = (
    EspProfile("Demo ESP Atlas", "0.80", "150.00", 55, opens=0.30, clicks=0.25, converts=0.20, payout="9.00"),
    EspProfile("Demo ESP Budget", "0.35", "60.00", 30, opens=0.16, clicks=0.18, converts=0.12, payout="7.00"),
    EspProfile("Demo ESP Premier", "1.40", "300.00", 15, opens=0.40, clicks=0.30, converts=0.28, payout="14.00"),
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


@dataclass(frozen=True)
class Received:
    """One captured message as its recipient sees it: the tracked URLs, as paths of the web server."""

    email: str
    pixel: str
    links: tuple[str, ...]
    unsubscribe: str


@dataclass
class Behaviour:
    """What the recipients did, in total and per server name."""

    read: int = 0
    totals: Counter[str] = field(default_factory=Counter)
    by_server: dict[str, Counter[str]] = field(default_factory=dict)
    revenue: dict[str, Decimal] = field(default_factory=dict)

    def count(self, server: str, what: str, n: int = 1) -> None:
        self.totals[what] += n
        self.by_server.setdefault(server, Counter())[what] += n


def _path(url: str) -> str:
    """A URL of the web server as a path, so the HTTP client's own base URL is used."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


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
    results = await upsert_many(workspace_id, list_id, audience(size))
    return list_id, sum(result.outcome == "created" for result in results)


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


def received(email: str, raw: bytes) -> Received:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    body = message.get_body(preferencelist=("html",))
    html = body.get_content() if body is not None else ""
    pixel = _PIXEL.search(html)
    unsubscribe = _HTTP_UNSUBSCRIBE.search(str(message.get("List-Unsubscribe", "")))
    return Received(email, _path(unescape(pixel.group(1))) if pixel else "",
                    tuple(_path(unescape(link)) for link in _HREF.findall(html)),
                    _path(unsubscribe.group(1)) if unsubscribe else "")


class Inbox:
    """The development capture store, read from a starting point on, as the messages land."""

    def __init__(self, workspace_id: int, after_id: int) -> None:
        self.workspace_id, self.after_id = workspace_id, after_id
        self.messages: dict[str, Received] = {}

    @classmethod
    async def from_now(cls, workspace_id: int) -> Inbox:
        newest = await CapturedMessage.select(CapturedMessage.id).where(
            owned_by(CapturedMessage, workspace_id)).order_by(CapturedMessage.id, ascending=False).first()
        return cls(workspace_id, newest["id"] if newest else 0)

    async def read_new(self) -> int:
        """Reads what arrived since the last read; the capture keeps only its newest messages, so the
        campaign's are read while it sends."""
        rows = await CapturedMessage.select(CapturedMessage.id, CapturedMessage.rcpt_to, CapturedMessage.raw).where(
            owned_by(CapturedMessage, self.workspace_id), CapturedMessage.id > self.after_id).order_by(
            CapturedMessage.id)
        for row in rows:
            self.messages[row["rcpt_to"]] = received(row["rcpt_to"], bytes(row["raw"]))
            self.after_id = row["id"]
        return len(rows)


async def watch_send(redis: Redis, workspace_id: int, campaign_id: int, inbox: Inbox,
                     say: Callable[[str], None]) -> dict:
    """Waits for the workers to send the campaign, reading the inbox and showing progress meanwhile;
    DemoError when nothing moves for minutes (no workers running)."""
    moved_at, last = time.monotonic(), -1
    while True:
        campaign = await campaigns.get_campaign(workspace_id, campaign_id)
        figures = await campaigns.live_figures(redis, campaign)
        await inbox.read_new()
        done = figures["sent"] + figures["failed"] + figures["skipped"]
        say(f"\r  sent {figures['sent']:,} of {figures['recipients']:,} (failed {figures['failed']}, "
            f"deferred {figures.get('deferred', 0)}), {len(inbox.messages):,} read in the inbox ")
        if campaign["status"] not in ("sending", "scheduled"):
            say("\n")
            return campaign
        if done != last:
            moved_at, last = time.monotonic(), done
        elif time.monotonic() - moved_at > STALLED_AFTER:
            raise DemoError(f"the campaign has not moved for {STALLED_AFTER:.0f} s: are the workers running "
                            "(`make run`)?")
        await asyncio.sleep(1)


async def wait_until_readable(workspace_id: int, campaign_id: int) -> None:
    """Sleeps until the last message is READING_DELAY seconds old, so clicks count as a person's."""
    rows = await fetch_positional("SELECT max(sent_at) AS at FROM deliveries WHERE workspace_id = $1::integer "
                                  "AND campaign_id = $2::bigint", [workspace_id, campaign_id])
    last = rows[0]["at"]
    if last is not None:
        await asyncio.sleep(max(0.0, READING_DELAY - (now() - last).total_seconds()))


async def _deliveries(workspace_id: int, campaign_id: int) -> dict[str, tuple[int, int]]:
    """Each recipient's (delivery id, server id)."""
    rows = await Delivery.select(Delivery.id, Delivery.email, Delivery.server_id).where(
        Delivery.workspace_id == workspace_id, Delivery.campaign_id == campaign_id, Delivery.status == "sent")
    return {row["email"]: (row["id"], row["server_id"]) for row in rows}


@dataclass(frozen=True)
class Plan:
    """What one recipient will do, decided up front so a seed gives the same story."""

    message: Received
    delivery_id: int
    server: str
    opens: int = 0
    proxied: bool = False
    machine_open: bool = False
    clicks: bool = False
    payout: Decimal | None = None
    scanned: bool = False
    unsubscribes: bool = False
    bounces: bool = False


def plan_for(rng: random.Random, message: Received, delivery_id: int, profile: EspProfile) -> Plan:
    domain = message.email.rpartition("@")[2]
    opens = (1 + (rng.random() < 0.3)) if rng.random() < profile.opens else 0
    clicks = bool(opens) and rng.random() < profile.clicks
    converts = clicks and rng.random() < profile.converts
    payout = (Decimal(profile.payout) * Decimal(str(rng.uniform(0.7, 1.3)))).quantize(Decimal("0.01"))
    scanned = not opens and rng.random() < 0.03
    return Plan(message, delivery_id, profile.name, opens=opens,
                proxied=domain == "gmail.com" and rng.random() < 0.25,
                # Apple Mail Privacy Protection fetches every message's images, read or not.
                machine_open=domain in ("icloud.com", "me.com"), clicks=clicks, payout=payout if converts else None,
                scanned=scanned, unsubscribes=not converts and rng.random() < 0.006,
                bounces=not (opens or scanned) and rng.random() < 0.01)


class Recipients:
    """The recipients' requests to the web server, counted as they are answered."""

    def __init__(self, http: httpx.AsyncClient, setup: Setup, campaign_id: int, sub_id_names: set[str]) -> None:
        self.http, self.setup, self.campaign_id, self.sub_id_names = http, setup, campaign_id, sub_id_names
        self.behaviour = Behaviour()
        self.refused: list[str] = []
        self.lanes = asyncio.Semaphore(8)

    async def _get(self, path: str, agent: str, expected: tuple[int, ...] = (200,),
                   params: dict[str, str] | None = None) -> httpx.Response | None:
        answer = await self.http.get(path, headers={"User-Agent": agent}, params=params, follow_redirects=False)
        if answer.status_code not in expected:
            self.refused.append(f"GET {path[:60]}… answered {answer.status_code}: {answer.text[:120]}")
            return None
        return answer

    async def act(self, plan: Plan, rng: random.Random) -> None:
        count, message = self.behaviour.count, plan.message
        async with self.lanes:
            if plan.machine_open and await self._get(message.pixel, APPLE_PROXY):
                count(plan.server, "machine opens")
            for n in range(plan.opens):
                proxied = plan.proxied and n == 0
                if await self._get(message.pixel, GMAIL_PROXY if proxied else rng.choice(BROWSERS)):
                    count(plan.server, "machine opens" if proxied else "opens")
            if plan.clicks and message.links:
                await self._click(plan, rng.choice(BROWSERS))
            if plan.scanned:
                for link in message.links:
                    if await self._get(link, SCANNER, (301, 302, 303, 307)):
                        count(plan.server, "bot clicks")
            if plan.unsubscribes and message.unsubscribe:
                answer = await self.http.post(message.unsubscribe, data={"List-Unsubscribe": "One-Click"})
                if answer.status_code == 200:
                    count(plan.server, "unsubscribes")
                else:
                    self.refused.append(f"one-click unsubscribe answered {answer.status_code}")

    async def _click(self, plan: Plan, agent: str) -> None:
        answer = await self._get(plan.message.links[0], agent, (301, 302, 303, 307))
        if answer is None:
            return
        self.behaviour.count(plan.server, "clicks")
        if plan.payout is None:
            return
        # The network hands back the sub-ids the click redirect put on the offer URL.
        sub_ids = {name: value for name, value in parse_qsl(urlsplit(answer.headers["location"]).query)
                   if name in self.sub_id_names}
        posted = await self._get("/postback", agent, params={
            "key": self.setup.postback_key, "transaction_id": f"demo-{self.campaign_id}-{plan.delivery_id}",
            "offer_id": "1", "payout": str(plan.payout), **sub_ids})
        if posted is not None and posted.json().get("status") == "recorded":
            self.behaviour.count(plan.server, "conversions")
            revenue = self.behaviour.revenue
            revenue[plan.server] = revenue.get(plan.server, Decimal(0)) + plan.payout


async def behave(http: httpx.AsyncClient, setup: Setup, campaign_id: int, inbox: Inbox,
                 seed: int | None = None) -> Recipients:
    """The recipients of the messages read act over HTTP; a few addresses bounce through the bounce service."""
    settings = await workspace_settings(setup.workspace_id)
    names = {settings[name] for name in ("campaign_param", "subscriber_param", "delivery_param") if settings[name]}
    sent = await _deliveries(setup.workspace_id, campaign_id)
    rng = random.Random(campaign_id if seed is None else seed)
    plans = [plan_for(rng, message, sent[email][0], setup.servers[sent[email][1]])
             for email, message in sorted(inbox.messages.items())
             if email in sent and sent[email][1] in setup.servers]
    recipients = Recipients(http, setup, campaign_id, names)
    recipients.behaviour.read = len(plans)
    await asyncio.gather(*(recipients.act(plan, random.Random(rng.random())) for plan in plans))
    bounced = [plan for plan in plans if plan.bounces]
    await actions.record_answers(setup.workspace_id, [(plan.delivery_id, classify_reply(
        550, f"5.1.1 <{plan.message.email}>: Recipient address rejected: User unknown")) for plan in bounced])
    for plan in bounced:
        recipients.behaviour.count(plan.server, "hard bounces")
    return recipients


async def rollup_figures(workspace_id: int, campaign_id: int) -> dict[int, dict]:
    """The campaign's rollups per server, as the Analytics pages read them."""
    rows = await fetch_positional(
        "SELECT server_id, sum(sent) AS sent, sum(human_opens) AS human_opens, sum(machine_opens) AS machine_opens, "
        "sum(human_clicks) AS human_clicks, sum(bot_clicks) AS bot_clicks, sum(unsubscribes) AS unsubscribes, "
        "sum(hard) AS hard, sum(conversions) AS conversions, sum(revenue) AS revenue FROM performance_days "
        "WHERE workspace_id = $1::integer AND campaign_id = $2::bigint GROUP BY server_id",
        [workspace_id, campaign_id])
    return {row["server_id"]: row for row in rows}


async def wait_for_rollups(workspace_id: int, campaign_id: int, seconds: float = 150.0) -> dict[int, dict]:
    """Polls until the aggregator (a minute's job) has counted opens and clicks, or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        figures = await rollup_figures(workspace_id, campaign_id)
        counted = sum(row["human_opens"] for row in figures.values()) and sum(
            row["human_clicks"] for row in figures.values())
        if counted or time.monotonic() > deadline:
            return figures
        await asyncio.sleep(3)


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
    say(f"Recipients read {len(inbox.messages):,} captured messages and act over HTTP on {http.base_url} …\n")
    recipients = await behave(http, setup, campaign["id"], inbox)
    done = recipients.behaviour
    say(f"  {done.read:,} read: " + ", ".join(f"{n:,} {what}" for what, n in sorted(done.totals.items()))
        + f"; revenue posted back {sum(done.revenue.values(), Decimal(0)):.2f}\n")
    for problem in recipients.refused[:5]:
        say(f"  refused: {problem}\n")
    say("Waiting for the tracking aggregator (it runs every minute) to fill the rollups …\n")
    say("\n".join(server_table(setup.servers, await wait_for_rollups(workspace_id, campaign["id"]))) + "\n")
    say("Where to look (sign in as the demo admin):\n" + "\n".join(where_to_look(base_url)) + "\n"
        f"  {'Development inbox':<22}{base_url}/mailing/inbox\n")
