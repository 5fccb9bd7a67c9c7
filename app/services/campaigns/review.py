"""The launch review: what stands between a draft and its send, checked the moment before launch.

Each check is `ok`, a `warning` (worth a look, does not stop the launch) or a
`problem` (launch refuses until it is fixed). Content is compiled and rendered
once per variant with sample data on a render thread under the template budget,
as the editor does, never on the event loop. The quota is read from the token
buckets routing uses (daily quotas and today's warm-up caps included) across the
servers the campaign may use; the estimated finish follows from it and the
campaign's speed limit. The last review is kept on the campaign (`review`).

Launch reviews again without counting the audience (a million-recipient count
takes seconds and would delay the first message): it only needs to know that
someone can be mailed, and the figures that need the count are warnings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from app.db.campaigns import Campaign
from app.db.content import SendingDomain
from app.db.delivery import DeliveryServer
from app.redis_client import get_redis
from app.services.accounts import now
from app.services.campaigns import send_times
from app.services.campaigns.audience import Audience, exclusion_sql, one_list_definitions, recipient_count, union_sql
from app.services.campaigns.content import with_preheader
from app.services.campaigns.drafts import get_campaign
from app.services.campaigns.variants import FEWEST_VARIANTS, SentContent, contents
from app.services.rendering import (
    CampaignContent,
    CampaignSettings,
    CompiledMessage,
    PatternUrls,
    RenderError,
    TemplateError,
    check_content,
    render_off_loop,
)
from app.services.routing import SENDABLE, daily_cap, quota_buckets
from app.services.sqlparams import Params, fetch
from app.services.templates import RENDER_WAIT_SECONDS
from app.services.tenancy import owned_by
from app.services.throttling import tokens_left
from app.services.warmup_plans import plans_by_id

OK, WARNING, PROBLEM = "ok", "warning", "problem"
# Gmail clips a message whose HTML passes 102 KB: the rest (the unsubscribe link often among it) is hidden.
CLIPPED_BYTES = 102 * 1024
# Below this many recipients per variant a test rarely tells the variants apart.
SMALL_SAMPLE = 100
# The renderer's links during the review: the unsubscribe link is found in the rendered HTML by its marker.
UNSUBSCRIBE_MARKER = "https://review.ignite.invalid/unsubscribe"
REVIEW_URLS = PatternUrls(unsubscribe=UNSUBSCRIBE_MARKER, mailto="mailto:unsubscribe@review.ignite.invalid",
                          web_version="https://review.ignite.invalid/web-version")
# The form field each check's problem is shown next to when launch refuses.
FIELDS = {"template": "template_id", "subject": "subject", "unsubscribe": "template_id", "sender": "from_email",
          "dns": "from_email", "audience": "list_ids", "ab": "ab_dimension", "quota": "__all__",
          "timing": "scheduled_at"}
# Per-recipient sends (local time, best hour) spread over a day of time zones.
SPREAD_OVER = timedelta(days=1)
# Content checks of the renderer shown as warnings: they deserve a look but may be intended.
WARNED = {"Links": "links", "Image alt text": "images", "Image-to-text ratio": "images", "Physical address": "address"}


@dataclass(frozen=True)
class Check:
    key: str
    level: str
    message: str


@dataclass(frozen=True)
class Review:
    checks: list[Check]
    recipients: int
    quota_today: int | None
    estimated_finish: datetime | None
    # What each variant sends, as reviewed: launch freezes exactly this.
    sent: list[SentContent] = field(default_factory=list, repr=False)

    @property
    def can_launch(self) -> bool:
        return all(check.level != PROBLEM for check in self.checks)

    def problems_by_field(self) -> dict[str, str]:
        """Each problem's message by the form field it concerns (messages of one field joined)."""
        found: dict[str, list[str]] = {}
        for check in self.checks:
            if check.level == PROBLEM:
                found.setdefault(FIELDS.get(check.key, "__all__"), []).append(check.message)
        return {name: " ".join(messages) for name, messages in found.items()}

    def stored(self) -> dict[str, Any]:
        return {"checks": [{"key": c.key, "level": c.level, "message": c.message} for c in self.checks],
                "recipients": self.recipients, "quota_today": self.quota_today,
                "estimated_finish": self.estimated_finish.isoformat() if self.estimated_finish else None,
                "reviewed_at": now().isoformat()}


def _settings(campaign: Mapping[str, Any], content: SentContent) -> CampaignSettings:
    return CampaignSettings(from_email=campaign["from_email"] or "review@review.ignite.invalid",
                            from_name=content.from_name, urls=REVIEW_URLS, tags={"preheader": content.preheader})


def _content_checks(campaign: Mapping[str, Any], content: SentContent) -> list[Check]:
    """One variant's content: chosen, renders, has a subject and a visible unsubscribe link, not clipped."""
    prefix = f"Variant {content.variant}: " if content.variant else ""
    template = content.template
    checks = [] if content.subject else [Check("subject", PROBLEM, f"{prefix}Write a subject line.")]
    if template is None:
        return [*checks, Check("template", PROBLEM, f"{prefix}Choose the template to send.")]
    try:
        compiled = CompiledMessage(CampaignContent(campaign["id"], content.subject, with_preheader(template["html"]),
                                                   template["text_part"]), _settings(campaign, content))
        parts = compiled.render_parts({}, "review")
    except (TemplateError, RenderError) as exc:
        return [*checks, Check("template", PROBLEM, f"{prefix}The content cannot be rendered: {exc}")]
    checks.append(Check("template", OK, f"{prefix}Template “{template['name']}” (version {template['version']}) "
                                        "renders."))
    found = {check.name: check for check in check_content(subject=content.subject, html=template["html"],
                                                         text=template["text_part"])}
    if UNSUBSCRIBE_MARKER in parts.html:
        checks.append(Check("unsubscribe", OK, f"{prefix}The message links to its unsubscribe page."))
    elif found["Unsubscribe link"].passed and "{{" not in found["Unsubscribe link"].detail:
        checks.append(Check("unsubscribe", OK, f"{prefix}{found['Unsubscribe link'].detail}"))
    else:
        checks.append(Check("unsubscribe", PROBLEM, f"{prefix}Add a visible unsubscribe link, "
                                                    "<a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>: the "
                                                    "List-Unsubscribe header alone is not enough."))
    size = len(parts.html.encode())
    if size > CLIPPED_BYTES:
        checks.append(Check("size", WARNING, f"{prefix}The HTML is {size / 1024:.0f} KB: Gmail clips messages "
                                             "over 102 KB and hides the rest behind a link."))
    checks += [Check(WARNED[name], WARNING, f"{prefix}{name}: {check.detail}") for name, check in found.items()
               if name in WARNED and not check.passed]
    return checks


async def _content_review(campaign: Mapping[str, Any], sent: list[SentContent]) -> list[Check]:
    checks = []
    for content in sent:
        try:
            checks += await render_off_loop(lambda content=content: _content_checks(campaign, content),
                                            RENDER_WAIT_SECONDS)
        except RenderError as exc:
            checks.append(Check("template", PROBLEM, f"The content cannot be rendered: {exc}"))
    return checks


def _ab_checks(campaign: Mapping[str, Any], sent: list[SentContent], recipients: int | None) -> list[Check]:
    """The test has its variants and, when the audience was counted, enough people in each."""
    if not campaign["ab_dimension"]:
        return []
    if len(sent) < FEWEST_VARIANTS:
        return [Check("ab", PROBLEM, f"An A/B test needs at least {FEWEST_VARIANTS} variants: add them on the "
                                     "Content step, or choose no test.")]
    if recipients is None:
        return [Check("ab", OK, f"{len(sent)} variants.")]
    per_variant = recipients * campaign["ab_test_percent"] // 100 // len(sent)
    if recipients < fewest_for_test(campaign, len(sent)):
        return [Check("ab", PROBLEM, f"The test share of {recipients:,} recipients leaves a variant with nobody: "
                                     "test on a larger share or send without a test.")]
    if per_variant < SMALL_SAMPLE:
        return [Check("ab", WARNING, f"About {per_variant} recipients per variant: too few to tell the variants "
                                     "apart. Test on a larger share or send without a test.")]
    return [Check("ab", OK, f"{len(sent)} variants of about {per_variant:,} recipients each; the winner by "
                            f"{campaign['ab_metric']} goes to the rest after {campaign['ab_wait_minutes']} minutes.")]


async def _sender_checks(workspace_id: int, campaign: Mapping[str, Any]) -> list[Check]:
    """The From address is on a sending domain of the workspace, whose SPF, DKIM and DMARC records check out."""
    address = campaign["from_email"]
    if not address:
        return [Check("sender", PROBLEM, "Enter the address the campaign comes from.")]
    domain = await SendingDomain.select().where(owned_by(SendingDomain, workspace_id),
                                                SendingDomain.domain == address.rpartition("@")[2]).output(
        load_json=True).first()
    if domain is None:
        return [Check("sender", PROBLEM, f"{address} is not on one of your sending domains: add its domain under "
                                         "Delivery → Sending domains, or send from another address.")]
    checks = [Check("sender", OK, f"Sent from {address}.")]
    status = domain["dns_status"] or {}
    if domain["checked_at"] is None:
        return [*checks, Check("dns", WARNING, f"The DNS records of {domain['domain']} have not been checked: "
                                               "check them under Delivery → Sending domains.")]
    failing = [record for record in ("SPF", "DKIM") if not status.get(record)]
    if failing:
        return [*checks, Check("dns", PROBLEM, f"{' and '.join(failing)} of {domain['domain']} did not check out: "
                                               "mailbox providers will refuse or junk the campaign. Publish the "
                                               "records under Delivery → Sending domains and check again.")]
    if not status.get("DMARC"):
        return [*checks, Check("dns", WARNING, f"{domain['domain']} has no DMARC record: Gmail and Yahoo ask bulk "
                                               "senders for one.")]
    return [*checks, Check("dns", OK, f"SPF, DKIM and DMARC of {domain['domain']} check out.")]


@dataclass(frozen=True)
class PoolQuota:
    """What the campaign's servers can still send: today, per day when full, per hour (None: no limit)."""

    servers: int
    today: int | None
    per_day: int | None
    per_hour: int | None


def _servers(count: int) -> str:
    return "1 server" if count == 1 else f"{count:,} servers"


def _total(values: list[int | None]) -> int | None:
    return None if any(value is None for value in values) else sum(v for v in values if v is not None)


def _smallest(values: list[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return min(known) if known else None


async def _pool_quota(redis: Redis, workspace_id: int, servers: list[dict]) -> PoolQuota:
    plans = await plans_by_id(workspace_id)
    today, per_day, per_hour = [], [], []
    for server in servers:
        buckets, _ = quota_buckets(server, plans)
        left = {key.rsplit(":", 1)[1]: value for key, value in (await tokens_left(redis, buckets)).items()}
        cap = daily_cap(server, plans)
        hourly, per_second = server["hourly_quota"] or None, server["per_second"] or None
        # The rest of the next 24 hours: what the day and month buckets hold, what the hour bucket holds and
        # refills over the other 23 hours, and what the per-second rate allows.
        today.append(_smallest([left.get("day"), left.get("month"),
                                left["hour"] + 23 * hourly if hourly else None,
                                per_second * 86_400 if per_second else None]))
        per_day.append(_smallest([cap.limit if cap else None, 24 * hourly if hourly else None,
                                  per_second * 86_400 if per_second else None]))
        per_hour.append(_smallest([hourly, per_second * 3600 if per_second else None]))
    return PoolQuota(len(servers), _total(today), _total(per_day), _total(per_hour))


async def _pool(workspace_id: int, campaign: Mapping[str, Any]) -> tuple[list[dict], list[dict]]:
    """Every server of the workspace the campaign may use (its pool override, else all), and those sending."""
    query = DeliveryServer.select().where(owned_by(DeliveryServer, workspace_id))
    if campaign["pool_server_ids"]:
        query = query.where(DeliveryServer.id.is_in(list(campaign["pool_server_ids"])))
    servers = await query.order_by(DeliveryServer.id).output(load_json=True)
    return servers, [server for server in servers if server["status"] in SENDABLE]


def estimated_finish(campaign: Mapping[str, Any], start: datetime, recipients: int,
                     quota: PoolQuota | None) -> datetime | None:
    """When the last message should go, from the pool's quota and the speed limit; None when nothing limits it."""
    if not recipients:
        return None
    rates = [rate for rate in (campaign["speed_per_hour"], quota.per_hour if quota else None) if rate]
    hours = recipients / min(rates) if rates else None
    if quota and quota.today is not None and recipients > quota.today:
        if not quota.per_day:
            return None
        days = math.ceil((recipients - quota.today) / quota.per_day)
        hours = max(hours or 0.0, 24.0 * days)
    if hours is None:
        return None
    finish = start + timedelta(hours=hours)
    if campaign["ab_dimension"] and campaign["ab_test_percent"] < 100:
        # The rest waits for the winner.
        finish += timedelta(minutes=campaign["ab_wait_minutes"])
    if campaign["send_mode"] in ("local", "best_hour"):
        finish = max(finish, start + SPREAD_OVER)
    return finish


async def _quota_check(redis: Redis, workspace_id: int, campaign: Mapping[str, Any],
                       recipients: int | None) -> tuple[Check, PoolQuota | None]:
    """A server of the pool can send; today's quota, and whether it holds everyone (when counted)."""
    servers, sending = await _pool(workspace_id, campaign)
    if not servers and not campaign["pool_server_ids"]:
        return Check("quota", OK, "No delivery server yet: the campaign goes to the development inbox."), None
    if not sending:
        return Check("quota", PROBLEM, "No delivery server of the campaign's pool can send: "
                                       + "; ".join(f"{s['name']} is {s['status']}" for s in servers)
                                       + ". Resume one under Delivery → Servers."), None
    quota = await _pool_quota(redis, workspace_id, sending)
    if quota.today is None:
        return Check("quota", OK, f"No daily limit on the {_servers(quota.servers)} of the pool."), quota
    if recipients is not None and quota.today < recipients:
        return Check("quota", WARNING, f"{quota.today:,} messages fit today's quota across the pool (warm-up caps "
                                       f"included) for {recipients:,} recipients: the rest go as it refills."), quota
    return Check("quota", OK, f"{quota.today:,} messages left in today's quota across "
                              f"{_servers(quota.servers)}."), quota


async def mailable_up_to(workspace_id: int, audience: Audience, limit: int) -> int:
    """How many mailable addresses the audience holds, counting no further than `limit` (stops there)."""
    definitions = await one_list_definitions(workspace_id, audience)
    if not definitions:
        return 0
    params = Params()
    union = await union_sql(workspace_id, definitions, params)
    excluded = await exclusion_sql(workspace_id, audience, params)
    rows = await fetch(f"SELECT count(*) AS n FROM (SELECT 1 FROM ({union}) a JOIN subscribers s ON s.id = a.id "
                       f"WHERE true{excluded} LIMIT {int(limit)}) found", params)
    return int(rows[0]["n"])


def fewest_for_test(campaign: Mapping[str, Any], variants: int) -> int:
    """The audience that gives every variant of the test share at least one recipient."""
    return math.ceil(variants * 100 / campaign["ab_test_percent"])


def _audience_check(audience: Audience, recipients: int | None, anyone: bool) -> Check:
    if audience.empty:
        return Check("audience", PROBLEM, "Choose at least one list or segment to send to.")
    if not anyone:
        return Check("audience", PROBLEM, "Nobody in the chosen lists and segments can be mailed now.")
    return Check("audience", OK, f"{recipients:,} recipients." if recipients is not None else "Recipients found.")


def _timing_checks(campaign: Mapping[str, Any]) -> list[Check]:
    problem = send_times.timing_problem(campaign)
    return [Check("timing", PROBLEM, problem)] if problem else []


async def review(workspace_id: int, campaign_id: int, redis: Redis | None = None) -> Review:
    """Every check of the campaign as it stands now; kept on the campaign as its last review."""
    redis = redis or get_redis()
    campaign = await get_campaign(workspace_id, campaign_id)
    sent = await contents(workspace_id, campaign)
    audience = Audience.of(campaign)
    recipients = 0 if audience.empty else await recipient_count(workspace_id, audience)
    checks = [*await _content_review(campaign, sent), *await _sender_checks(workspace_id, campaign),
              _audience_check(audience, recipients, recipients > 0), *_ab_checks(campaign, sent, recipients),
              *_timing_checks(campaign)]
    quota_check, quota = await _quota_check(redis, workspace_id, campaign, recipients)
    checks.append(quota_check)
    start = max(campaign["scheduled_at"] or now(), now())
    result = Review(checks, recipients, quota.today if quota else None,
                    estimated_finish(campaign, start, recipients, quota), sent)
    await Campaign.update({Campaign.review: result.stored()}).where(owned_by(Campaign, workspace_id),
                                                                    Campaign.id == campaign["id"])
    return result


async def launch_review(redis: Redis, workspace_id: int, campaign: dict) -> Review:
    """The checks that can stop a launch, without counting the audience; not kept (the last full review stays)."""
    sent = await contents(workspace_id, campaign)
    audience = Audience.of(campaign)
    tested = bool(campaign["ab_dimension"]) and len(sent) >= FEWEST_VARIANTS
    needed = fewest_for_test(campaign, len(sent)) if tested else 1
    found = 0 if audience.empty else await mailable_up_to(workspace_id, audience, needed)
    anyone = found > 0
    checks = [*await _content_review(campaign, sent), *await _sender_checks(workspace_id, campaign),
              _audience_check(audience, None, anyone), *_ab_checks(campaign, sent, found if found < needed else None),
              *_timing_checks(campaign)]
    quota_check, quota = await _quota_check(redis, workspace_id, campaign, None)
    checks.append(quota_check)
    return Review(checks, 0, quota.today if quota else None, None, sent)
