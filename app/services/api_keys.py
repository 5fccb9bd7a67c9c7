"""API keys: made (shown once), looked up per request, rotated with a grace period, revoked.

A key is `ig_live_` or `ig_test_` followed by 32 random bytes (url-safe). Only an HMAC-SHA256 of it under a
server secret is stored: with that much entropy a fast keyed hash is as strong as a slow password hash, and
a request pays microseconds, not the tens of milliseconds that would cap the API's rate. A database dump
alone does not even allow an offline guess, since the server secret is not in it.

A request finds its key's record in this process's memory (kept a few seconds), else in Redis (kept a
minute), else in the database. Anything that changes a key, once committed, replaces its Redis copy by a
short tombstone and announces the change on a channel every process listens to, dropping its own copy: a
revocation holds from the next request on, in every process. "Last used" is written at most once a minute.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis.asyncio import Redis

from app.db.api_keys import ApiKey
from app.logs import get_logger
from app.services import audit
from app.services.forms import FormError
from app.services.sqlparams import fetch_positional
from app.services.tenancy import checked_workspace_id, owned_by, row_id
from app.settings import get_settings

log = get_logger("ignite.api_keys")
ADMIN = "admin"
SCOPES = ("messages:send", "messages:read", "subscribers:write", "subscribers:read", "lists:manage",
          "campaigns:manage", "suppression:manage", "stats:read", "webhooks:manage", "leads:write", ADMIN)
LIVE_PREFIX = "ig_live_"
TEST_PREFIX = "ig_test_"
# Characters of the key kept in clear to tell keys apart in lists: the kind plus four random characters.
SHOWN = len(LIVE_PREFIX) + 4
SECRET_BYTES = 32
# token_urlsafe(32) is 43 characters; anything else cannot be one of ours and is refused without a lookup.
SECRET_LENGTH = len(LIVE_PREFIX) + 43
DEFAULT_RATE_LIMIT = 6000  # requests per minute
MAX_RATE_LIMIT = 1_000_000
DEFAULT_GRACE = timedelta(hours=24)
NAME_LENGTH = 120
# A cached record is re-read from the database this often at least (it also expires when a key changes).
CACHE_SECONDS = 60
# "Last used" is written at most once per this many seconds per key.
USE_INTERVAL = 60
CACHE = "ignite:apikey:{}"
# What a changed key's cache entry holds for a few seconds: "read the database, and cache nothing yet".
TOMBSTONE = "-"
TOMBSTONE_SECONDS = 5
# Where changed keys are announced to every process, and how long a process keeps its own copy of a record.
CHANGED = "ignite:apikey-changed"
LOCAL_SECONDS = 5.0
LOCAL_MAX = 10_000
USED = "ignite:apikey-used:{}"
PUBLIC_COLUMNS = ("id", "workspace_id", "name", "prefix", "sandbox", "scopes", "allowed_ips", "rate_limit",
                  "expires_at", "revoked_at", "created_by", "created_at", "rotated_at", "previous_valid_until",
                  "last_used_at", "last_used_ip")


class KeyRefused(Exception):
    """Why a presented key does not authenticate: a stable code (`invalid_key`, `key_expired`, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class KeyRecord:
    """What a request needs to know of its key, as cached in Redis."""

    id: int
    workspace_id: int
    sandbox: bool
    scopes: frozenset[str]
    rate_limit: int
    allowed_ips: tuple[str, ...]
    expires_at: float | None
    revoked: bool
    # Set when the key presented is the one a rotation replaced: it works until then.
    valid_until: float | None

    def may(self, scope: str) -> bool:
        return ADMIN in self.scopes or scope in self.scopes


@cache
def _hash_key() -> bytes:
    # Derived from SECRET_KEY: rotating SECRET_KEY makes every API key unknown, as it does the vault's secrets.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"ignite-api-keys", info=b"api-key-hash").derive(
        get_settings().security.secret_key.encode()
    )


def secret_hash(secret: str) -> str:
    return hmac.new(_hash_key(), secret.encode(), hashlib.sha256).hexdigest()


def new_secret(sandbox: bool) -> str:
    return (TEST_PREFIX if sandbox else LIVE_PREFIX) + secrets.token_urlsafe(SECRET_BYTES)


def looks_like_key(secret: str) -> bool:
    return len(secret) == SECRET_LENGTH and secret.startswith((LIVE_PREFIX, TEST_PREFIX))


def masked_prefix(prefix: str) -> str:
    return f"{prefix}…"


# Creating ----------------------------------------------------------------------------------------------


def _checked_scopes(scopes: Sequence[str], errors: dict[str, str]) -> list[str]:
    chosen = list(dict.fromkeys(scope.strip() for scope in scopes if scope.strip()))
    unknown = [scope for scope in chosen if scope not in SCOPES]
    if unknown:
        errors["scopes"] = f"Unknown scope: {', '.join(unknown)}. Choose from {', '.join(SCOPES)}."
    elif not chosen:
        errors["scopes"] = "Choose at least one scope."
    return chosen


def _checked_networks(allowed_ips: Sequence[str], errors: dict[str, str]) -> list[str]:
    networks, refused = [], []
    for text in (item.strip() for item in allowed_ips):
        if not text:
            continue
        try:
            networks.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            refused.append(repr(text))
    if refused:  # every bad line at once, so a pasted list is fixed in one go
        errors["allowed_ips"] = (f"Not an IP address or CIDR range (e.g. 203.0.113.0/24): {', '.join(refused)}.")
        return []
    return list(dict.fromkeys(networks))


def _checked_expiry(expires_at: datetime | None, errors: dict[str, str]) -> datetime | None:
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    if expires_at <= datetime.now(UTC):
        errors["expires_at"] = "The expiry must be in the future."
    return expires_at


def _checked_name(name: str, errors: dict[str, str]) -> str:
    name = name.strip()
    if not name:
        errors["name"] = "Give the key a name, e.g. the system that will use it."
    elif len(name) > NAME_LENGTH:
        errors["name"] = f"At most {NAME_LENGTH} characters."
    return name


def _checked_rate_limit(rate_limit: int, errors: dict[str, str]) -> int:
    if not 1 <= rate_limit <= MAX_RATE_LIMIT:
        errors["rate_limit"] = f"Between 1 and {MAX_RATE_LIMIT:,} requests per minute."
    return rate_limit


async def create_key(workspace_id: int, *, name: str, scopes: Sequence[str], sandbox: bool = False,
                     expires_at: datetime | None = None, allowed_ips: Sequence[str] = (),
                     created_by: int | None = None, rate_limit: int = DEFAULT_RATE_LIMIT) -> tuple[dict, str]:
    """The new key's row and its secret, which is never stored and so can be shown only now."""
    errors: dict[str, str] = {}
    values = {
        "name": _checked_name(name, errors),
        "scopes": _checked_scopes(scopes, errors),
        "expires_at": _checked_expiry(expires_at, errors),
        "allowed_ips": _checked_networks(allowed_ips, errors),
        "rate_limit": _checked_rate_limit(rate_limit, errors),
    }
    if errors:
        raise FormError(errors)
    secret = new_secret(sandbox)
    [row] = await ApiKey.insert(ApiKey(
        workspace_id=checked_workspace_id(workspace_id), prefix=secret[:SHOWN], secret_hash=secret_hash(secret),
        sandbox=sandbox, created_by=created_by, created_at=datetime.now(UTC), **values,
    )).returning(*_public_columns())
    return row, secret


async def create_audited_key(redis: Redis, workspace_id: int, actor: audit.Actor, **options: Any) -> tuple[dict, str]:
    """`create_key` by a person or another key, in the audit log (never with the secret)."""
    async with audit.change(redis, workspace_id, actor) as change:
        row, secret = await create_key(workspace_id, created_by=actor.user_id, **options)
        change.note("api_key.created", "api_key", row["id"],
                    {"name": row["name"], "prefix": row["prefix"], "scopes": row["scopes"], "sandbox": row["sandbox"]})
    return row, secret


def _public_columns() -> list[Any]:
    return [ApiKey._meta.get_column_by_name(name) for name in PUBLIC_COLUMNS]


# Reading -----------------------------------------------------------------------------------------------


async def list_keys(workspace_id: int, *, after_id: int = 0, limit: int | None = None) -> list[dict]:
    """The workspace's keys, oldest first, without their hashes."""
    query = (ApiKey.select(*_public_columns()).where(owned_by(ApiKey, workspace_id), ApiKey.id > after_id)
             .order_by(ApiKey.id))
    return await (query.limit(limit) if limit else query)


async def get_key(workspace_id: int, key_id: object) -> dict:
    """One key of the workspace; LookupError (a 404) when it is not theirs or does not exist."""
    pk = row_id(ApiKey, key_id)
    rows = [] if pk is None else await ApiKey.select(*_public_columns()).where(
        owned_by(ApiKey, workspace_id), ApiKey.id == pk)
    if not rows:
        raise LookupError(f"no API key {key_id}")
    return rows[0]


def key_status(row: dict, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    if row["revoked_at"] is not None:
        return "revoked"
    if row["expires_at"] is not None and row["expires_at"] <= now:
        return "expired"
    return "active"


# Changing ----------------------------------------------------------------------------------------------


async def _hashes_of(workspace_id: int, key_id: int) -> list[str]:
    rows = await ApiKey.select(ApiKey.secret_hash, ApiKey.previous_hash).where(
        owned_by(ApiKey, workspace_id), ApiKey.id == key_id)
    return [value for row in rows for value in (row["secret_hash"], row["previous_hash"]) if value]


async def forget_cached(redis: Redis, hashes: Sequence[str]) -> None:
    """Replace cached records by a short-lived tombstone, so that the next requests read the key as it is now.

    A request that read the row just before the change committed would otherwise cache the old row after
    this; its cache write (SET NX) fails while the tombstone is there."""
    if hashes:
        LOCAL.forget(hashes)
        async with redis.pipeline(transaction=False) as pipe:
            for value in hashes:
                pipe.set(CACHE.format(value), TOMBSTONE, ex=TOMBSTONE_SECONDS)
                pipe.publish(CHANGED, value)
            await pipe.execute()


async def rotate_key(redis: Redis, workspace_id: int, key_id: object, actor: audit.Actor,
                     grace: timedelta = DEFAULT_GRACE) -> tuple[dict, str]:
    """A new secret for the key; the old one keeps working until the grace period ends."""
    current = await get_key(workspace_id, key_id)
    if current["revoked_at"] is not None:
        raise FormError("A revoked key cannot be rotated: create a new one.")
    if grace < timedelta(0):
        raise FormError({"grace_hours": "The grace period cannot be negative."})
    hashes = await _hashes_of(workspace_id, current["id"])
    secret = new_secret(current["sandbox"])
    now = datetime.now(UTC)
    async with audit.change(redis, workspace_id, actor) as change:
        [row] = await ApiKey.update({
            ApiKey.previous_hash: ApiKey.secret_hash, ApiKey.previous_valid_until: now + grace,
            ApiKey.secret_hash: secret_hash(secret), ApiKey.prefix: secret[:SHOWN], ApiKey.rotated_at: now,
        }).where(owned_by(ApiKey, workspace_id), ApiKey.id == current["id"]).returning(*_public_columns())
        change.note("api_key.rotated", "api_key", row["id"],
                    {"name": row["name"], "old_works_until": (now + grace).isoformat()})
    await forget_cached(redis, hashes)
    return row, secret


async def revoke_key(redis: Redis, workspace_id: int, key_id: object, actor: audit.Actor) -> dict:
    """The key refused from the next request on, whichever of its secrets is presented."""
    current = await get_key(workspace_id, key_id)
    if current["revoked_at"] is not None:
        return current
    hashes = await _hashes_of(workspace_id, current["id"])
    async with audit.change(redis, workspace_id, actor) as change:
        [row] = await ApiKey.update({ApiKey.revoked_at: datetime.now(UTC)}).where(
            owned_by(ApiKey, workspace_id), ApiKey.id == current["id"]).returning(*_public_columns())
        change.note("api_key.revoked", "api_key", row["id"], {"name": row["name"]})
    await forget_cached(redis, hashes)
    return row


# Authenticating ----------------------------------------------------------------------------------------

_LOOKUP = """
SELECT id, workspace_id, sandbox, scopes, rate_limit, allowed_ips, expires_at, revoked_at,
       secret_hash = $1 AS current, previous_valid_until
FROM api_keys WHERE secret_hash = $1 OR previous_hash = $1
LIMIT 1
"""


def _epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


async def _stored_record(hashed: str) -> dict[str, Any] | None:
    rows = await fetch_positional(_LOOKUP, [hashed])
    if not rows:
        return None
    row = rows[0]
    return {"id": row["id"], "workspace_id": row["workspace_id"], "sandbox": row["sandbox"],
            "scopes": list(row["scopes"]), "rate_limit": row["rate_limit"], "allowed_ips": list(row["allowed_ips"]),
            "expires_at": _epoch(row["expires_at"]), "revoked": row["revoked_at"] is not None,
            "valid_until": None if row["current"] else _epoch(row["previous_valid_until"])}


def _record(data: dict[str, Any]) -> KeyRecord:
    return KeyRecord(id=data["id"], workspace_id=data["workspace_id"], sandbox=data["sandbox"],
                     scopes=frozenset(data["scopes"]), rate_limit=data["rate_limit"],
                     allowed_ips=tuple(data["allowed_ips"]), expires_at=data["expires_at"],
                     revoked=data["revoked"], valid_until=data["valid_until"])


@lru_cache(maxsize=1024)
def _networks(allowed: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(text, strict=False) for text in allowed)


def ip_allowed(record: KeyRecord, ip: str) -> bool:
    if not record.allowed_ips:
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in _networks(record.allowed_ips))


def refusal(record: KeyRecord, ip: str, now: float) -> KeyRefused | None:
    """Why this key may not be used now from this address, or None."""
    if record.revoked:
        return KeyRefused("key_revoked", "This API key was revoked.")
    if record.expires_at is not None and record.expires_at <= now:
        return KeyRefused("key_expired", "This API key has expired.")
    if record.valid_until is not None and record.valid_until <= now:
        return KeyRefused("key_expired", "This API key was rotated and its grace period has ended.")
    if not ip_allowed(record, ip):
        return KeyRefused("ip_not_allowed", f"This API key may not be used from {ip or 'an unknown address'}.")
    return None


class LocalCopies:
    """This process's copies of key records, kept `LOCAL_SECONDS`, so that most requests need no lookup at all.

    They are trusted only while this process listens to the channel where every change of a key is published
    (`forget_cached`), so a revocation reaches every process at once; without the listener (not started yet,
    or its connection lost) every request reads the shared cache in Redis instead. A copy read from Redis
    while a change was being announced is not kept (`generation`)."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[float, KeyRecord]] = {}
        self.listening = False
        self.generation = 0
        self.task: asyncio.Task | None = None

    def get(self, hashed: str, now: float) -> KeyRecord | None:
        kept = self.records.get(hashed) if self.listening else None
        return kept[1] if kept and kept[0] > now else None

    def keep(self, hashed: str, record: KeyRecord, now: float, generation: int) -> None:
        if self.listening and generation == self.generation:
            if len(self.records) >= LOCAL_MAX:
                self.records.clear()
            self.records[hashed] = (now + LOCAL_SECONDS, record)

    def forget(self, hashes: Sequence[str]) -> None:
        self.generation += 1
        for value in hashes:
            self.records.pop(value, None)

    def listen(self, redis: Redis) -> None:
        """Start listening for changes (once per event loop)."""
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.listening = False
            self.records.clear()
            self.task = loop.create_task(self._listen(redis))

    async def _listen(self, redis: Redis) -> None:
        while True:
            pubsub = redis.pubsub()
            try:
                await pubsub.subscribe(CHANGED)
                async for message in pubsub.listen():
                    if message["type"] == "subscribe":
                        self.listening = True
                    elif message["type"] == "message":
                        self.forget([message["data"]])
            except Exception:  # a lost connection: requests read Redis until this listens again
                log.warning("api_key_listener_lost", exc_info=True)
            finally:
                self.listening = False
                self.records.clear()
                await pubsub.aclose()
            await asyncio.sleep(1)


LOCAL = LocalCopies()


async def _shared_record(redis: Redis, hashed: str, now: float) -> KeyRecord | None:
    """The record from the cache in Redis, else from the database (then cached, unless just changed)."""
    generation = LOCAL.generation
    cached = await redis.get(CACHE.format(hashed))
    fresh = cached is None or cached == TOMBSTONE
    data = await _stored_record(hashed) if fresh else json.loads(cached)
    if data is None:
        return None
    record = _record(data)
    if not fresh or await redis.set(CACHE.format(hashed), json.dumps(data), ex=CACHE_SECONDS, nx=True):
        LOCAL.keep(hashed, record, now, generation)
    return record


async def authenticated(redis: Redis, secret: str, ip: str) -> KeyRecord:
    """The record of a valid key presented from `ip`; KeyRefused says why not."""
    if not looks_like_key(secret):
        raise KeyRefused("invalid_key", "This is not an Ignite API key.")
    LOCAL.listen(redis)
    hashed = secret_hash(secret)
    now = time.time()
    record = LOCAL.get(hashed, now) or await _shared_record(redis, hashed, now)
    if record is None:
        raise KeyRefused("invalid_key", "No such API key.")
    refused = refusal(record, ip, now)
    if refused is not None:
        raise refused
    await _note_use(redis, record.id, hashed, ip)
    return record


_noted: dict[str, float] = {}


async def _note_use(redis: Redis, key_id: int, hashed: str, ip: str) -> None:
    """Last use written at most once a minute per key: a check in memory first, then in Redis for all processes."""
    moment = time.monotonic()
    if moment - _noted.get(hashed, -USE_INTERVAL) < USE_INTERVAL:
        return
    if len(_noted) >= LOCAL_MAX:
        _noted.clear()
    _noted[hashed] = moment
    if await redis.set(USED.format(hashed), "1", nx=True, ex=USE_INTERVAL):
        await note_use(key_id, ip)


async def note_use(key_id: int, ip: str) -> None:
    await fetch_positional("UPDATE api_keys SET last_used_at = now(), last_used_ip = $2 WHERE id = $1",
                           [key_id, ip[:64]])
