"""Decide what a bounce says about one recipient: its category, its status and the rule that decided.

Workspace rules come first (they are what a person taught Ignite), then the built-in rules of
`default_rules`, then the RFC 3463 status code, then what the report's shape implies (a delayed
action is an expiry, a diagnostic nobody recognises is kept as "onhold"). Pure functions: no database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from app.services.bounces.default_rules import (
    CATEGORY_OF_REASON,
    DEFAULT_RULES,
    INFERRED_STATUS,
    MTA_READERS,
    MTA_RULES,
    NO_TEMPORARY_STATUS,
    PHRASES,
    REASON_OF_STATUS,
    RHOST_READERS,
    TEMPORARY_STATUS_OVERRIDES,
    VACATION_RULE,
    RhostReader,
    pattern_of,
)
from app.services.bounces.model import BLOCK, UNKNOWN, Outcome, Rule

# Reasons a report's parser may state but that a closer look at the text can correct.
RETRIED_REASONS = frozenset(
    {"", "undefined", "onhold", "systemerror", "securityerror", "expired", "suspend", "networkerror",
     "hostunknown", "userunknown"}
)
IPV4 = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")
STATUS_IN_TEXT = re.compile(r"(?<![\d.vV])([245])\.([0-7])\.(\d{1,3})(?![\d])")
REPLY_IN_TEXT = re.compile(r"(?<![\d.])([245][0-5][0-9])(?=[ \-])")
NOT_REJECTED = re.compile(pattern_of(PHRASES.get("rejected-not", ())) or r"(?!)")


@dataclass(frozen=True)
class Evidence:
    """What a report says about one recipient, before anything is decided."""

    recipient: str
    status: str = ""
    reply_code: str = ""
    diagnostic: str = ""
    diagnostic_type: str = ""
    action: str = ""
    # The SMTP command the failure answered (MAIL, RCPT, DATA, HELO ...), when the report says.
    command: str = ""
    # A reason the report's format states outright (e.g. "expired", "vacation", "feedback").
    reason: str = ""
    remote_mta: str = ""
    feedback_type: str = ""
    source_ip: str = ""
    # The MTA that wrote the report, when recognised (a key of default_rules.MTA_READERS).
    mta: str = ""


@lru_cache(maxsize=256)
def compiled(pattern: str) -> re.Pattern[str] | None:
    """A rule's pattern compiled once, or None when it is not a valid regular expression."""
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error:
        return None


def status_in(text: str, first: str = "") -> str:
    """The most specific enhanced status code written in an error message ("" when none).

    IPv4 addresses are not statuses; an X.0.0 code or 4.4.7 is kept only if nothing better is there.
    """
    if not text:
        return ""
    text = IPV4.sub(" ", text)
    fallback = ""
    for match in STATUS_IN_TEXT.finditer(text):
        code = ".".join(match.groups())
        if first and code[0] != first:
            continue
        if ".0.0" in code or code == "4.4.7":
            fallback = fallback or code
            continue
        return code
    return fallback


def reply_in(text: str, first: str = "") -> str:
    """The SMTP reply code an error message quotes ("" when none)."""
    for match in REPLY_IN_TEXT.finditer(IPV4.sub(" ", text or "")):
        if not first or match.group(1)[0] == first:
            return match.group(1)
    return ""


def preferred_status(field: str, in_text: str, reply: str) -> str:
    """Choose between a report's Status field and the code in its diagnostic text.

    The more specific code wins; a generic X.0.0, the ambiguous 4.4.7 and system errors (5.3.x) in the
    field yield to the text, and a reply code of the other class settles a disagreement.
    """
    if not field:
        return in_text
    if not in_text or field == in_text:
        return field
    if reply and field[0] != in_text[0]:
        if reply[0] == field[0]:
            return field
        if reply[0] == in_text[0]:
            return in_text
    if ".0.0" in field:
        return field if ".0.0" in in_text else in_text
    if ".0" in field and ".0" not in in_text:
        return in_text
    if ".0.0" in in_text:
        return field
    if field == "4.4.7" or field.startswith("5.3."):
        return in_text
    if field == "5.1.1":
        return field if ".0" in in_text else in_text
    if field == "5.1.3" and in_text.startswith("5.7."):
        return in_text
    return field


def rule_matching(text: str, rules: Sequence[Rule]) -> Rule | None:
    """The first rule whose pattern is found in the text."""
    for rule in rules:
        pattern = compiled(rule.pattern)
        if pattern is not None and pattern.search(text):
            return rule
    return None


def reason_by_status(status: str) -> str:
    return REASON_OF_STATUS.get(status, "")


REMOTE_HOST_IN_TEXT = re.compile(r"\bhost:?\s+([\w.-]+\.[a-z]{2,})", re.IGNORECASE)


def rhost_reader(evidence: Evidence) -> RhostReader | None:
    """The reader of the provider that refused the message, known by its MX host or the recipient's domain."""
    found = REMOTE_HOST_IN_TEXT.search(evidence.diagnostic)
    hosts = [evidence.remote_mta.lower().strip("[]. "), found.group(1).lower() if found else ""]
    domain = evidence.recipient.rpartition("@")[2]
    for reader in RHOST_READERS:
        if any(host and host.endswith(reader.hosts) for host in hosts):
            return reader
        if domain and any(suffix.endswith(domain) for suffix in reader.hosts):
            return reader
    return None


def rhost_reason(evidence: Evidence, status: str, lowered: str) -> str:
    """The reason the refusing provider's own error code or wording gives ("" when it says nothing known)."""
    reader = rhost_reader(evidence)
    if reader is None:
        return ""
    code = re.search(reader.code, evidence.diagnostic, re.IGNORECASE) if reader.code else None
    if code:
        return reader.reason_of_code.get(code.group(code.lastindex or 0).upper(), reader.code_default)
    for reason, phrases in reader.phrases:
        if any(phrase in lowered for phrase in phrases):
            return reason
    return reader.reason_of_command.get(evidence.command, "") if status.endswith(".0.0") else ""


def default_reason(evidence: Evidence, status: str, text: str) -> tuple[str, str]:
    """The built-in reason for a recipient and the detector that found it."""
    if evidence.reason and evidence.reason not in RETRIED_REASONS:
        return evidence.reason, "format"
    if status.startswith("2."):
        return "delivered", "dsn-status"
    by_host = rhost_reason(evidence, status, text)
    if by_host:
        return by_host, f"rhost:{by_host}"
    by_status = reason_by_status(status)
    rule = rule_matching(text, DEFAULT_RULES)
    if rule is not None and rule.name == "userunknown" and not user_unknown_is_sure(evidence, by_status, rule):
        # "User unknown" neither backed by a 5.1.x status nor said in answer to RCPT: the receiving
        # side's filter may have said it after reading the message, so the address may well exist.
        return "filtered", "rule:filtered"
    if rule is not None and not (rule.name == "rejected" and NOT_REJECTED.search(text)):
        if by_status and by_status not in RETRIED_REASONS and by_status != "securityerror":
            return by_status, "dsn-status"
        if evidence.command == "MAIL" and CATEGORY_OF_REASON.get(rule.name) != BLOCK:
            # Refused at MAIL FROM, before any recipient was named: the sender's problem.
            return "rejected", "smtp-command"
        return rule.name, f"rule:{rule.name}"
    if by_status:
        return by_status, "dsn-status"
    if evidence.reason:
        return evidence.reason, "format"
    if status[:3] in ("5.6", "4.6"):
        return "contenterror", "dsn-status"
    if status[:3] in ("5.7", "4.7"):
        return "securityerror", "dsn-status"
    if evidence.diagnostic_type.upper().startswith("X-UNIX"):
        return "mailererror", "diagnostic-type"
    if evidence.action.startswith(("delayed", "expired")):
        return "expired", "dsn-action"
    if evidence.command in ("HELO", "EHLO"):
        return "blocked", "smtp-command"
    if rule_matching(text, (VACATION_RULE,)):
        return "vacation", "rule:vacation"
    return ("onhold" if text.strip() else "undefined"), "fallback"


def user_unknown_is_sure(evidence: Evidence, by_status: str, rule: Rule) -> bool:
    """Whether "user unknown" wording means the address does not exist (the reference parser's test).

    Sure when a 5.1.x status backs it, when it answered RCPT, or when it is an MTA's own wording.
    """
    if by_status == "userunknown" or evidence.command == "RCPT":
        return True
    return rule in MTA_RULES and evidence.command != "DATA"


def is_temporary(status: str, reply_code: str, text: str) -> bool:
    """Whether a failure without a status is temporary: a 4xx code, or words saying so."""
    code = status or status_in(text) or reply_code or reply_in(text)
    lowered = text.lower()
    return code.startswith("4") or " temporar" in lowered or " persistent" in lowered


def inferred_status(reason: str, temporary: bool) -> str:
    status = INFERRED_STATUS.get(reason, "")
    if not status or not temporary or reason in NO_TEMPORARY_STATUS:
        return status
    return TEMPORARY_STATUS_OVERRIDES.get(reason, "4" + status[1:])


def mta_reason(evidence: Evidence, lowered: str) -> str:
    """The reason the report's MTA states through the command that failed or its own wording ("" if none)."""
    reader = MTA_READERS.get(evidence.mta)
    if reader is None or evidence.reason:
        return evidence.reason
    if evidence.command in reader.reason_of_command:
        return reader.reason_of_command[evidence.command]
    code = re.search(reader.code, lowered) if reader.code else None
    if code and code.group(code.lastindex or 0) in reader.reason_of_code:
        return reader.reason_of_code[code.group(code.lastindex or 0)]
    for reason, phrases in reader.phrases:
        if any(phrase in lowered for phrase in phrases):
            return reason
    return "expired" if any(phrase in lowered for phrase in reader.delayed) else ""


def mta_status(evidence: Evidence, reason: str, reply: str, text: str) -> str:
    """The status the report's MTA implies for the reason it states, temporary when the report says so."""
    reader = MTA_READERS.get(evidence.mta)
    if reader is None or not reason:
        return ""
    return inferred_status(reason, is_temporary("", reply, text) or reason in reader.temporary_reasons)


def with_quoted_rcpt(evidence: Evidence, lowered: str) -> Evidence:
    """RCPT as the failed command when the MTA quotes the recipient only in answer to RCPT TO."""
    reader = MTA_READERS.get(evidence.mta)
    if reader is None or not reader.quoted_recipient_is_rcpt or evidence.command:
        return evidence
    return replace(evidence, command="RCPT") if f"<{evidence.recipient}>" in lowered else evidence


def classify(evidence: Evidence, rules: Sequence[Rule] = ()) -> Outcome:
    """The category, status and deciding rule for one recipient of a report."""
    text = " ".join(evidence.diagnostic.split())
    lowered = text.lower()
    in_text = status_in(text)
    reply = evidence.reply_code or reply_in(text, in_text[:1])
    evidence = with_quoted_rcpt(evidence, lowered)
    stated = mta_reason(evidence, lowered)
    status = preferred_status(evidence.status, in_text, reply) or mta_status(evidence, stated, reply, text)
    evidence = replace(evidence, reason=stated)
    workspace_rule = rule_matching(text, rules)
    if workspace_rule is not None:
        category, decided_by = workspace_rule.category, f"workspace-rule:{workspace_rule.name}"
        status = status or workspace_rule.status
    else:
        reason, decided_by = default_reason(evidence, status, lowered)
        category = CATEGORY_OF_REASON.get(reason, UNKNOWN) if reason != "feedback" else "complaint"
        if decided_by == "fallback" and not status:
            # Nothing recognised and no status code: a person decides (the bounce log's Reclassify).
            category = UNKNOWN
        if not status and reason not in ("feedback", "vacation"):
            status = inferred_status(reason, is_temporary(status, reply, text))
        if decided_by.startswith("rule:") or decided_by == "format":
            decided_by = f"{decided_by.split(':')[0]}:{reason}"
    return Outcome(
        recipient=evidence.recipient,
        category=category,
        status=status,
        reply_code=reply if category not in ("complaint", "autoreply") else "",
        action=evidence.action,
        diagnostic=text,
        remote_mta=evidence.remote_mta,
        rule=decided_by,
        feedback_type=evidence.feedback_type,
        source_ip=evidence.source_ip,
    )


def classify_reply(code: int | None, response: str, rules: Sequence[Rule] = ()) -> Outcome:
    """Classify a synchronous SMTP answer of the send path (the recipient is filled in by the caller)."""
    reply = str(code) if code else reply_in(response)
    return classify(Evidence(recipient="", reply_code=reply, diagnostic=response, action="failed"), rules)
