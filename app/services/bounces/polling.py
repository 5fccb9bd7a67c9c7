"""One poll of a bounce or FBL mailbox: each waiting message stored as a report, then deleted or moved.

Order matters: `intake.accept` commits the report before the message is finished, so a poll that dies
anywhere leaves every message whose report is not stored in the mailbox, and a message read again
(its report stored, the poll died before finishing it) is recognised by its (source, source_ref) and only
finished. A Redis lock per mailbox keeps two workers from reading the same mailbox at once.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from app.db.bounce_mailboxes import BounceMailbox
from app.logs import get_logger
from app.services import vault
from app.services.accounts import now
from app.services.bounces import intake
from app.services.bounces.mail_access import Endpoint, MailboxError, guarded, open_session

log = get_logger("ignite.bounces")

# Messages read by one poll; the rest wait for the next one, so a flooded mailbox never holds its lock for long.
MAX_PER_POLL = 200
# Longer than a poll of MAX_PER_POLL messages takes; a worker that dies holding the lock frees it after this.
LOCK_SECONDS = 900
# Deletes the lock only if it is still the one this poll took (it may have expired and been taken since).
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


@dataclass(frozen=True)
class PollResult:
    fetched: int = 0
    report_ids: tuple[int, ...] = ()
    already_stored: int = 0
    remaining: bool = False
    error: str = ""
    busy: bool = False

    @property
    def summary(self) -> str:
        if self.busy:
            return "Another poll of this mailbox is running; its result shows here when it ends."
        if self.fetched == 0:
            return "Could not read the mailbox." if self.error else "No messages were waiting."
        noun = "message" if self.fetched == 1 else "messages"
        reports = "new report" if len(self.report_ids) == 1 else "new reports"
        text = f"Read {self.fetched} {noun}: {len(self.report_ids)} {reports} queued for processing"
        text += f", {self.already_stored} stored by an earlier poll." if self.already_stored else "."
        if self.error:
            text += " Then the poll stopped on an error; the rest waits for the next poll."
        elif self.remaining:
            text += " More are waiting for the next poll."
        return text


def lock_key(mailbox_id: int) -> str:
    return f"ignite:bounces:mailbox:{mailbox_id}:poll"


def endpoint_of(row: dict) -> Endpoint:
    """Where and how to read the mailbox; MailboxError when its password was stored under another key."""
    try:
        password = vault.decrypt(row["password"])
    except vault.VaultError as exc:
        raise MailboxError(str(exc)) from exc
    return Endpoint(protocol=row["protocol"], host=row["host"], port=row["port"], security=row["security"],
                    username=row["username"], password=password, folder=row["folder"], after=row["after"],
                    move_to=row["move_to"])


async def poll(mailbox: dict, redis: Redis) -> PollResult:
    """Read the mailbox once (unless another poll holds it) and record what the poll found on its row."""
    token = secrets.token_hex(8)
    if not await redis.set(lock_key(mailbox["id"]), token, nx=True, ex=LOCK_SECONDS):
        return PollResult(busy=True)
    try:
        result = await _read(mailbox)
    finally:
        await redis.eval(RELEASE, 1, lock_key(mailbox["id"]), token)
    await _record(mailbox, result)
    log.info("mailbox_polled", mailbox_id=mailbox["id"], fetched=result.fetched, new=len(result.report_ids),
             error=result.error or None)
    return result


async def _read(mailbox: dict) -> PollResult:
    try:
        endpoint = endpoint_of(mailbox)
        session = await asyncio.to_thread(open_session, endpoint)
    except MailboxError as exc:
        return PollResult(error=str(exc))
    report_ids: list[int] = []
    already_stored = fetched = 0
    try:
        keys = await asyncio.to_thread(guarded, endpoint, session.waiting, MAX_PER_POLL + 1)
        for key in keys[:MAX_PER_POLL]:
            raw = await asyncio.to_thread(guarded, endpoint, session.fetch, key)
            fetched += 1
            report_id = await intake.accept(intake.Incoming(
                source=endpoint.protocol, source_ref=f"{mailbox['id']}:{key}", raw=raw,
                workspace_id=mailbox["workspace_id"]))
            if report_id is None:
                already_stored += 1
            else:
                report_ids.append(report_id)
            # Stored, now or by an earlier poll: only now may the message leave the mailbox.
            await asyncio.to_thread(guarded, endpoint, session.finish, key)
    except MailboxError as exc:
        return PollResult(fetched=fetched, report_ids=tuple(report_ids), already_stored=already_stored,
                          error=str(exc))
    finally:
        await asyncio.to_thread(session.close)
    return PollResult(fetched=fetched, report_ids=tuple(report_ids), already_stored=already_stored,
                      remaining=len(keys) > MAX_PER_POLL)


async def _record(mailbox: dict, result: PollResult) -> None:
    await BounceMailbox.update({
        BounceMailbox.last_polled_at: now(), BounceMailbox.last_result: result.summary,
        BounceMailbox.last_error: result.error[:2000],
    }).where(BounceMailbox.workspace_id == mailbox["workspace_id"], BounceMailbox.id == mailbox["id"])
