"""The recipients of `ignite demo traffic`: they read the development capture store and act over HTTP.

Everything they do reaches Ignite the way it would from outside, through the web server: the open pixel
(some through Apple's and Gmail's image proxies: machine opens), the offer link (its redirect carries the
sub-ids), a mail security scanner following every link (bot clicks), the one-click unsubscribe, and the
affiliate network's postback with the sub-ids the redirect gave. A few addresses bounce, through the bounce
service the send path uses for a refused recipient.

Every capture server delivers alike, so each server's inbox placement is simulated by its `Placement`: how
many of its recipients open, click and convert, and what a conversion pays. That is what makes servers'
eCPM differ.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from email import policy
from email.parser import BytesParser
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import httpx

from app.db.campaigns import Delivery
from app.db.inbox import CapturedMessage
from app.services.bounces import actions
from app.services.bounces.classifier import classify_reply
from app.services.tenancy import owned_by
from app.services.tracking.offers import PARAMS, workspace_settings

BROWSERS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 "
            "Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Mobile/15E148")
# The default robot rules flag these: Apple Mail Privacy Protection's bare agent, Gmail's image proxy, and a
# mail security scanner on CrawlerDetect's list.
APPLE_PROXY = "Mozilla/5.0"
GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
SCANNER = "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))"
APPLE_DOMAINS = ("icloud.com", "me.com")
REDIRECTS = (301, 302, 303, 307)
_TRACKED_LINK = re.compile(r'href="([^"]*/c/[^"]*)"')
_PIXEL = re.compile(r'<img src="([^"]*/o/[^"]*)"')
_HTTP_UNSUBSCRIBE = re.compile(r"<(https?://[^>]+)>")


@dataclass(frozen=True)
class Placement:
    """How a server's recipients behave: shares that open, click (of openers), convert (of clickers)."""

    server: str
    opens: float
    clicks: float
    converts: float
    payout: str


@dataclass(frozen=True)
class Received:
    """One captured message as its recipient sees it: its tracked URLs, as paths of the web server."""

    email: str
    pixel: str
    links: tuple[str, ...]
    unsubscribe: str


def _path(url: str) -> str:
    """A URL of the web server as a path, so the HTTP client's own base URL is used."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def received(email: str, raw: bytes) -> Received:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    body = message.get_body(preferencelist=("html",))
    html = body.get_content() if body is not None else ""
    pixel = _PIXEL.search(html)
    unsubscribe = _HTTP_UNSUBSCRIBE.search(str(message.get("List-Unsubscribe", "")))
    return Received(email, _path(unescape(pixel.group(1))) if pixel else "",
                    tuple(_path(unescape(link)) for link in _TRACKED_LINK.findall(html)),
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
        """Reads what arrived since the last read. The capture keeps only a workspace's newest messages
        (CAPTURE_KEEP_PER_WORKSPACE), so a large campaign's are read while it sends."""
        rows = await CapturedMessage.select(CapturedMessage.id, CapturedMessage.rcpt_to, CapturedMessage.raw).where(
            owned_by(CapturedMessage, self.workspace_id), CapturedMessage.id > self.after_id).order_by(
            CapturedMessage.id)
        for row in rows:
            self.messages[row["rcpt_to"]] = received(row["rcpt_to"], bytes(row["raw"]))
            self.after_id = row["id"]
        return len(rows)


@dataclass
class Behaviour:
    """What the recipients did, in total and per server name, and the revenue posted back."""

    read: int = 0
    totals: Counter[str] = field(default_factory=Counter)
    revenue: Counter[str] = field(default_factory=Counter)
    refused: list[str] = field(default_factory=list)

    def count(self, what: str) -> None:
        self.totals[what] += 1

    @property
    def tracked(self) -> int:
        """The opens and clicks the aggregator will count."""
        return sum(self.totals[what] for what in ("opens", "machine opens", "clicks", "bot clicks"))


@dataclass(frozen=True)
class Plan:
    """What one recipient will do, decided up front so that a seed always tells the same story."""

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


def plan_for(rng: random.Random, message: Received, delivery_id: int, placement: Placement) -> Plan:
    domain = message.email.rpartition("@")[2]
    opens = (1 + (rng.random() < 0.3)) if rng.random() < placement.opens else 0
    clicks = bool(opens) and rng.random() < placement.clicks
    converts = clicks and rng.random() < placement.converts
    payout = (Decimal(placement.payout) * Decimal(str(rng.uniform(0.7, 1.3)))).quantize(Decimal("0.01"))
    scanned = not opens and rng.random() < 0.03
    return Plan(message, delivery_id, placement.server, opens=opens,
                proxied=domain == "gmail.com" and rng.random() < 0.25,
                # Apple Mail Privacy Protection fetches every message's images, read or not.
                machine_open=domain in APPLE_DOMAINS, clicks=clicks, payout=payout if converts else None,
                scanned=scanned, unsubscribes=not converts and rng.random() < 0.006,
                bounces=not (opens or scanned) and rng.random() < 0.01)


class Recipients:
    """The recipients' requests to the web server, counted as they are answered."""

    def __init__(self, http: httpx.AsyncClient, postback_key: str, campaign_id: int, sub_ids: set[str]) -> None:
        self.http, self.postback_key, self.campaign_id, self.sub_ids = http, postback_key, campaign_id, sub_ids
        self.behaviour = Behaviour()
        self.lanes = asyncio.Semaphore(8)

    async def _get(self, path: str, agent: str, expected: tuple[int, ...] = (200,),
                   params: dict[str, str] | None = None) -> httpx.Response | None:
        answer = await self.http.get(path, headers={"User-Agent": agent}, params=params, follow_redirects=False)
        if answer.status_code not in expected:
            self.behaviour.refused.append(f"GET {path[:40]}… answered {answer.status_code}: {answer.text[:100]}")
            return None
        return answer

    async def act(self, plan: Plan, rng: random.Random) -> None:
        count, message = self.behaviour.count, plan.message
        async with self.lanes:
            if plan.machine_open and await self._get(message.pixel, APPLE_PROXY):
                count("machine opens")
            for n in range(plan.opens):
                proxied = plan.proxied and n == 0
                if await self._get(message.pixel, GMAIL_PROXY if proxied else rng.choice(BROWSERS)):
                    count("machine opens" if proxied else "opens")
            if plan.clicks and message.links:
                await self._click(plan, rng.choice(BROWSERS))
            for link in message.links if plan.scanned else ():
                if await self._get(link, SCANNER, REDIRECTS):
                    count("bot clicks")
            if plan.unsubscribes and message.unsubscribe:
                answer = await self.http.post(message.unsubscribe, data={"List-Unsubscribe": "One-Click"})
                if answer.status_code == 200:
                    count("unsubscribes")
                else:
                    self.behaviour.refused.append(f"one-click unsubscribe answered {answer.status_code}")

    async def _click(self, plan: Plan, agent: str) -> None:
        """The offer (the message's first link), and the network's postback when the recipient converts."""
        answer = await self._get(plan.message.links[0], agent, REDIRECTS)
        if answer is None:
            return
        self.behaviour.count("clicks")
        if plan.payout is None:
            return
        # The network hands back the sub-ids the click redirect put on the offer URL.
        params = {name: value for name, value in parse_qsl(urlsplit(answer.headers["location"]).query)
                  if name in self.sub_ids}
        params |= {"key": self.postback_key, "transaction_id": f"demo-{self.campaign_id}-{plan.delivery_id}",
                   "offer_id": "1", "payout": str(plan.payout)}
        posted = await self.http.get("/postback", params=params)
        if posted.status_code >= 500:
            # Networks retry a postback their receiver failed; the transaction id makes it count once.
            self.behaviour.count("postbacks retried")
            await asyncio.sleep(1)
            posted = await self.http.get("/postback", params=params)
        if posted.status_code == 200 and posted.json().get("status") == "recorded":
            self.behaviour.count("conversions")
            self.behaviour.revenue[plan.server] += plan.payout
        else:
            self.behaviour.refused.append(f"postback answered {posted.status_code}: {posted.text[:100]}")


async def _deliveries(workspace_id: int, campaign_id: int) -> dict[str, tuple[int, int]]:
    """Each recipient's (delivery id, server id)."""
    rows = await Delivery.select(Delivery.id, Delivery.email, Delivery.server_id).where(
        Delivery.workspace_id == workspace_id, Delivery.campaign_id == campaign_id, Delivery.status == "sent")
    return {row["email"]: (row["id"], row["server_id"]) for row in rows}


async def behave(http: httpx.AsyncClient, workspace_id: int, campaign_id: int, inbox: Inbox,
                 placements: Mapping[int, Placement], postback_key: str, seed: int | None = None) -> Behaviour:
    """The recipients of the messages read (sent through one of `placements`' servers) act over HTTP; a few
    addresses bounce."""
    settings = await workspace_settings(workspace_id)
    sent = await _deliveries(workspace_id, campaign_id)
    rng = random.Random(campaign_id if seed is None else seed)
    plans = [plan_for(rng, message, sent[email][0], placements[sent[email][1]])
             for email, message in sorted(inbox.messages.items())
             if email in sent and sent[email][1] in placements]
    recipients = Recipients(http, postback_key, campaign_id, {settings[name] for name in PARAMS if settings[name]})
    await asyncio.gather(*(recipients.act(plan, random.Random(rng.random())) for plan in plans))
    bounced = [plan for plan in plans if plan.bounces]
    await actions.record_answers(workspace_id, [(plan.delivery_id, classify_reply(
        550, f"5.1.1 <{plan.message.email}>: Recipient address rejected: User unknown")) for plan in bounced])
    behaviour = recipients.behaviour
    behaviour.read = len(plans)
    behaviour.totals["hard bounces"] += len(bounced)
    return behaviour
