"""What one API call asks to send, checked once for all its recipients: template or raw content, sender, headers,
attachments.

Raw HTML is sanitised and compiled as a saved template is (templates.py), so a message that could not render is
refused at the door rather than failing in the worker. The sender is the workspace's default sender, or an
address on one of its sending domains whose SPF and DKIM checked out (what a campaign's review asks).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import msgspec

from app.db.content import SendingDomain
from app.db.transactional import TransactionalAttachment
from app.services.campaigns.drafts import from_domain_problem
from app.services.forms import FormError
from app.services.rendering import CampaignContent, CompiledMessage, MessageSkeleton, TemplateError, sanitize_html
from app.services.subscribers.records import SubscriberError, normalized_email
from app.services.templates import default_from_address, off_loop, preview_settings, problem_text
from app.services.tenancy import owned_by

# All attachments of one message together, decoded.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_SUBJECT = 998
# Headers a caller may not set beyond those the renderer reserves: routing and authentication are ours.
REFUSED_HEADERS = frozenset({"return-receipt-to", "disposition-notification-to", "x-ignite-delivery",
                             "authentication-results", "arc-seal", "arc-message-signature",
                             "arc-authentication-results", "x-mailer-recipient"})
# A sender's verdict is read once in this many seconds per process: accepting is on the API's hot path.
SENDER_CACHE_SECONDS = 30.0
_SENDERS: dict[tuple[int, str], tuple[float, bool]] = {}
_DEFAULT_SENDERS: dict[int, tuple[float, str]] = {}


class MessageRefused(ValueError):
    """Refused with a stable code the API answers (e.g. `attachments_too_large`, `recipient_suppressed`)."""

    def __init__(self, code: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.code, self.field = code, field


@dataclass(frozen=True)
class AttachmentInput:
    filename: str
    content: str  # base64
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class ContentInput:
    """What the caller gave; either `template_id` or a subject with HTML and/or text."""

    template_id: int | None = None
    subject: str = ""
    html: str = ""
    text: str | None = None
    from_email: str = ""
    from_name: str = ""
    reply_to: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    attachments: Sequence[AttachmentInput] = ()


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    body: bytes


@dataclass(frozen=True)
class CheckedContent:
    """Ready to store: sanitised, compiled once to prove it renders, sender and headers allowed. With a template,
    `subject` is the caller's own (or empty) and the rest of its parts are the template's, read as it is stored."""

    template_id: int | None
    subject: str
    preheader: str
    html: str
    text: str | None
    from_email: str
    from_name: str
    reply_to: str
    headers: dict[str, str]
    attachments: list[Attachment]


def _address(value: str, name: str) -> str:
    try:
        return _normalized(value)
    except SubscriberError as exc:
        raise FormError({name: exc.errors["email"]}) from exc


# A caller sends from and replies to the same few addresses every time; validating one costs more than the rest
# of the content's checks. (A refused address raises, so it is never kept.)
@lru_cache(maxsize=1024)
def _normalized(address: str) -> str:
    return normalized_email(address)


async def _sending_domain_ready(workspace_id: int, domain: str) -> bool:
    row = await SendingDomain.select(SendingDomain.dns_status, SendingDomain.checked_at).where(
        owned_by(SendingDomain, workspace_id), SendingDomain.domain == domain).output(load_json=True).first()
    status = (row or {}).get("dns_status") or {}
    if isinstance(status, str):
        status = json.loads(status)
    return bool(row and row["checked_at"] is not None and status.get("SPF") and status.get("DKIM"))


async def _default_sender(workspace_id: int) -> str:
    cached = _DEFAULT_SENDERS.get(workspace_id)
    if cached is None or cached[0] < time.monotonic():
        cached = _DEFAULT_SENDERS[workspace_id] = (time.monotonic() + SENDER_CACHE_SECONDS,
                                                   await default_from_address(workspace_id))
    return cached[1]


async def checked_sender(workspace_id: int, raw: str) -> str:
    """The From address: the workspace's default sender when none is given, else one it may send from."""
    default = await _default_sender(workspace_id)
    if not raw.strip():
        return default
    address = _address(raw, "from")
    if address == default.lower():
        return address
    domain = address.rpartition("@")[2]
    key = (workspace_id, domain)
    cached = _SENDERS.get(key)
    if cached is None or cached[0] < time.monotonic():
        cached = _SENDERS[key] = (time.monotonic() + SENDER_CACHE_SECONDS,
                                  await _sending_domain_ready(workspace_id, domain))
    if not cached[1]:
        problem = await from_domain_problem(workspace_id, address) or f"{domain} is not a verified sending domain."
        raise FormError({"from": f"{problem} Or leave from out to use the default sender ({default})."})
    return address


def checked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers the message may carry: the renderer's own rule (no reserved or malformed names), and none
    that would ask recipients for receipts or pose as our own."""
    if not headers:  # most messages: nothing to check
        return {}
    cleaned = {str(name).strip(): str(value) for name, value in headers.items()}
    refused = [name for name in cleaned if name.lower() in REFUSED_HEADERS or name.lower().startswith("x-ignite-")]
    if not refused:
        try:
            MessageSkeleton(from_email="check@ignite.invalid", custom_headers=cleaned)
        except ValueError as exc:
            refused = [str(exc)]
    if refused:
        raise FormError({"headers": f"This header may not be set: {refused[0]}."})
    return cleaned


def decoded_attachments(given: Sequence[AttachmentInput]) -> list[Attachment]:
    attachments = []
    total = 0
    for position, item in enumerate(given):
        name = item.filename.strip().replace("\r", " ").replace("\n", " ").replace('"', "'")
        if not name:
            raise FormError({f"attachments[{position}].filename": "Give the attachment a file name."})
        try:
            body = base64.b64decode(item.content, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise FormError({f"attachments[{position}].content": "Send the content base64-encoded."}) from exc
        total += len(body)
        if total > MAX_ATTACHMENT_BYTES:
            raise MessageRefused("attachments_too_large",
                                 f"Attachments may total {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB at most.",
                                 "attachments")
        kind = item.content_type.strip() or "application/octet-stream"
        if "/" not in kind or any(char in kind for char in "\r\n;\""):
            raise FormError({f"attachments[{position}].content_type": "Give a media type such as application/pdf."})
        attachments.append(Attachment(name[:255], kind[:255], body))
    return attachments


@lru_cache(maxsize=256)
def _sanitized(source: str) -> str:
    return sanitize_html(source).html


# Callers send the same raw content again and again with other data: each version is checked once per process.
@lru_cache(maxsize=256)
def _compile_problem(subject: str, html: str, text: str | None) -> dict[str, str]:
    try:
        CompiledMessage(CampaignContent(0, subject, html, text), preview_settings())
    except TemplateError as exc:
        return {"text" if exc.part == "text" else exc.part if exc.part == "subject" else "html": problem_text(exc)}
    return {}


def _raw_parts(given: ContentInput) -> tuple[str, str, str | None]:
    """Subject, sanitised HTML and text of raw content; FormError names every missing or unusable part."""
    subject = given.subject.strip()
    text = given.text if given.text and given.text.strip() else None
    errors: dict[str, str] = {}
    if not subject:
        errors["subject"] = "Give the message a subject (or send a template_id)."
    elif len(subject) > MAX_SUBJECT:
        errors["subject"] = f"Keep the subject under {MAX_SUBJECT} characters."
    source = given.html if given.html.strip() else f"<pre>{_escaped(text)}</pre>" if text else ""
    html = _sanitized(source) if source else ""
    if not html.strip():
        errors["html"] = "Give the message HTML, text or both (or send a template_id)."
    if errors:
        raise FormError(errors)
    return subject, html, text


def _escaped(text: str) -> str:
    """Text shown as the HTML part of a text-only message: escaped, merge tags kept."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def checked_content(workspace_id: int, given: ContentInput) -> CheckedContent:
    """Everything a call gives, checked; FormError (422) or MessageRefused. A template's own parts are read by
    the statement that stores the message (`transactional.accept`), which also finds one not the workspace's."""
    if given.template_id is not None:
        subject, html, text = given.subject.strip(), "", None
    else:
        subject, html, text = _raw_parts(given)
        problems = await off_loop(lambda: _compile_problem(subject, html, text), "html")
        if problems:
            raise FormError(dict(problems))
    return CheckedContent(
        template_id=given.template_id, subject=subject, preheader="", html=html, text=text,
        from_email=await checked_sender(workspace_id, given.from_email), from_name=given.from_name.strip()[:120],
        reply_to=_address(given.reply_to, "reply_to") if given.reply_to.strip() else "",
        headers=checked_headers(given.headers), attachments=decoded_attachments(given.attachments))


def content_values(content: CheckedContent) -> tuple[Any, ...]:
    """The content's columns in the order the `transactional.accept` statement takes them ($3 to $12)."""
    return (content.template_id, content.subject, content.preheader, content.html, content.text,
            content.from_email, content.from_name, content.reply_to, json.dumps(content.headers),
            sum(len(item.body) for item in content.attachments))


def content_fingerprint(content: CheckedContent) -> bytes | None:
    """What the caller's parts of a content hash to (the `transactional.accept` statement adds a template's
    version): equal for equal contents, so they share one stored row. None with attachments: never shared."""
    if content.attachments:
        return None
    return hashlib.sha256(msgspec.json.encode([
        content.template_id, content.subject, content.preheader, content.html, content.text, content.from_email,
        content.from_name, content.reply_to, content.headers])).digest()


async def store_attachments(workspace_id: int, content_id: int, attachments: Sequence[Attachment]) -> None:
    """Joins the caller's transaction, the one that stored the content."""
    if attachments:
        await TransactionalAttachment.insert(*(TransactionalAttachment(
            workspace_id=workspace_id, content_id=content_id, filename=item.filename,
            content_type=item.content_type, body=item.body) for item in attachments))


def stored_headers(row: Mapping[str, Any]) -> dict[str, str]:
    headers = row["headers"]
    return json.loads(headers) if isinstance(headers, str) else dict(headers or {})
