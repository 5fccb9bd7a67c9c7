"""One poll of an intake source: list the new files directly under its prefix, take each in through the import
engine (app/services/imports) by the first rule that matches it, then move it to `processed/` or `failed/`
under the prefix, and log rows, rejects, duration and quality per file.

A file is claimed by inserting its (source, key, ETag) row first, so two polls never take it twice and a file
that could not be moved is not taken again; one that was moved and is back (put back, or dropped again) is.
A Redis lock per source keeps polls of one source from overlapping.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import dns.asyncresolver
from redis.asyncio import Redis

from app.db.intake import IntakeFile, IntakeSource
from app.logs import get_logger
from app.services import audit, imports
from app.services.accounts import now
from app.services.imports.errors import ImportProblem
from app.services.imports.mapping import analyse
from app.services.imports.sources import Part, S3Location, S3Objects, _client, _s3_problem, cache_folder, seal
from app.services.intake import quality, rules
from app.services.intake.sources import FAILED, PROCESSED, alert_of, secret_of
from app.services.sending_domains import configured_resolver
from app.services.vault import VaultError

log = get_logger("ignite.intake")

# Files taken in by one poll; the rest wait for the next, so one poll never holds its source for hours.
MAX_FILES_PER_POLL = 20
# Longer than a poll of MAX_FILES_PER_POLL large files; a worker that dies holding the lock frees it after this.
LOCK_SECONDS = 6 * 3600
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
NOTICES = {"failing": "intake.source_failing", "quiet": "intake.source_quiet", "": "intake.source_recovered"}


@dataclass(frozen=True)
class Found:
    key: str
    size: int
    etag: str


@dataclass
class PollResult:
    files: list[dict] = field(default_factory=list)
    error: str = ""
    busy: bool = False


def lock_key(source_id: int) -> str:
    return f"ignite:intake:source:{source_id}:poll"


def location_of(source: dict, prefix: str | None = None) -> S3Location:
    return S3Location(bucket=source["bucket"], prefix=source["prefix"] if prefix is None else prefix,
                      region=source["region"], endpoint_url=source["endpoint_url"],
                      access_key_id=source["access_key_id"], sealed_secret=seal(secret_of(source)))


def _listing(location: S3Location) -> list[Found]:
    """Files directly under the prefix (the processed/ and failed/ folders below it are not listed)."""
    from botocore.exceptions import BotoCoreError, ClientError

    found = []
    try:
        pages = _client(location).get_paginator("list_objects_v2").paginate(
            Bucket=location.bucket, Prefix=location.prefix, Delimiter="/")
        for page in pages:
            found += [Found(item["Key"], int(item["Size"]), item.get("ETag", "").strip('"'))
                      for item in page.get("Contents", []) if item["Size"] > 0 and not item["Key"].endswith("/")]
    except (BotoCoreError, ClientError) as exc:
        raise _s3_problem(exc, location) from exc
    return sorted(found, key=lambda item: item.key)


def _move(location: S3Location, key: str, folder: str) -> str:
    """The file copied into `folder` under the prefix, then deleted; its new key."""
    from botocore.exceptions import BotoCoreError, ClientError

    target = f"{location.prefix}{folder}{key.removeprefix(location.prefix)}"
    client = _client(location)
    try:
        client.copy_object(Bucket=location.bucket, Key=target, CopySource={"Bucket": location.bucket, "Key": key})
        client.delete_object(Bucket=location.bucket, Key=key)
    except (BotoCoreError, ClientError) as exc:
        raise _s3_problem(exc, location) from exc
    return target


async def poll(source: dict, redis: Redis, resolver: dns.asyncresolver.Resolver | None = None) -> PollResult:
    """Take in the source's new files (unless another poll holds it), record the poll and give any notice due."""
    token = secrets.token_hex(8)
    if not await redis.set(lock_key(source["id"]), token, nx=True, ex=LOCK_SECONDS):
        return PollResult(busy=True)
    try:
        result = await _take_in(source, redis, resolver or configured_resolver(dns.asyncresolver.Resolver))
    finally:
        await redis.eval(RELEASE, 1, lock_key(source["id"]), token)
    updated = await _record(source, result)
    await give_notice(updated, redis)
    log.info("intake_polled", source_id=source["id"], files=len(result.files), error=result.error or None)
    return result


async def _take_in(source: dict, redis: Redis, resolver: dns.asyncresolver.Resolver) -> PollResult:
    try:
        location = location_of(source)
        found = await asyncio.to_thread(_listing, location)
    except (ImportProblem, VaultError) as exc:
        return PollResult(error=str(exc))
    result = PollResult()
    for item in found:
        if len(result.files) >= MAX_FILES_PER_POLL:
            break
        claimed = await _claim(source, item)
        if claimed is not None:
            result.files.append(await _file(source, location, item, claimed, redis, resolver))
    return result


async def _claim(source: dict, item: Found) -> int | None:
    """The new row of a file not taken yet, or None. A file seen before that was moved away and is back (put back
    from failed/ once a rule takes it, or dropped again with the same content, so the same ETag) is taken again:
    its earlier row keeps its history under a retired ETag. One left where it was is not retried."""
    async with IntakeFile._meta.db.transaction():
        await IntakeFile.raw(
            "UPDATE intake_files SET etag = left(etag, 100) || '~' || id WHERE workspace_id = {} AND source_id = {} "
            "AND key = {} AND etag = {} AND moved_to <> ''",
            source["workspace_id"], source["id"], item.key, item.etag)
        rows = await IntakeFile.raw(
            "INSERT INTO intake_files (workspace_id, source_id, key, etag, size) VALUES ({}, {}, {}, {}, {}) "
            "ON CONFLICT (source_id, key, etag) DO NOTHING RETURNING id",
            source["workspace_id"], source["id"], item.key, item.etag, item.size)
    return rows[0]["id"] if rows else None


async def _file(source: dict, location: S3Location, item: Found, file_id: int, redis: Redis,
                resolver: dns.asyncresolver.Resolver) -> dict:
    """Classify, import and move one file; its row as finally recorded."""
    started = time.monotonic()
    values: dict[str, Any] = {"status": "failed"}
    try:
        await _import(source, location, item, redis, resolver, values)
    except ImportProblem as exc:
        values["error"] = str(exc)
    except Exception as exc:
        log.exception("intake_file_crashed", source_id=source["id"], key=item.key)
        values["error"] = f"The file could not be taken in ({exc.__class__.__name__})."
    folder = PROCESSED if values.get("status") == "processed" else FAILED
    try:
        values["moved_to"] = await asyncio.to_thread(_move, location, item.key, folder)
    except ImportProblem as exc:
        values["error"] = (values.get("error", "") + f" The file stays where it is: {exc}").strip()
    values.update(duration_ms=round((time.monotonic() - started) * 1000), finished_at=now())
    rows = await IntakeFile.update(values).where(
        IntakeFile.workspace_id == source["workspace_id"], IntakeFile.id == file_id
    ).returning(*IntakeFile.all_columns())
    return rows[0]


async def _header(location: S3Location, item: Found, workspace_id: int) -> list[str]:
    """The file's header cells as the import engine reads them; empty when its first row is data."""
    objects = S3Objects(location, [Part(item.key, item.size)], cache_folder(workspace_id))
    analysis = await asyncio.to_thread(analyse, objects, [], {})
    return [column.name for column in analysis.columns] if analysis.has_header else []


async def _import(source: dict, location: S3Location, item: Found, redis: Redis,
                  resolver: dns.asyncresolver.Resolver, values: dict[str, Any]) -> None:
    """The file's import through the engine, by the first rule that takes it, noted in `values` (the file row's
    new values) as it goes, so a failure half way still names the rule and the import."""
    workspace_id = source["workspace_id"]
    rule = rules.classify(await rules.rules_of(workspace_id, source["id"]), item.key,
                          await _header(location, item, workspace_id))
    if rule is None:
        values.update(status="unmatched", error="No file rule of this source matches the file's name or header.")
        return
    values.update(rule_id=rule["id"], kind=rule["kind"])
    row = await imports.create_from_s3(workspace_id, rule["list_id"], None, {
        "location": f"s3://{location.bucket}/{item.key}", "region": source["region"],
        "endpoint_url": source["endpoint_url"], "access_key_id": source["access_key_id"],
        "secret_access_key": secret_of(source)})
    values["import_id"] = row["id"]
    analysis, _ = await imports.analyse_import(workspace_id, row, {})
    await imports.start(workspace_id, row["id"], rules.column_choices(rule, analysis), rules.MODES[rule["kind"]],
                        {}, rule["suppression_list_id"])
    final = await imports.run_import(workspace_id, row["id"], redis)
    if final is None or final["status"] != "completed":
        raise ImportProblem((final or {}).get("error") or "The import did not finish.")
    measured = await quality.measure(final, resolver)
    rejects = final["invalid"] + (0 if final["mode"] == "suppress" else final["suppressed"])
    values.update(status="processed", rows=final["rows_seen"], rejects=rejects, score=measured.score,
                  quality=measured.as_json())


async def _record(source: dict, result: PollResult) -> dict:
    at = now()
    values: dict[Any, Any] = {IntakeSource.last_polled_at: at, IntakeSource.last_error: result.error[:2000]}
    if not result.error:
        values[IntakeSource.last_success_at] = at
    if result.files:
        values[IntakeSource.last_file_at] = at
    rows = await IntakeSource.update(values).where(
        IntakeSource.workspace_id == source["workspace_id"], IntakeSource.id == source["id"]
    ).returning(*IntakeSource.all_columns())
    return rows[0] if rows else source


async def give_notice(source: dict, redis: Redis) -> str:
    """When the source's state changed since the last notice (failing, quiet, fine again), the activity feed and
    the audit log say so once; the new alert."""
    alert = alert_of(source, now())
    if alert == source["alert"]:
        return alert
    changed = await IntakeSource.update({IntakeSource.alert: alert}).where(
        IntakeSource.workspace_id == source["workspace_id"], IntakeSource.id == source["id"],
        IntakeSource.alert == source["alert"]).returning(IntakeSource.id)
    if changed:
        await audit.record(redis, source["workspace_id"], audit.SYSTEM, NOTICES[alert], "intake_source",
                           source["id"], {"name": source["name"], "hours": source["quiet_hours"],
                                          "error": source["last_error"][:300]})
    return alert
