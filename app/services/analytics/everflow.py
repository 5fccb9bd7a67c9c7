"""Everflow as a second source of conversions: each workspace's connection, the reporting API's client, the pull.

The Network API answers `POST {base}/networks/reporting/conversions` with the key in `X-Eflow-Api-Key`, a
body naming the dates (`from`, `to`), Everflow's `timezone_id` and whether base conversions and
post-conversion events are wanted, and pages of `{"conversions": [...], "paging": {"page", "page_size",
"total_count"}}`. Each record carries its conversion id, the click's transaction id, status, payout,
revenue, sale amount, sub1 to sub5, currency and scrub flag; its `conversion_unix_timestamp` is UTC whatever
the timezone.

The address is an admin's to set, so it follows the webhooks' rule: a private, loopback or link-local host is
refused when saved, and each request connects to the address its name resolves to then, once that is checked
(app/services/webhooks/targets.py), unless the workspace allowed private targets in Settings → Webhooks.

A pull reads a window that starts well before the end of the last good one, so a record missed while
pages shifted, or scrubbed, rejected or repriced since, is read again; records are upserted by conversion
id, so nothing is stored twice. Dates are sent with a day to spare on each side, which covers the window
in any reporting timezone. The pull then reconciles the window with the postbacks.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.db.everflow import EverflowConnection
from app.services import statements
from app.services.accounts import now
from app.services.analytics import reconciliation
from app.services.forms import FormError
from app.services.tenancy import checked_workspace_id, owned_by
from app.services.vault import DOTS, VaultError, decrypt, encrypt
from app.services.webhooks.endpoints import LOCAL_NAMES, private_targets_allowed
from app.services.webhooks.targets import TargetRefused, is_public, literal_address, target_of

DEFAULT_BASE_URL = "https://api.eflow.team/v1"
UTC_TIMEZONE_ID = 67
PAGE_SIZE = 2000
# A report longer than this is cut short: the next pull's window reads the rest.
MAX_PAGES = 200
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# Every pull reads again what converted this long before the last one ended: scrubs, rejections and payout
# changes land on records days old.
RECHECK = timedelta(days=2)
FIRST_PULL = timedelta(days=7)
_STRINGS = {"transaction_id": 128, "status": 32, "sub1": 200, "sub2": 200, "sub3": 200,
            "sub4": 200, "sub5": 200}
_MONEY_LIMIT = Decimal("9999999999")


class EverflowError(Exception):
    """Everflow could not be read: the message says why, in words the connection's page shows."""


@dataclass(frozen=True)
class PullResult:
    records: int = 0
    new: int = 0
    error: str = ""


async def connection(workspace_id: int) -> dict[str, Any]:
    """The workspace's connection, defaults where it never saved one; `key_shown` says a key is stored (dots:
    the key itself is never shown back)."""
    row = await EverflowConnection.select().where(owned_by(EverflowConnection, workspace_id)).first()
    stored = row or {"workspace_id": workspace_id, "base_url": DEFAULT_BASE_URL, "api_key": "",
                     "timezone_id": UTC_TIMEZONE_ID, "enabled": False, "pulled_until": None,
                     "last_good_pull_at": None, "last_attempt_at": None, "last_result": "", "last_error": ""}
    return {**stored, "key_shown": DOTS if stored["api_key"] else ""}


def _well_formed(url: str) -> bool:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  (raises for a port out of range)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not (parts.query or parts.fragment) \
        and "@" not in parts.netloc and len(url) <= 255


def _inside(host: str) -> bool:
    """A name or address that is this machine or its private network, as far as can be told before resolving."""
    address = literal_address(host)
    return host.lower() in LOCAL_NAMES or (address is not None and not is_public(address))


def _base_url(text: str, allow_private: bool) -> str:
    url = text.strip().rstrip("/") or DEFAULT_BASE_URL
    if not _well_formed(url):
        raise FormError({"base_url": f"Enter the API's address, such as {DEFAULT_BASE_URL}."})
    if not allow_private and _inside(urlsplit(url).hostname or ""):
        raise FormError({"base_url": "That is a private, loopback or link-local address, and Everflow's API is "
                                     "public: use its address, or allow private targets in Settings → Webhooks."})
    return url


def _timezone_id(text: str) -> int:
    value = text.strip() or str(UTC_TIMEZONE_ID)
    if not value.isdigit() or not 0 < int(value) < 1000:
        raise FormError({"timezone_id": f"Enter Everflow's timezone id, a whole number ({UTC_TIMEZONE_ID} is UTC)."})
    return int(value)


async def save_connection(workspace_id: int, form: Mapping[str, str]) -> dict[str, Any]:
    """Saves the connection; a blank key keeps the stored one. FormError names each field at fault."""
    current = await connection(workspace_id)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"enabled": form.get("enabled") in ("on", "true", "1"), "updated_at": now()}
    allow_private = await private_targets_allowed(workspace_id)
    for field, parse in (("base_url", lambda text: _base_url(text, allow_private)), ("timezone_id", _timezone_id)):
        try:
            values[field] = parse(str(form.get(field, "")))
        except FormError as error:
            errors.update(error.errors)
    key = str(form.get("api_key", "")).strip()
    if len(key) > 200 or any(ord(ch) < 33 for ch in key):
        errors["api_key"] = "Paste the API key exactly as Everflow shows it (no spaces)."
    elif key:
        values["api_key"] = encrypt(key)
    elif values["enabled"] and not current["api_key"]:
        errors["api_key"] = "The scheduled pull needs an API key: paste one from Control Center → Security."
    if errors:
        raise FormError(errors)
    await EverflowConnection.insert(EverflowConnection(workspace_id=checked_workspace_id(workspace_id), **values)
                                    ).on_conflict(target=EverflowConnection.workspace_id, action="DO UPDATE",
                                                  values=[getattr(EverflowConnection, name) for name in values])
    return await connection(workspace_id)


async def enabled_workspaces() -> list[int]:
    rows = await EverflowConnection.select(EverflowConnection.workspace_id).where(
        EverflowConnection.enabled.eq(True))
    return [row["workspace_id"] for row in rows]


def _api_key(stored: Mapping[str, Any]) -> str:
    if not stored["api_key"]:
        raise EverflowError("No API key is saved: paste one from Everflow's Control Center → Security.")
    try:
        return decrypt(stored["api_key"])
    except VaultError as error:
        raise EverflowError(str(error)) from error


def _report_body(since: datetime, until: datetime, timezone_id: int, page: int, page_size: int) -> dict[str, Any]:
    # Everflow's guide puts paging of POST reports in the body, its older pages in the query: both are sent.
    day = timedelta(days=1)
    return {"from": (since - day).date().isoformat(), "to": (until + day).date().isoformat(),
            "timezone_id": timezone_id, "show_conversions": True, "show_events": True,
            "query": {"filters": [], "search_terms": []}, "page": page, "page_size": page_size}


async def _report_page(client: httpx.AsyncClient, url: str, key: str, body: dict[str, Any],
                       allow_private: bool) -> dict[str, Any]:
    try:
        target = await target_of(url, allow_private)
    except TargetRefused as refused:
        raise EverflowError(str(refused)) from refused
    try:
        response = await client.post(target.url, json=body,
                                     params={"page": body["page"], "page_size": body["page_size"]},
                                     headers={"X-Eflow-Api-Key": key, "Accept": "application/json",
                                              "Host": target.host_header},
                                     extensions={"sni_hostname": target.server_name} if target.server_name else {})
    except httpx.TimeoutException as error:
        raise EverflowError(f"Everflow did not answer within {int(TIMEOUT.read or 0)} seconds.") from error
    except httpx.HTTPError as error:
        raise EverflowError(f"Could not reach {urlsplit(url).hostname}: {type(error).__name__}.") from error
    if response.status_code in (401, 403):
        raise EverflowError(f"Everflow refused the API key ({response.status_code}): check it is a Network API "
                            "key with reporting access.")
    if response.status_code != 200:
        raise EverflowError(f"Everflow answered {response.status_code} instead of the conversion report.")
    try:
        answer = response.json()
    except ValueError as error:
        raise EverflowError("Everflow's answer was not JSON.") from error
    if not isinstance(answer, dict) or not isinstance(answer.get("conversions"), list):
        raise EverflowError("Everflow's answer has no list of conversions.")
    return answer


async def conversion_pages(base_url: str, key: str, timezone_id: int, since: datetime, until: datetime,
                           page_size: int | None = None, *, allow_private: bool) -> AsyncIterator[list[dict[str, Any]]]:
    """Each page of the conversion report covering [since, until), as Everflow sends its records; each request
    goes to the address the host resolves to at that moment, refused when private unless `allow_private`."""
    page_size = page_size or PAGE_SIZE
    url = f"{base_url.rstrip('/')}/networks/reporting/conversions"
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        for page in range(1, MAX_PAGES + 1):
            body = _report_body(since, until, timezone_id, page, page_size)
            answer = await _report_page(client, url, key, body, allow_private)
            records = answer["conversions"]
            yield records
            paging = answer.get("paging") if isinstance(answer.get("paging"), dict) else {}
            total = paging.get("total_count") if isinstance(paging.get("total_count"), int) else 0
            if len(records) < page_size or page * page_size >= total:
                return


def _money(value: Any, name: str) -> str:
    try:
        amount = Decimal(str(value if value is not None else 0))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or abs(amount) > _MONEY_LIMIT:
        raise EverflowError(f"Everflow sent a {name} that is not an amount: {str(value)[:20]}.")
    return str(amount.quantize(Decimal("0.0001")))


def stored_record(record: Any) -> dict[str, Any]:
    """An Everflow conversion as its row is stored; EverflowError for one without its id or time."""
    if not isinstance(record, dict) or not str(record.get("conversion_id") or "").strip() \
            or not isinstance(record.get("conversion_unix_timestamp"), int):
        raise EverflowError("Everflow sent a conversion without its id or time.")
    offer = ((record.get("relationship") or {}).get("offer") or {}) if isinstance(record.get("relationship"), dict) \
        else {}
    return {
        "conversion_id": str(record["conversion_id"])[:64],
        **{name: str(record.get(name) or "").strip()[:limit] for name, limit in _STRINGS.items()},
        "status": str(record.get("status") or "").strip().lower()[:32],
        "currency": str(record.get("currency_id") or "").upper()[:3],
        "event_name": str(record.get("event") or "")[:64] if record.get("is_event") else "",
        "is_scrub": bool(record.get("is_scrub")), "offer_id": str(offer.get("network_offer_id") or "")[:64],
        "payout": _money(record.get("payout"), "payout"), "revenue": _money(record.get("revenue"), "revenue"),
        "sale_amount": _money(record.get("sale_amount"), "sale amount"),
        "converted_at": record["conversion_unix_timestamp"],
    }


async def _store(workspace_id: int, records: list[Any]) -> int:
    """Upserts a page's records; how many were new. A conversion named twice in a page is stored once."""
    rows = {row["conversion_id"]: row for row in map(stored_record, records)}
    if not rows:
        return 0
    results = await statements.run("everflow.upsert", workspace_id, json.dumps(list(rows.values())))
    return sum(1 for row in results if row["inserted"])


def pull_window(stored: Mapping[str, Any], moment: datetime) -> tuple[datetime, datetime]:
    start = (stored["pulled_until"] or moment - FIRST_PULL) - RECHECK
    return min(start, moment), moment


async def check_connection(workspace_id: int) -> str:
    """What one page of today's report says, in words; EverflowError when it cannot be read."""
    stored = await connection(workspace_id)
    moment = now()
    async for records in conversion_pages(stored["base_url"], _api_key(stored), stored["timezone_id"], moment,
                                          moment, page_size=1,
                                          allow_private=await private_targets_allowed(workspace_id)):
        return f"Connected: Everflow answered with {'conversions' if records else 'no conversions yet'} for today."
    return "Connected."


async def _note(workspace_id: int, **values: Any) -> None:
    await EverflowConnection.update({getattr(EverflowConnection, name): value for name, value in values.items()}
                                    ).where(owned_by(EverflowConnection, workspace_id))


async def pull(workspace_id: int, moment: datetime | None = None) -> PullResult:
    """Reads the window's conversion records, upserts them and reconciles the window; an error is noted on the
    connection (the last good pull stays as it was) and returned."""
    stored = await connection(workspace_id)
    moment = moment or datetime.now(UTC)
    since, until = pull_window(stored, moment)
    records = new = 0
    try:
        key = _api_key(stored)
        allow_private = await private_targets_allowed(workspace_id)
        async for page in conversion_pages(stored["base_url"], key, stored["timezone_id"], since, until,
                                           allow_private=allow_private):
            new += await _store(workspace_id, page)
            records += len(page)
    except EverflowError as error:
        await _note(workspace_id, last_attempt_at=moment, last_error=str(error))
        return PullResult(records, new, str(error))
    found = await reconciliation.reconcile(workspace_id, since, until)
    await _note(workspace_id, last_attempt_at=moment, last_good_pull_at=moment, pulled_until=until, last_error="",
                last_result=f"{records} records read ({new} new); {found} to reconcile.")
    return PullResult(records, new)
