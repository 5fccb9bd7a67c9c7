"""Provider events (Amazon SES, SparkPost, Mailgun) read as `Report`s of kind "provider".

A webhook stores one event per report, as the provider sent it: for SES the notification that SNS
carried in its `Message`, for SparkPost one element of the posted array, for Mailgun the posted
`event-data`. Each provider has already classified what happened (SES's bounce type and subtype,
SparkPost's bounce class, Mailgun's severity and reason); those are mapped to Ignite's categories here,
and the provider's own message id and the delivery id we sent as metadata come along for matching.
`provider_report(format, raw)` is what processing calls for a report whose format is not "email".
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.esp.delivery_tags import DELIVERY_TAG
from app.services.bounces.model import AUTOREPLY, BLOCK, COMPLAINT, DELIVERED, HARD, SOFT, UNKNOWN, Outcome, Report

PROVIDERS = ("ses", "sparkpost", "mailgun")
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_REPLY = re.compile(r"^\s*([245]\d\d)\b")

# SES bounce (type, subtype) → category; a subtype not listed falls back to the type's.
_SES_BOUNCES = {
    ("Permanent", ""): HARD,
    ("Transient", ""): SOFT,
    ("Undetermined", ""): UNKNOWN,
    ("Transient", "ContentRejected"): BLOCK,
    ("Transient", "AttachmentRejected"): BLOCK,
}
# SparkPost's bounce classes (its "Bounce Classification Codes"); any other class is unknown.
_SPARKPOST_CLASSES = {
    10: HARD, 25: HARD, 30: HARD,
    20: SOFT, 21: SOFT, 22: SOFT, 23: SOFT, 24: SOFT, 40: SOFT, 70: SOFT,
    50: BLOCK, 51: BLOCK, 52: BLOCK, 53: BLOCK, 54: BLOCK,
    60: AUTOREPLY, 100: AUTOREPLY,
}
SPARKPOST_EVENTS = frozenset({"bounce", "out_of_band", "spam_complaint", "delivery", "policy_rejection"})
MAILGUN_EVENTS = frozenset({"failed", "complained", "delivered"})


def _status(diagnostic: str, reply: str, category: str) -> str:
    """The RFC 3463 status in the provider's text, else the class its reply code or category implies."""
    found = _STATUS.search(diagnostic)
    if found:
        return found.group(1)
    if reply[:1] in ("4", "5"):
        return f"{reply[0]}.0.0"
    return {HARD: "5.0.0", BLOCK: "5.0.0", SOFT: "4.0.0"}.get(category, "")


def _reply(diagnostic: str, code: object = "") -> str:
    text = str(code or "").strip()
    if re.fullmatch(r"[245]\d\d", text):
        return text
    found = _REPLY.search(diagnostic.removeprefix("smtp;").strip())
    return found.group(1) if found else ""


def _delivery_id(value: object) -> int | None:
    text = str(value[0] if isinstance(value, list) and value else value or "")
    return int(text) if text.isdigit() and len(text) <= 18 else None


def _outcome(recipient: str, category: str, diagnostic: str = "", code: object = "", status: str = "",
             **extra: str) -> Outcome:
    reply = _reply(diagnostic, code)
    return Outcome(recipient=recipient.strip().lower(), category=category,
                   status=status or _status(diagnostic, reply, category), reply_code=reply,
                   diagnostic=diagnostic[:2000], **extra)


def ses_report(event: dict[str, Any]) -> Report:
    """An SES notification (feedback notifications' `notificationType`, event publishing's `eventType`)."""
    kind = event.get("notificationType") or event.get("eventType") or ""
    mail = event.get("mail") or {}
    provider_id = str(mail.get("messageId") or "")
    common = {"rule": f"ses:{kind.lower()}", "provider_message_id": provider_id}
    outcomes: list[Outcome] = []
    if kind == "Bounce":
        bounce = event.get("bounce") or {}
        bounce_type, subtype = bounce.get("bounceType", ""), bounce.get("bounceSubType", "")
        category = _SES_BOUNCES.get((bounce_type, subtype)) or _SES_BOUNCES.get((bounce_type, ""), UNKNOWN)
        common["rule"] = f"ses:{bounce_type}/{subtype}".lower()
        outcomes = [_outcome(r.get("emailAddress", ""), category, r.get("diagnosticCode") or "",
                             status=r.get("status") or "", action=r.get("action") or "",
                             remote_mta=bounce.get("remoteMtaIp") or bounce.get("reportingMTA") or "", **common)
                    for r in bounce.get("bouncedRecipients") or []]
    elif kind == "Complaint":
        complaint = event.get("complaint") or {}
        outcomes = [_outcome(r.get("emailAddress", ""), COMPLAINT,
                             feedback_type=complaint.get("complaintFeedbackType") or "abuse", **common)
                    for r in complaint.get("complainedRecipients") or []]
    elif kind == "Delivery":
        delivery = event.get("delivery") or {}
        outcomes = [_outcome(r, DELIVERED, delivery.get("smtpResponse") or "", remote_mta=delivery.get(
            "reportingMTA") or "", **common) for r in delivery.get("recipients") or []]
    headers = mail.get("commonHeaders") or {}
    return Report(kind="provider", outcomes=tuple(outcomes), subject=str(headers.get("subject") or ""),
                  original_message_id=str(headers.get("messageId") or ""),
                  delivery_id=_delivery_id((mail.get("tags") or {}).get(DELIVERY_TAG)))


def _sparkpost_category(event: dict[str, Any]) -> str:
    kind = event.get("type", "")
    if kind == "spam_complaint":
        return COMPLAINT
    if kind == "delivery":
        return DELIVERED
    bounce_class = int(event["bounce_class"]) if str(event.get("bounce_class", "")).isdigit() else 0
    return _SPARKPOST_CLASSES.get(bounce_class, BLOCK if kind == "policy_rejection" else UNKNOWN)


def sparkpost_report(event: dict[str, Any]) -> Report:
    """One SparkPost message event (the object inside `msys.message_event`)."""
    category = _sparkpost_category(event)
    diagnostic = str(event.get("raw_reason") or event.get("reason") or "")
    rule = f"sparkpost:{event.get('type', '')}" + (f"/{event['bounce_class']}" if event.get("bounce_class") else "")
    outcome = _outcome(str(event.get("rcpt_to") or event.get("raw_rcpt_to") or ""), category, diagnostic,
                       event.get("error_code"), rule=rule, feedback_type=str(event.get("fbtype") or ""),
                       remote_mta=str(event.get("remote_mta") or ""),
                       provider_message_id=str(event.get("transmission_id") or ""))
    return Report(kind="provider", outcomes=(outcome,),
                  delivery_id=_delivery_id((event.get("rcpt_meta") or {}).get(DELIVERY_TAG)))


def _mailgun_category(event: dict[str, Any]) -> str:
    kind, reason = event.get("event", ""), event.get("reason", "")
    if kind == "complained" or reason == "suppress-complaint":
        return COMPLAINT
    if kind == "delivered":
        return DELIVERED
    if reason == "espblock":
        return BLOCK
    return HARD if event.get("severity") == "permanent" else SOFT


def mailgun_report(event: dict[str, Any]) -> Report:
    """One Mailgun event (a webhook's `event-data`)."""
    status = event.get("delivery-status") or {}
    message = event.get("message") or {}
    diagnostic = str(status.get("message") or status.get("description") or "")
    category = _mailgun_category(event)
    outcome = _outcome(str(event.get("recipient") or ""), category, diagnostic, status.get("code"),
                       rule=f"mailgun:{event.get('event', '')}/{event.get('severity') or event.get('reason') or ''}"
                       .rstrip("/"), remote_mta=str(status.get("mx-host") or ""),
                       feedback_type="abuse" if category == COMPLAINT else "",
                       provider_message_id=str((message.get("headers") or {}).get("message-id") or ""))
    return Report(kind="provider", outcomes=(outcome,),
                  delivery_id=_delivery_id((event.get("user-variables") or {}).get(DELIVERY_TAG)))


_READERS = {"ses": ses_report, "sparkpost": sparkpost_report, "mailgun": mailgun_report}


def provider_report(format: str, raw: bytes) -> Report:
    """The report in one stored provider event; an unreadable one is a report with no outcomes."""
    try:
        event = json.loads(raw)
    except ValueError:
        return Report(kind="unknown", outcomes=())
    reader = _READERS.get(format)
    if reader is None or not isinstance(event, dict):
        return Report(kind="unknown", outcomes=())
    return reader(event)
