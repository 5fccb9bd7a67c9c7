"""Transactional messages sent through the API: accepted in one statement, sent on their own queue, evented."""

from app.services.transactional.accept import (
    MAX_BATCH,
    SIMULATOR_DOMAIN,
    Accepted,
    MessageQueue,
    RecipientInput,
    Submission,
    accept_batch,
    accept_message,
    refused_addresses,
)
from app.services.transactional.content import AttachmentInput, ContentInput, MessageRefused
from app.services.transactional.events import (
    STATUSES,
    MessageFilter,
    NotCancellable,
    cancel_message,
    log_filter,
    message_events,
    message_of,
    messages_page,
)
from app.services.transactional.sending import queue_due, send_messages
from app.services.transactional.stream import stream_campaign_id

__all__ = [
    "MAX_BATCH",
    "SIMULATOR_DOMAIN",
    "STATUSES",
    "Accepted",
    "AttachmentInput",
    "ContentInput",
    "MessageFilter",
    "MessageQueue",
    "MessageRefused",
    "NotCancellable",
    "RecipientInput",
    "Submission",
    "accept_batch",
    "accept_message",
    "cancel_message",
    "log_filter",
    "message_events",
    "message_of",
    "messages_page",
    "queue_due",
    "refused_addresses",
    "send_messages",
    "stream_campaign_id",
]
