"""Bounce and feedback-loop mailboxes of a workspace: their settings (password in the vault), Test connection,
and the list of mailboxes due for a poll. Polling itself is in `polling.py` (re-exported here as `poll`).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from app.db.bounce_mailboxes import BounceMailbox
from app.services import statements, vault
from app.services.accounts import now
from app.services.bounces.mail_access import Endpoint, MailboxError, Session, guarded, open_session
from app.services.bounces.polling import PollResult, endpoint_of, poll
from app.services.form_input import LARGEST_INTEGER
from app.services.forms import FormError
from app.services.tenancy import checked_workspace_id, owned_by

KINDS = {"bounce": "Bounces", "fbl": "Complaints (feedback loop)"}
PROTOCOLS = {"imap": "IMAP", "pop3": "POP3"}
SECURITIES = {"ssl": "SSL/TLS", "starttls": "STARTTLS", "none": "None (only on a trusted network)"}
AFTER = {"delete": "Delete it", "move": "Move it to a folder (IMAP)"}
# The port a protocol listens on for each security, used when the port is left empty.
DEFAULT_PORTS = {("imap", "ssl"): 993, ("imap", "starttls"): 143, ("imap", "none"): 143,
                 ("pop3", "ssl"): 995, ("pop3", "starttls"): 110, ("pop3", "none"): 110}
# Polls at most every 30 s (the scheduler's tick), at least once a day.
POLL_RANGE = (30, 86_400)
DEFAULT_POLL_SECONDS = 300
HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$")
NAME_LENGTH = 120
FIELD_LENGTH = 255


class MailboxFormError(FormError):
    """Mailbox settings that cannot be saved."""


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    detail: str


def _choice(raw: dict[str, Any], name: str, choices: dict[str, str], default: str, errors: dict[str, str]) -> str:
    value = str(raw.get(name, "") or default).strip()
    if value not in choices:
        errors[name] = f"Choose one of: {', '.join(choices.values())}."
    return value


def _number(raw: dict[str, Any], name: str, low: int, high: int, default: int, errors: dict[str, str]) -> int:
    text = str(raw.get(name, "") or "").strip()
    if not text:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        errors[name] = f"Enter a whole number from {low} to {high}."
        return default
    return int(text)


def _text(raw: dict[str, Any], name: str, label: str, errors: dict[str, str], limit: int = FIELD_LENGTH) -> str:
    value = str(raw.get(name, "") or "").strip()
    if not value or len(value) > limit:
        errors[name] = f"{label} is required (up to {limit} characters)."
    return value


def _where(values: dict[str, Any], raw: dict[str, Any], errors: dict[str, str]) -> None:
    """Host, port and security: where the mailbox's server is and how to talk to it."""
    values["host"] = _text(raw, "host", "The server's host name", errors).lower()
    if "host" not in errors and not HOST.match(values["host"]):
        errors["host"] = "Enter a host name such as imap.example.com (no scheme, no port)."
    values["security"] = _choice(raw, "security", SECURITIES, "ssl", errors)
    default_port = DEFAULT_PORTS.get((values["protocol"], values["security"]), 993)
    values["port"] = _number(raw, "port", 1, 65_535, default_port, errors)


def _after(values: dict[str, Any], raw: dict[str, Any], errors: dict[str, str]) -> None:
    """The folder read and what becomes of a message once its report is stored."""
    imap = values["protocol"] == "imap"
    values["folder"] = _text(raw, "folder", "The folder", errors) if imap else "INBOX"
    values["after"] = _choice(raw, "after", AFTER, "delete", errors)
    values["move_to"] = str(raw.get("move_to", "") or "").strip() if values["after"] == "move" else ""
    if values["after"] == "move" and not imap:
        errors["after"] = "POP3 has no folders: processed messages can only be deleted."
    elif values["after"] == "move" and not values["move_to"]:
        errors["move_to"] = "Name the folder processed messages are moved to, e.g. Processed."
    elif values["after"] == "move" and values["move_to"] == values["folder"]:
        errors["move_to"] = "Moving messages into the folder that is read would read them again."
    elif len(values["move_to"]) > FIELD_LENGTH:
        errors["move_to"] = f"Folder names are up to {FIELD_LENGTH} characters."


def cleaned_values(raw: dict[str, Any], stored_password: str = "") -> dict[str, Any]:
    """Validated columns of a mailbox; an empty password keeps the stored one (already encrypted)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"name": _text(raw, "name", "A name", errors, NAME_LENGTH)}
    values["kind"] = _choice(raw, "kind", KINDS, "bounce", errors)
    values["protocol"] = _choice(raw, "protocol", PROTOCOLS, "imap", errors)
    _where(values, raw, errors)
    values["username"] = _text(raw, "username", "The user name", errors, 320)
    password = str(raw.get("password", "") or "")
    if not password and not stored_password:
        errors["password"] = "Enter the mailbox's password."
    values["password"] = vault.encrypt(password) if password else stored_password
    _after(values, raw, errors)
    values["poll_seconds"] = _number(raw, "poll_seconds", *POLL_RANGE, DEFAULT_POLL_SECONDS, errors)
    values["enabled"] = str(raw.get("enabled", "")).lower() in {"on", "true", "1", "yes"}
    if errors:
        raise MailboxFormError(errors)
    return values


async def mailboxes(workspace_id: int) -> list[dict]:
    return await BounceMailbox.select().where(owned_by(BounceMailbox, workspace_id)).order_by(BounceMailbox.name)


async def get_mailbox(workspace_id: int, mailbox_id: int) -> dict:
    """The mailbox with this id in this workspace; LookupError when there is none."""
    row = None
    if 0 < mailbox_id <= LARGEST_INTEGER:
        row = await BounceMailbox.select().where(owned_by(BounceMailbox, workspace_id),
                                                 BounceMailbox.id == mailbox_id).first()
    if row is None:
        raise LookupError("mailbox")
    return row


async def _refuse_taken_name(workspace_id: int, name: str, mailbox_id: int = 0) -> None:
    if await BounceMailbox.exists().where(owned_by(BounceMailbox, workspace_id), BounceMailbox.name == name,
                                          BounceMailbox.id != mailbox_id):
        raise MailboxFormError({"name": "Another mailbox already has this name."})


async def create_mailbox(workspace_id: int, raw: dict[str, Any]) -> dict:
    values = cleaned_values(raw)
    await _refuse_taken_name(workspace_id, values["name"])
    rows = await BounceMailbox.insert(BounceMailbox(
        workspace_id=checked_workspace_id(workspace_id), created_at=now(), updated_at=now(), **values,
    )).returning(*BounceMailbox.all_columns())
    return rows[0]


async def update_mailbox(workspace_id: int, mailbox_id: int, raw: dict[str, Any]) -> dict:
    current = await get_mailbox(workspace_id, mailbox_id)
    values = cleaned_values(raw, current["password"])
    await _refuse_taken_name(workspace_id, values["name"], mailbox_id)
    rows = await BounceMailbox.update({**values, "updated_at": now()}).where(
        owned_by(BounceMailbox, workspace_id), BounceMailbox.id == mailbox_id
    ).returning(*BounceMailbox.all_columns())
    return rows[0]


async def delete_mailbox(workspace_id: int, mailbox_id: int) -> dict:
    rows = await BounceMailbox.delete().where(owned_by(BounceMailbox, workspace_id),
                                              BounceMailbox.id == mailbox_id).returning(BounceMailbox.name)
    if not rows:
        raise LookupError("mailbox")
    return rows[0]


def form_of(row: dict) -> dict[str, Any]:
    """A stored mailbox as the values of its form (the password never goes back to the browser)."""
    return {key: row[key] for key in ("name", "kind", "protocol", "host", "port", "security", "username", "folder",
                                      "after", "move_to", "poll_seconds", "enabled")}


def _described(endpoint: Endpoint) -> str:
    session: Session = open_session(endpoint)
    try:
        return guarded(endpoint, session.describe)
    finally:
        session.close()


async def test_connection(workspace_id: int, mailbox_id: int) -> ConnectionCheck:
    """Log in, open the folder and say what it holds; nothing in the mailbox is read or changed."""
    row = await get_mailbox(workspace_id, mailbox_id)
    try:
        endpoint = endpoint_of(row)
        found = await asyncio.to_thread(_described, endpoint)
    except MailboxError as exc:
        return ConnectionCheck(ok=False, detail=str(exc))
    return ConnectionCheck(ok=True, detail=f"Logged in to {row['host']} as {row['username']}. {found}")


async def due_mailboxes() -> list[dict]:
    """Enabled mailboxes of every workspace whose last poll is older than their interval (the scheduler's sweep)."""
    return await statements.run("bounce_mailboxes.due")


__all__ = ["ConnectionCheck", "MailboxFormError", "PollResult", "poll"]
