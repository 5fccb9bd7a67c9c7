"""Offer links: affiliate links whose URL carries the recipient's sub-ids, so conversions come back attributed.

A link is an offer link when it is marked `data-offer` in the template, or when its host is one of the
workspace's offer domains (or below one). At render time such a link gets the workspace's sub-id
parameters appended, naming the campaign, the subscriber and the delivery (Everflow's `sub1..sub3` by
default), and goes through the click redirect as a per-recipient URL (app/services/tracking/urls.py).
The network hands the sub-ids back in its postback (app/services/tracking/conversions.py), under the
same parameter names. A value the URL already has under one of those names is replaced: attribution
depends on it. A blank name sends nothing for that sub-id (some marketers keep subscriber ids to
themselves); the delivery's cannot be blank, as the postback is attributed by it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from app.db.tracking import TrackingSettings
from app.services.accounts import now
from app.services.forms import FormError
from app.services.tenancy import checked_workspace_id, owned_by
from app.services.tracking.conversions import POSTBACK_FIELDS

PARAMS = ("campaign_param", "subscriber_param", "delivery_param")
DEFAULTS: dict[str, Any] = {"campaign_param": "sub1", "subscriber_param": "sub2", "delivery_param": "sub3",
                            "offer_domains": [], "currency": "USD", "postback_secret_hint": "",
                            "postback_secret_at": None}
MAX_DOMAINS = 100
_PARAM = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,39}\Z")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
_CURRENCY = re.compile(r"[A-Z]{3}\Z")


@dataclass(frozen=True)
class OfferLinks:
    """What the renderer needs of a workspace's settings: sub-id parameter names and offer domains."""

    campaign_param: str = "sub1"
    subscriber_param: str = "sub2"
    delivery_param: str = "sub3"
    domains: tuple[str, ...] = ()

    def is_offer_url(self, url: str) -> bool:
        return bool(self.domains) and host_in(url, self.domains)

    def sub_ids(self, campaign_id: int, subscriber_id: str, delivery_id: str) -> dict[str, str]:
        named = ((self.campaign_param, str(campaign_id)), (self.subscriber_param, subscriber_id),
                 (self.delivery_param, delivery_id))
        return {name: value for name, value in named if name and value}


@lru_cache(maxsize=4096)
def host_in(url: str, domains: tuple[str, ...]) -> bool:
    """Whether the URL's host is one of `domains` or below one (a few offer hosts recur in every message)."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return False
    return any(host == domain or host.endswith(f".{domain}") for domain in domains)


def with_sub_ids(url: str, values: Mapping[str, str]) -> str:
    """The URL with each parameter of `values` set: replaced where present, else appended.

    The rest of the query is kept exactly as written (no re-encoding), since offer URLs are often signed
    or parsed strictly by the network."""
    if not values:
        return url
    parts = urlsplit(url)
    kept = [piece for piece in parts.query.split("&")
            if piece and unquote_plus(piece.partition("=")[0]) not in values]
    added = [f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in values.items()]
    return urlunsplit(parts._replace(query="&".join(kept + added)))


async def workspace_settings(workspace_id: int) -> dict[str, Any]:
    """The workspace's tracking settings, the defaults where it never saved any."""
    row = await TrackingSettings.select().where(owned_by(TrackingSettings, workspace_id)).first()
    return {**DEFAULTS, **(row or {})}


async def offer_links(workspace_id: int) -> OfferLinks:
    settings = await workspace_settings(workspace_id)
    return OfferLinks(settings["campaign_param"], settings["subscriber_param"], settings["delivery_param"],
                      tuple(settings["offer_domains"]))


def _param_errors(values: Mapping[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    seen: dict[str, str] = {}
    for field in PARAMS:
        name = values[field]
        if not name:
            if field == "delivery_param":
                errors[field] = "Conversions are attributed by the delivery: give its parameter a name."
            continue
        if not _PARAM.match(name):
            errors[field] = ("Use up to 40 letters, digits, dots, dashes or underscores, starting with a letter "
                             "(such as sub1).")
        elif name.lower() in POSTBACK_FIELDS or name.lower().startswith("utm_"):
            errors[field] = f"“{name}” is taken by the postback or by UTM tagging: pick another name."
        elif name.lower() in seen:
            errors[field] = f"“{name}” already names the {seen[name.lower()]}: each sub-id needs its own."
        seen.setdefault(name.lower(), field.removesuffix("_param"))
    return errors


def _domain(text: str) -> str | None:
    """A host name from what was typed (a bare domain, or a URL pasted whole), lower-cased, or None."""
    host = text.strip().lower().removeprefix("*.")
    if "://" in host:
        host = urlsplit(host).hostname or ""
    host = host.rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return None
    return host


def parsed_domains(text: str) -> list[str]:
    """The offer domains typed one per line (or separated by commas); FormError names a bad one."""
    domains: list[str] = []
    for typed in (part.strip() for part in re.split(r"[\r\n,]+", text)):
        if not typed:
            continue
        domain = _domain(typed)
        if domain is None:
            raise FormError(f"“{typed[:80]}” is not a domain name, such as offers.example.com.",
                            field="offer_domains")
        if domain not in domains:
            domains.append(domain)
    if len(domains) > MAX_DOMAINS:
        raise FormError(f"At most {MAX_DOMAINS} offer domains.", field="offer_domains")
    return domains


def _checked(form: Mapping[str, str]) -> dict[str, Any]:
    values = {field: form.get(field, "").strip() for field in PARAMS}
    errors = _param_errors(values)
    try:
        values["offer_domains"] = parsed_domains(form.get("offer_domains", ""))
    except FormError as error:
        errors.update(error.errors)
    currency = form.get("currency", "").strip().upper()
    if not _CURRENCY.match(currency):
        errors["currency"] = "Use a three-letter currency code, such as USD or EUR."
    values["currency"] = currency
    if errors:
        raise FormError(errors)
    return values


async def save_settings(workspace_id: int, form: Mapping[str, str]) -> dict[str, Any]:
    """Stores the sub-id names, offer domains and currency typed; FormError (nothing stored) when one is wrong."""
    values = {**_checked(form), "updated_at": now()}
    await TrackingSettings.insert(TrackingSettings(workspace_id=checked_workspace_id(workspace_id), **values)
                                  ).on_conflict(target=TrackingSettings.workspace_id, action="DO UPDATE",
                                                values=[getattr(TrackingSettings, name) for name in values])
    return await workspace_settings(workspace_id)
