"""Parse a raw bounce, complaint or auto-reply email into a `Report` with one classified outcome per recipient.

Formats, in the order they are recognised: ARF feedback reports (RFC 5965), auto-replies (RFC 3834
and vacation subjects), delivery status notifications (RFC 3464, fields per recipient), and the
free-text bounces of MTAs that send no DSN (Exim, qmail, old Sendmail, Yahoo, Gmail ...), read by
finding the recipient lines in the text above the copy of the original message.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from email.header import decode_header, make_header
from email.message import Message

from app.services.bounces.classifier import Evidence, classify
from app.services.bounces.default_rules import MTA_READERS, MtaReader
from app.services.bounces.model import Outcome, Report, Rule
from app.services.bounces.provider_reports import ses_report

ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.ASCII)
FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$")
DSN_RECIPIENT_FIELDS = ("final-recipient", "original-recipient", "x-actual-recipient")
# Lines that introduce the copy of the original message in free-text bounces.
ORIGINAL_MARKERS = re.compile(
    r"^\s*(?:-+\s*)?(?:"
    r"this is a copy of the message|below this line is a copy of the message|original message"
    r"|original message follows|unsent message below"
    r"|message text follows|header of the original message|the headers of your message"
    r"|returned mail|received: from"
    r")",
    re.IGNORECASE | re.MULTILINE,
)
AUTO_REPLY_SUBJECT = re.compile(
    r"out of (?:the )?office|auto(?:matic)?[ -]?(?:reply|response|antwort)|vacation|abwesenheit"
    r"|r[ée]ponse automatique|absence|respuesta autom[áa]tica|risposta automatica|fuori sede"
    r"|automatisch antwoord|afwezig|autosvar|frånvaro|poza biurem|odpowied[źz] automatyczna"
    r"|自動応答|不在|自动回复|자동 응답|ausencia|f[ée]ri[ée]s|congés",
    re.IGNORECASE,
)

BOUNCE_SENDER = re.compile(r"\b(?:mailer-daemon|postmaster|root|mail delivery)\b", re.IGNORECASE)
BOUNCE_SUBJECT = re.compile(
    r"mail failure|undeliver|delivery (?:status|failure|notification)|returned mail|failure notice"
    r"|non remis|unzustellbar|nicht zustellbar|could not be delivered|delivery has failed",
    re.IGNORECASE,
)


def parse_report(raw: bytes, rules: Sequence[Rule] = ()) -> Report:
    """A report with one outcome per recipient, classified with the workspace rules first."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    parts = Parts.of(message)
    subject = header_text(message, "Subject")
    envelope_to = envelope_recipient(message)
    original = parts.original_headers
    common = {
        "subject": subject,
        "envelope_to": envelope_to,
        "original_message_id": original.get("message-id", "").strip(),
        "original_headers": original,
    }
    if not parts.feedback and "x-hmxmroriginalrecipient" in original:
        # Microsoft's JMRP complaints are a forwarded copy with the complaining address in a header.
        parts.feedback = {"feedback-type": ["abuse"], "original-rcpt-to": [original["x-hmxmroriginalrecipient"]]}
    notification = ses_notification(parts.text)
    if notification is not None:
        # SES mails its JSON notifications when a topic's subscriber is an email address.
        provider = ses_report(notification)
        return replace(provider, subject=subject, envelope_to=envelope_to, original_headers=original,
                       original_message_id=provider.original_message_id or common["original_message_id"])
    if parts.feedback:
        evidence = feedback_evidence(parts.feedback, original)
        return Report(kind="arf", outcomes=classified(evidence, rules), **common)
    mta = mta_of(message, parts.text)
    reader = MTA_READERS.get(mta)
    evidence = dsn_evidence(parts, original) if reader is None or reader.reads_dsn else []
    if evidence:
        return Report(kind="dsn", outcomes=classified(evidence, rules, mta), **common)
    if is_auto_reply(message, subject):
        sender = first_address(header_text(message, "From")) or first_address(header_text(message, "Return-Path"))
        evidence = [Evidence(recipient=sender, reason="vacation", diagnostic=parts.text[:500])]
        return Report(kind="autoreply", outcomes=classified(evidence, rules), **common)
    evidence = free_text_evidence(parts, original, failed_recipients(message), reader)
    if evidence and reader is not None:
        evidence = [replace(item, reason=item.reason or header_reason(message, reader)) for item in evidence]
    if evidence:
        return Report(kind="nonstandard", outcomes=classified(evidence, rules, mta), **common)
    return Report(kind="unknown", outcomes=(), **common)


def ses_notification(text: str) -> dict[str, object] | None:
    """An Amazon SES notification sent as the body of an email (bare or inside an SNS envelope)."""
    # Sendmail breaks lines longer than 990 characters with "!", a newline and a space.
    body = re.sub(r"!\r?\n ", "", text.strip())
    if not body.startswith("{") or ('"notificationType"' not in body and '"Message"' not in body):
        return None
    try:
        event, _ = json.JSONDecoder().raw_decode(body)  # SNS appends an unsubscribe footer
        if isinstance(event, dict) and isinstance(event.get("Message"), str):
            event = json.loads(event["Message"])
    except ValueError:
        return None
    if isinstance(event, dict) and (event.get("notificationType") or event.get("eventType")):
        return event
    return None


def classified(evidence: Sequence[Evidence], rules: Sequence[Rule], mta: str = "") -> tuple[Outcome, ...]:
    return tuple(classify(replace(item, mta=mta) if mta else item, rules) for item in evidence)


EXIM_SUBJECT_WORDS = ("Delivery", "Status", "Notification", "Mail", "delivery", "failed", "failure",
                      "Message", "frozen", "Warning:", "message", "error(s)", "forwarding", "filtering")


def mta_of(message: Message, text: str) -> str:
    """The MTA that wrote a report, when its headers or text show it (a key of default_rules.MTA_READERS)."""
    message_id = message.get("Message-ID", "") or ""
    if ".mail.ru" in header_text(message, "From"):
        return ""  # Mail.ru runs Exim but words its bounces its own way.
    exim_signs = (
        header_text(message, "From").startswith("Mail Delivery System"),
        message_id.startswith("<") and message_id.find("-") == 8 and message_id.find("@") == 18,
        any(word in header_text(message, "Subject") for word in EXIM_SUBJECT_WORDS),
    )
    if sum(exim_signs) >= 2:
        return "exim"
    for name, reader in MTA_READERS.items():
        if any(has_sign(message, text, header, words) for header, words in reader.signs):
            return name
    return ""


def has_sign(message: Message, text: str, header: str, words: str) -> bool:
    """Whether a header (or the report's text, "body") contains the words; empty words: is there at all."""
    if header == "body":
        return words in text.lower()
    if not words:
        return message.get(header) is not None
    return any(words in str(value).lower() for value in message.get_all(header, []))


class Parts:
    """The pieces of a report message that parsing needs, found in one walk over its MIME tree."""

    def __init__(self) -> None:
        self.delivery_status: list[str] = []
        self.feedback: dict[str, list[str]] = {}
        self.original_headers: dict[str, str] = {}
        self.text = ""

    @classmethod
    def of(cls, message: Message) -> Parts:
        parts = cls()
        texts: list[str] = []
        for part in report_parts(message):
            kind = part.get_content_type()
            if kind in ("message/delivery-status", "message/global-delivery-status"):
                parts.delivery_status.append(raw_part_text(part))
            elif kind == "message/feedback-report":
                parts.feedback = fields_of(raw_part_text(part))
            elif kind in ("message/rfc822", "message/global") and not parts.original_headers:
                inner = part.get_payload()
                if isinstance(inner, list) and inner:
                    parts.original_headers = {k.lower(): str(v) for k, v in inner[0].items()}
            elif kind == "text/rfc822-headers" and not parts.original_headers:
                headers = email.message_from_string(decoded_text(part), policy=email.policy.compat32)
                parts.original_headers = {k.lower(): str(v) for k, v in headers.items()}
            elif kind.startswith("text/") and not part.is_multipart():
                if part.get_content_disposition() != "attachment" or not texts:
                    texts.append(decoded_text(part) if kind == "text/plain" else html_text(decoded_text(part)))
            elif kind.startswith("multipart/") and not part.is_multipart():
                # A multipart body without its boundary lines (old PMDF) is read as plain text.
                texts.append(decoded_text(part))
        parts.text = "\n".join(texts)
        if not parts.original_headers:
            parts.original_headers = headers_after_marker(parts.text)
        return parts


def report_parts(message: Message) -> Iterator[Message]:
    """The parts of a report; of an attached original only its top, its body not being the report's text.

    An attached report (a bounce forwarded by a relay that wraps it) is read whole.
    """
    yield message
    payload = message.get_payload()
    if message.get_content_type() in ("message/rfc822", "message/global"):
        inner = payload[0] if isinstance(payload, list) and payload else None
        if inner is not None and inner.get_content_type() == "multipart/report":
            yield from report_parts(inner)
        return
    if message.is_multipart() and isinstance(payload, list):
        for part in payload:
            yield from report_parts(part)


def raw_part_text(part: Message) -> str:
    """The text of a structured part, however the stdlib parsed it (as sub-messages or as a string)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return "\n\n".join(block.as_string() for block in payload)
    return decoded_text(part)


def decoded_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload() or "")
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def html_text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", re.sub(r"(?is)<(style|script)[^>]*>.*?</\1>", " ", html))


def header_text(message: Message, name: str) -> str:
    value = message.get(name)
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except (UnicodeError, LookupError, ValueError):
        return str(value)


def first_address(text: str) -> str:
    match = ADDRESS.search(text or "")
    return match.group(0).lower() if match else ""


def envelope_recipient(message: Message) -> str:
    for name in ("Delivered-To", "X-Original-To", "Envelope-To", "To"):
        address = first_address(header_text(message, name))
        if address:
            return address
    return ""


def fields_of(text: str) -> dict[str, list[str]]:
    """Header-style fields of a block, continuation lines joined, every value of a repeated field kept."""
    fields: dict[str, list[str]] = {}
    last = ""
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and last:
            fields[last][-1] += " " + line.strip()
            continue
        match = FIELD.match(line)
        if match:
            last = match.group(1).lower()
            fields.setdefault(last, []).append(match.group(2).strip())
        else:
            last = ""
    return fields


def dsn_blocks(text: str) -> list[dict[str, list[str]]]:
    """The per-recipient field blocks of a delivery-status body (blocks separated by blank lines)."""
    blocks = [fields_of(block) for block in re.split(r"\r?\n[ \t]*\r?\n", text)]
    return [block for block in blocks if any(name in block for name in DSN_RECIPIENT_FIELDS)]


def typed_value(value: str) -> tuple[str, str]:
    """("rfc822", "a@b") from "rfc822; a@b"; untyped values keep an empty type."""
    kind, sep, rest = value.partition(";")
    return (kind.strip(), rest.strip()) if sep else ("", value.strip())


def dsn_evidence(parts: Parts, original: dict[str, str]) -> list[Evidence]:
    blocks = [block for text in parts.delivery_status for block in dsn_blocks(text)]
    if not blocks:
        blocks = dsn_blocks(parts.text) if re.search(r"(?im)^final-recipient\s*:", parts.text) else []
    evidence = []
    for block in blocks:
        recipient = ""
        for name in DSN_RECIPIENT_FIELDS:
            if name in block:
                recipient = first_address(typed_value(block[name][0])[1])
                if recipient:
                    break
        if not recipient:
            continue
        diagnostic_type, diagnostic = typed_value(block.get("diagnostic-code", [""])[0])
        if not diagnostic:
            diagnostic = text_about(recipient, parts.text)
        evidence.append(
            Evidence(
                recipient=recipient,
                status=clean_status(block.get("status", [""])[0]),
                diagnostic=diagnostic,
                diagnostic_type=diagnostic_type.upper(),
                action=block.get("action", [""])[0].split()[0].lower() if block.get("action", [""])[0] else "",
                remote_mta=typed_value(block.get("remote-mta", [""])[0])[1],
                command=command_in(diagnostic) or command_in(text_about(recipient, parts.text)),
            )
        )
    return evidence


def clean_status(value: str) -> str:
    match = re.search(r"\b([245]\.\d{1,3}\.\d{1,3})\b", value)
    return match.group(1) if match else ""


def command_in(text: str) -> str:
    """The SMTP command a failure answered, as MTAs word it ("after RCPT TO", "in reply to end of DATA")."""
    match = re.search(
        r"(?i)\b(?:after|in reply to|in response to)\s+(?:end of\s+)?(HELO|EHLO|MAIL|RCPT|DATA)\b"
        r"|(?:>>>|smtp command:?) (HELO|EHLO|MAIL|RCPT|DATA)\b|\[(RCPT|MAIL|DATA)_?(?:TO|FROM)?\]", text or "")
    return next(group for group in match.groups() if group).upper() if match else ""


def feedback_evidence(fields: dict[str, list[str]], original: dict[str, str]) -> list[Evidence]:
    recipients = [first_address(v) for v in fields.get("original-rcpt-to", [])]
    recipients = [r for r in recipients if r] or [first_address(original.get("to", ""))]
    feedback_type = fields.get("feedback-type", ["abuse"])[0].strip().lower()
    source_ip = fields.get("source-ip", [""])[0].strip()
    return [
        Evidence(recipient=r, reason="feedback", feedback_type=feedback_type, source_ip=source_ip)
        for r in recipients
    ]


def is_auto_reply(message: Message, subject: str) -> bool:
    """An RFC 3834 auto-reply or a vacation message; never a bounce (those are auto-submitted too)."""
    sender = header_text(message, "From").lower()
    if BOUNCE_SENDER.search(sender) or BOUNCE_SUBJECT.search(subject):
        return False
    submitted = header_text(message, "Auto-Submitted").lower()
    if submitted.startswith("auto-replied"):
        return True
    if message.get("X-Autoreply") or message.get("X-Autorespond") or message.get("X-Auto-Response-Suppress"):
        return message.get_content_type() != "multipart/report"
    if (message.get("Precedence") or "").lower() in ("auto_reply",):
        return True
    return message.get_content_type() != "multipart/report" and bool(AUTO_REPLY_SUBJECT.search(subject))


def error_section(text: str) -> str:
    """The free text above the copy of the original message."""
    match = ORIGINAL_MARKERS.search(text)
    return text[: match.start()] if match else text


def headers_after_marker(text: str) -> dict[str, str]:
    match = ORIGINAL_MARKERS.search(text)
    if not match:
        return {}
    rest = text[match.end():].split("\n", 1)[-1].lstrip("\r\n")
    headers = email.message_from_string(rest, policy=email.policy.compat32)
    return {k.lower(): str(v) for k, v in headers.items()}


def text_about(recipient: str, text: str) -> str:
    """The lines of free text that follow a recipient's address, up to the next blank line."""
    section = error_section(text)
    position = section.lower().find(recipient)
    if position < 0:
        return ""
    tail = section[position + len(recipient):]
    paragraph = " ".join(tail.split("\n\n")[0].split())
    if re.search(r"\w", paragraph):
        return paragraph
    # The address stands alone (Sendmail): its error is in the transcript that follows.
    return " ".join(tail.split()) or " ".join(section.split())


def failed_recipients(message: Message) -> list[str]:
    """The addresses of Exim's (and Gmail's) X-Failed-Recipients header."""
    return [a.lower() for a in ADDRESS.findall(header_text(message, "X-Failed-Recipients"))]


def header_reason(message: Message, reader: MtaReader) -> str:
    """The reason a header of the report states outright for the MTA that wrote it ("" when none)."""
    for header, value, reason in reader.reason_of_header:
        if header_text(message, header).strip().lower() == value:
            return reason
    return ""


def free_text_evidence(parts: Parts, original: dict[str, str], failed: list[str],
                       reader: MtaReader | None = None) -> list[Evidence]:
    """Recipients of a bounce without a DSN, read the way the MTA that wrote it (if known) words them."""
    section = error_section(parts.text)
    transcript = transcript_evidence(section)
    if transcript:
        return transcript
    recipients = recipient_lines(section, reader is not None and reader.reason_before_address)
    if reader is not None and reader.reads_whole_text:
        recipients = [(address, " ".join(section.split())) for address, _ in recipients]
    if failed and sorted({a for a, _ in recipients}) != sorted(set(failed)):
        recipients = [(address, text_about(address, parts.text) or " ".join(section.split())) for address in failed]
    if recipients and all(address.endswith("@googlegroups.com") for address, _ in recipients):
        # Google Groups refuses a post from someone who may not post: the sender's problem, not the address.
        return [Evidence(recipient=address, diagnostic=text, reason="rejected") for address, text in recipients]
    if not recipients:
        address = first_address(section) or first_address(original.get("to", ""))
        recipients = [(address, " ".join(section.split()))] if address else []
    return [
        Evidence(recipient=address, diagnostic=diagnostic,
                 command=command_in(diagnostic))
        for address, diagnostic in recipients
    ]


def quoted_rcpt(address: str, diagnostic: str) -> str:
    """RCPT when the error quotes the recipient in angle brackets, as an answer to RCPT TO does."""
    return "RCPT" if f"<{address}>" in diagnostic.lower() else ""


SENDMAIL_RECIPIENT = re.compile(r"^[45]\d\d <(" + ADDRESS.pattern + r")>\.\.\. ?(.*)$")


def transcript_evidence(section: str) -> list[Evidence]:
    """Recipients of an old Sendmail session transcript ("550 <a@b>... User unknown").

    A server's answer ("<<< 550 ...") and the command it answered (">>> RCPT To:...") belong to the
    recipient line that follows them.
    """
    evidence: list[Evidence] = []
    answer = command = ""
    for line in section.splitlines():
        line = line.strip()
        if line.startswith(">>> "):
            command = command_in(line)
        elif line.startswith("<<< "):
            answer = line[4:]
        elif match := SENDMAIL_RECIPIENT.match(line):
            diagnostic = f"{match.group(2)}: {answer}" if answer else match.group(2)
            evidence.append(Evidence(recipient=match.group(1).lower(), diagnostic=diagnostic,
                                     command=command or command_in(diagnostic)))
            answer = command = ""
    return evidence


RECIPIENT_LINE = re.compile(r"[<\"]?(" + ADDRESS.pattern + r")[>\"]?(?::?\s+(\S.*))?")


def recipient_lines(section: str, reason_first: bool = False) -> list[tuple[str, str]]:
    """(address, its error text) for each line that names a failed recipient on its own.

    A line may also be "address: error" (OpenSMTPD) or "address error" (Zoho). The error text is what follows the line
    up to the next recipient, or with `reason_first` the lines above it since the previous one.
    """
    lines = section.splitlines()
    found: list[tuple[int, str, str]] = []
    for index, line in enumerate(lines):
        match = RECIPIENT_LINE.fullmatch(line.strip().strip(":").strip())
        if match:
            found.append((index, match.group(1).lower(), match.group(2) or ""))
    texts: dict[str, str] = {}
    for position, (index, address, inline) in enumerate(found):
        if reason_first:
            start = found[position - 1][0] + 1 if position else 0
            body = " ".join(" ".join(lines[start:index]).split())
        else:
            end = found[position + 1][0] if position + 1 < len(found) else len(lines)
            following = lines[index + 1 : end]
            if inline:
                # An error on the address's own line goes on to the next blank line at most.
                following = following[: next((n for n, line in enumerate(following) if not line.strip()),
                                             len(following))]
            body = " ".join(" ".join([inline, *following]).split())
        # An address that comes back (a wrapped error quoting it) continues its own text.
        texts[address] = f"{texts[address]} {address} {body}".strip() if address in texts else body
    return list(texts.items())
