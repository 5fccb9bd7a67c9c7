"""The shapes every part of bounce processing agrees on."""

from __future__ import annotations

from dataclasses import dataclass, field

# Spelled as in the labelled corpus (../shared/corpus/bounces/expected.tsv).
HARD, SOFT, BLOCK, COMPLAINT, AUTOREPLY, DELIVERED, UNKNOWN = (
    "hard", "soft", "block", "complaint", "autoreply", "delivered", "unknown")
CATEGORIES = (HARD, SOFT, BLOCK, COMPLAINT, AUTOREPLY, DELIVERED, UNKNOWN)
# Categories that say nothing about the subscriber or the server: stored, never acted on.
IGNORED = frozenset({AUTOREPLY, DELIVERED})


@dataclass(frozen=True)
class Rule:
    """An ordered regular expression over a report's diagnostic text that decides its category."""

    name: str
    pattern: str
    category: str
    # The RFC 3463 status given to a match whose report carries none ("" keeps what the report says).
    status: str = ""


@dataclass(frozen=True)
class Outcome:
    """What one report says about one recipient."""

    recipient: str
    category: str
    status: str = ""
    reply_code: str = ""
    action: str = ""
    diagnostic: str = ""
    remote_mta: str = ""
    # Which detector or rule decided the category, e.g. "dsn-status", "rule:mailbox-full", "workspace-rule:12".
    rule: str = ""
    feedback_type: str = ""
    source_ip: str = ""
    # A provider's id of the message that bounced (webhooks), used to find its delivery.
    provider_message_id: str = ""


@dataclass(frozen=True)
class Report:
    """A parsed bounce, complaint or auto-reply, with what is needed to find the delivery it is about."""

    kind: str  # "dsn", "arf", "autoreply", "nonstandard", "provider", "unknown"
    outcomes: tuple[Outcome, ...]
    subject: str = ""
    # The address the report was sent to: a VERP return path names its delivery.
    envelope_to: str = ""
    # The Message-ID of the message that bounced, from the attached original or its headers.
    original_message_id: str = ""
    original_headers: dict[str, str] = field(default_factory=dict)
    # The delivery a provider's event names through the metadata sent with the message (SES tags,
    # SparkPost metadata, Mailgun variables); trusted only within the webhook's workspace.
    delivery_id: int | None = None


@dataclass(frozen=True)
class FeedbackSettings:
    """A workspace's thresholds; the defaults are the issue's."""

    soft_limit: int = 3
    soft_days: int = 30
    complaint_warn_rate: float = 0.001
    complaint_pause_rate: float = 0.003
    hard_pause_rate: float = 0.05
