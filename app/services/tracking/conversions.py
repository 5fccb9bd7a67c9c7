"""Conversions reported by affiliate networks' postbacks (Everflow style), attributed to the delivery.

`GET|POST /postback?key=...&transaction_id=...&sub3=...&payout=...` arrives from the network's servers.
The key is the workspace's postback secret: 256 random bits shown once, of which only the SHA-256 is
stored, so the digest finds the workspace and a leaked database holds no usable key. The delivery's
sub-id (named in the workspace's settings, app/services/tracking/offers.py) names the delivery, which
names the campaign, subscriber and server; a campaign or subscriber sub-id that is sent must agree with
it. One statement (app/services/sql/conversions.sql) stores the conversion, its `conversion` event and
the campaign's conversions and revenue, or nothing when the (workspace, transaction id, event name) is
already stored: a replay, concurrent ones included, is counted once and answered as a duplicate.

Every refusal is a `PostbackRefused` with a stable code the network's postback log shows. Revenue is
counted in the workspace's one currency: a postback in another is refused rather than added up wrongly.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from redis.asyncio import Redis

from app.db.campaigns import Campaign, Delivery
from app.db.tracking import TrackingSettings
from app.piccolo_conf import DB
from app.services import statements
from app.services.accounts import now
from app.services.analytics.live import announce_revenue
from app.services.automations import triggers as flow_triggers
from app.services.public_limits import Limit, Rate, admit
from app.services.tenancy import checked_workspace_id, owned_by
from app.services.throttling import MINUTE
from app.services.tracking.aggregator import wait_for_aggregation
from app.services.tracking.figures import raise_figures
from app.services.webhooks import publish

KEY = "key"
# Names the postback reads itself: no sub-id parameter may take one of them.
POSTBACK_FIELDS = frozenset({KEY, "transaction_id", "event", "event_name", "offer_id", "payout", "revenue",
                             "currency"})
# Networks post from a few addresses, in bursts when a campaign converts; a guesser gets 20 tries a second
# at a 256-bit key.
POSTBACK = Limit("postback", per_ip=Rate(1200, MINUTE))
NETWORK_SUB_IDS = ("sub1", "sub2", "sub3", "sub4", "sub5")
PAGE_SIZE = 50
MAX_REVENUE = Decimal("9999999999")
_TEXT = re.compile(r"[^\x00-\x1f\x7f]*\Z")
_DIGITS = re.compile(r"\d{1,18}\Z")


class PostbackRefused(Exception):
    """A postback that records nothing: `code` is stable for the network's log, `message` says why."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Recorded:
    conversion_id: int
    duplicate: bool


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def rotate_postback_secret(workspace_id: int) -> str:
    """A new postback key for the workspace, returned this once; the previous key stops working at once."""
    secret = secrets.token_urlsafe(32)
    values = {"postback_secret_hash": secret_digest(secret), "postback_secret_hint": secret[-4:],
              "postback_secret_at": now(), "updated_at": now()}
    await TrackingSettings.insert(TrackingSettings(workspace_id=checked_workspace_id(workspace_id), **values)
                                  ).on_conflict(target=TrackingSettings.workspace_id, action="DO UPDATE",
                                                values=[getattr(TrackingSettings, name) for name in values])
    return secret


def postback_url(base_url: str, settings: Mapping[str, Any], secret: str) -> str:
    """The URL to paste into the network, with Everflow's macros where the network fills in values."""
    subs = [(settings[name], f"{{{settings[name]}}}")
            for name in ("delivery_param", "campaign_param", "subscriber_param") if settings[name]]
    pairs = [(KEY, quote(secret, safe="")), ("transaction_id", "{transaction_id}"), *subs,
             ("payout", "{payout_amount}"), ("currency", "{currency}"), ("offer_id", "{offer_id}"),
             ("event", "{event_name}")]
    return f"{base_url.rstrip('/')}/postback?" + "&".join(f"{name}={value}" for name, value in pairs)


async def _workspace_settings_for(secret: str) -> dict[str, Any]:
    if not secret:
        raise PostbackRefused("invalid_key", "The key parameter is missing.", 403)
    # Only the digest of a key is stored: the lookup by it is the check.
    row = await TrackingSettings.select().where(
        TrackingSettings.postback_secret_hash == secret_digest(secret)).first()
    if row is None:
        raise PostbackRefused("invalid_key", "This key is not a workspace's postback key (rotated?).", 403)
    return row


def _text(params: Mapping[str, str], name: str, limit: int, *aliases: str) -> str:
    value = next((params[key] for key in (name, *aliases) if params.get(key)), "").strip()
    if len(value) > limit or not _TEXT.match(value):
        raise PostbackRefused(f"invalid_{name}", f"{name} must be at most {limit} printable characters.")
    return value


def _revenue(params: Mapping[str, str]) -> Decimal:
    typed = (params.get("payout") or params.get("revenue") or "0").strip()
    try:
        amount = Decimal(typed)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0 or amount > MAX_REVENUE or amount != round(amount, 4):
        raise PostbackRefused("invalid_payout", "payout must be a number from 0 with at most 4 decimals.")
    return amount


def _currency(params: Mapping[str, str], settings: Mapping[str, Any]) -> str:
    currency = (params.get("currency") or settings["currency"]).strip().upper()
    if currency != settings["currency"]:
        raise PostbackRefused("currency_mismatch", f"Revenue is counted in {settings['currency']} in this "
                                                   f"workspace; this postback is in {currency[:8]}.")
    return currency


def _sub_id(params: Mapping[str, str], name: str) -> str:
    return (params.get(name) or "").strip() if name else ""


async def _delivery(params: Mapping[str, str], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The delivery the sub-ids name, checked against the workspace and the other sub-ids sent."""
    named = _sub_id(params, settings["delivery_param"])
    if not named:
        raise PostbackRefused("missing_delivery", f"The delivery's sub-id ({settings['delivery_param']}) is "
                                                  "missing: this conversion did not come from a tracked link.")
    delivery = await Delivery.select(Delivery.id, Delivery.campaign_id, Delivery.subscriber_id,
                                     Delivery.server_id).where(
        owned_by(Delivery, settings["workspace_id"]), Delivery.id == int(named)).first() \
        if _DIGITS.match(named) else None
    if delivery is None:
        raise PostbackRefused("unknown_delivery", f"No delivery {named[:40]} in this workspace.", 404)
    for param, column in (("campaign_param", "campaign_id"), ("subscriber_param", "subscriber_id")):
        sent = _sub_id(params, settings[param])
        if sent and sent != str(delivery[column]):
            raise PostbackRefused("sub_id_mismatch", f"{settings[param]}={sent[:40]} does not match the "
                                                     f"delivery's {column.removesuffix('_id')}.")
    return delivery


def _sub_ids(params: Mapping[str, str], settings: Mapping[str, Any]) -> dict[str, str]:
    """The sub-ids as received, kept with the conversion for the network's reports."""
    names = dict.fromkeys((*NETWORK_SUB_IDS, *(settings[param] for param in
                                               ("campaign_param", "subscriber_param", "delivery_param"))))
    return {name: params[name][:200] for name in names if name and params.get(name)}


async def record_postback(redis: Redis, params: Mapping[str, str], ip: str) -> Recorded:
    """Stores the conversion a postback reports, once; PostbackRefused (nothing stored) when it is not one."""
    await admit(redis, POSTBACK, ip=ip)
    return await record_conversion(redis, await _workspace_settings_for(params.get(KEY, "")), params, ip)


async def record_conversion(redis: Redis, settings: Mapping[str, Any], params: Mapping[str, str],
                            ip: str) -> Recorded:
    """Stores the conversion `params` report for the workspace `settings` belong to, as a postback would: the
    same checks, the same once-only statement and what follows it (Everflow's "record in Ignite" comes here)."""
    transaction_id = _text(params, "transaction_id", 128)
    if not transaction_id:
        raise PostbackRefused("missing_transaction_id", "transaction_id is required: it makes a replay count once.")
    event_name = _text(params, "event", 64, "event_name")
    offer_id = _text(params, "offer_id", 64)
    revenue = _revenue(params)
    currency = _currency(params, settings)
    delivery = await _delivery(params, settings)
    workspace_id = settings["workspace_id"]
    async with DB.transaction():
        await wait_for_aggregation()
        [row] = await statements.run(
            "conversions.record", workspace_id, transaction_id, event_name, delivery["id"], delivery["campaign_id"],
            delivery["subscriber_id"], delivery["server_id"], offer_id, revenue, currency,
            json.dumps(_sub_ids(params, settings)), ip[:64])
    if row["conversion_id"] is None:
        return Recorded(await _stored_id(workspace_id, transaction_id, event_name), duplicate=True)
    pipeline = redis.pipeline(transaction=False)
    raise_figures(pipeline, workspace_id, delivery["campaign_id"],
                  {"conversions": row["conversions"], "revenue": row["revenue"]})
    await pipeline.execute()
    await announce_revenue(redis, workspace_id)
    await publish(workspace_id, "conversion.created", {
        "id": row["conversion_id"], "transaction_id": transaction_id, "event": event_name, "offer_id": offer_id,
        "revenue": revenue, "currency": currency, "delivery_id": delivery["id"],
        "campaign_id": delivery["campaign_id"], "subscriber_id": delivery["subscriber_id"]})
    await flow_triggers.converted(workspace_id, delivery["subscriber_id"], offer_id)
    return Recorded(row["conversion_id"], duplicate=False)


async def _stored_id(workspace_id: int, transaction_id: str, event_name: str) -> int:
    rows = await statements.run("conversions.stored", workspace_id, transaction_id, event_name)
    return rows[0]["id"]


async def campaign_conversions(workspace_id: int, campaign_id: int, before: int | None = None,
                               limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """The campaign's conversions, newest first, `limit` at a time; the next page starts `before` the last
    id shown. Each names its subscriber's address and its server. LookupError for another's campaign."""
    if not await Campaign.exists().where(owned_by(Campaign, workspace_id), Campaign.id == campaign_id):
        raise LookupError(f"campaign {campaign_id}")
    rows = await statements.run("conversions.of-campaign", workspace_id, campaign_id, before, limit)
    return [{**row, "sub_ids": json.loads(row["sub_ids"])} for row in rows]
