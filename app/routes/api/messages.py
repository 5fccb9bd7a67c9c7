"""Transactional messages: send one or a batch, read one and its events, cancel a scheduled one, list them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, post
from litestar.params import Parameter
from msgspec import Meta, Struct

from app.routes.api.common import BodyId, Cursor, Limit, id_after, page_limit
from app.services import transactional
from app.services.forms import FormError
from app.services.transactional import (
    MAX_BATCH,
    AttachmentInput,
    ContentInput,
    MessageFilter,
    MessageRefused,
    NotCancellable,
    RecipientInput,
    Submission,
)
from app.tasks.transactional import QUEUE
from app.web.api_auth import FAST, ApiCaller, ApiController, error_responses
from app.web.api_pages import Page, encode_cursor
from app.web.errors import ApiError

SEND = {"scope": "messages:send"}
READ = {"scope": "messages:read"}
Address = Annotated[str, Meta(min_length=1, max_length=320)]
Tags = Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(max_length=10)]
# Base64 makes 10 MB of attachments about 13.4 MB; a batch's recipients and their data need room too.
MAX_BODY_BYTES = 24 * 1024 * 1024
StatusName = Annotated[str, Parameter(description=f"One of: {', '.join(transactional.STATUSES)}.")]


class AttachmentIn(Struct):
    filename: Annotated[str, Meta(min_length=1, max_length=255)]
    content: Annotated[str, Meta(description="The file, base64-encoded; all attachments together at most 10 MB.")]
    content_type: Annotated[str, Meta(max_length=255)] = "application/octet-stream"


class MessageInput(Struct, kw_only=True):
    """One message: a stored template with `data` for its merge tags, or a subject with HTML and/or text."""

    to: Address
    template_id: BodyId | None = None
    data: dict[str, Any] = {}
    subject: Annotated[str, Meta(max_length=998)] = ""
    html: str = ""
    text: str | None = None
    from_: Address | None = msgspec.field(name="from", default=None)
    from_name: Annotated[str, Meta(max_length=120)] = ""
    reply_to: Address | None = None
    headers: dict[str, str] = {}
    tags: Tags = []
    metadata: dict[str, Any] = {}
    attachments: list[AttachmentIn] = []
    scheduled_at: datetime | None = None


class BatchRecipient(Struct):
    to: Address
    data: dict[str, Any] = {}
    metadata: dict[str, Any] = {}


class BatchInput(Struct, kw_only=True):
    """One content to up to 10,000 recipients, each with the data its merge tags take."""

    recipients: Annotated[list[BatchRecipient], Meta(min_length=1, max_length=MAX_BATCH)]
    template_id: BodyId | None = None
    subject: Annotated[str, Meta(max_length=998)] = ""
    html: str = ""
    text: str | None = None
    from_: Address | None = msgspec.field(name="from", default=None)
    from_name: Annotated[str, Meta(max_length=120)] = ""
    reply_to: Address | None = None
    headers: dict[str, str] = {}
    tags: Tags = []
    attachments: list[AttachmentIn] = []
    scheduled_at: datetime | None = None


class MessageAccepted(Struct):
    id: int
    status: str


class RefusalOut(Struct):
    code: str
    message: str


class RecipientResult(Struct, omit_defaults=True):
    """`id` for an accepted recipient; `error` for a refused one (`recipient_suppressed`, `invalid_recipient`)."""

    email: str
    id: int | None = None
    error: RefusalOut | None = None


class BatchAccepted(Struct):
    batch_id: str
    accepted: int
    refused: int
    results: list[RecipientResult]


class MessageOut(Struct):
    id: int
    email: str
    status: str
    subject: str
    from_email: str
    template_id: int | None
    tags: list[str]
    metadata: dict[str, Any]
    batch_id: str | None
    sandbox: bool
    scheduled_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    last_answer: str
    server: str | None
    opens: int
    clicks: int
    first_open_at: datetime | None
    first_click_at: datetime | None


class EventOut(Struct):
    kind: str
    at: datetime
    detail: str


def _content(body: MessageInput | BatchInput) -> ContentInput:
    return ContentInput(
        template_id=body.template_id, subject=body.subject, html=body.html, text=body.text,
        from_email=body.from_ or "", from_name=body.from_name, reply_to=body.reply_to or "", headers=body.headers,
        attachments=[AttachmentInput(item.filename, item.content, item.content_type) for item in body.attachments])


def _submission(caller: ApiCaller, body: MessageInput | BatchInput) -> Submission:
    return Submission(api_key_id=caller.key_id, sandbox=caller.sandbox, tags=body.tags,
                      scheduled_at=body.scheduled_at)


def _message_out(row: dict[str, Any]) -> MessageOut:
    return MessageOut(
        id=row["id"], email=row["email"], status=row["status"], subject=row["subject"], from_email=row["from_email"],
        template_id=row["template_id"], tags=list(row["tags"] or []), metadata=row["metadata"] or {},
        batch_id=row["batch_id"], sandbox=row["sandbox"], scheduled_at=row["scheduled_at"],
        created_at=row["created_at"], sent_at=row["sent_at"], attempts=row["attempts"],
        last_answer=row["last_answer"], server=row["server_name"], opens=row["opens"], clicks=row["clicks"],
        first_open_at=row["first_open_at"], first_click_at=row["first_click_at"])


def _refusal(exc: MessageRefused) -> ApiError:
    return ApiError(422, exc.code, str(exc), {exc.field: str(exc)} if exc.field else None)


async def _sent(caller: ApiCaller, data: MessageInput) -> MessageAccepted:
    try:
        accepted = await transactional.accept_message(
            caller.workspace_id, _content(data), RecipientInput(data.to, data.data, data.metadata),
            _submission(caller, data), QUEUE)
    except MessageRefused as exc:
        raise _refusal(exc) from exc
    return MessageAccepted(id=accepted.id or 0, status="scheduled" if data.scheduled_at and
                           data.scheduled_at > datetime.now(data.scheduled_at.tzinfo) else "queued")


async def send_fast(caller: ApiCaller, body: bytes) -> tuple[int, bytes] | None:
    """`send`'s common case, answered in the API middleware (api_auth.FAST): a JSON body that decodes as it is
    (strictly, so Litestar would take it the same), accepted. None for any other body, and for a refusal (nothing
    was stored), which `send` then answers in its own shape."""
    if len(body) > MAX_BODY_BYTES:
        return None
    try:
        data = msgspec.json.decode(body, type=MessageInput, strict=True)
    except msgspec.MsgspecError:
        return None
    try:
        return 202, msgspec.json.encode(await _sent(caller, data))
    except (ApiError, FormError, LookupError):
        return None


class MessagesApi(ApiController):
    path = "/api/v1/messages"
    tags = ["messages"]

    @post("/", opt={**SEND, FAST: send_fast}, status_code=202, request_max_body_size=MAX_BODY_BYTES,
          operation_id="sendMessage",
          summary="Send a message",
          description="Scope `messages:send`. Accepted at once (202) and sent through the transactional queue, "
                      "which campaign traffic never delays; `scheduled_at` sends it later (up to 30 days). A "
                      "recipient who is blacklisted, on a suppression list, hard-bounced or complained is refused "
                      "with `recipient_suppressed` (one who only unsubscribed from a list still gets transactional "
                      "mail); attachments over 10 MB with `attachments_too_large`. "
                      "A sandbox (test) key stores and events the message as if sent, and sends nothing: "
                      "`bounce@simulator.ignite.test`, `complaint@…` and `defer@…` simulate those outcomes.",
          responses=error_responses(400, 403, 404, 409, 422))
    async def send(self, caller: ApiCaller, data: MessageInput) -> MessageAccepted:
        return await _sent(caller, data)

    @post("/batch", opt=SEND, status_code=202, request_max_body_size=MAX_BODY_BYTES,
          operation_id="sendMessageBatch", summary="Send a batch",
          description="Scope `messages:send`. One content to up to 10,000 recipients, each with its own `data`, "
                      "accepted in one statement. Each result holds the message `id`, or an `error` with its "
                      "code (`recipient_suppressed`, `invalid_recipient`) for a recipient that was refused.",
          responses=error_responses(400, 403, 404, 409, 422))
    async def send_batch(self, caller: ApiCaller, data: BatchInput) -> BatchAccepted:
        recipients = [RecipientInput(item.to, item.data, item.metadata) for item in data.recipients]
        try:
            batch_id, answers = await transactional.accept_batch(caller.workspace_id, _content(data), recipients,
                                                                 _submission(caller, data), QUEUE)
        except MessageRefused as exc:
            raise _refusal(exc) from exc
        results = [RecipientResult(answer.email, id=answer.id) if answer.id is not None else
                   RecipientResult(answer.email, error=RefusalOut(answer.code, answer.message)) for answer in answers]
        accepted = sum(1 for answer in answers if answer.id is not None)
        return BatchAccepted(batch_id=batch_id, accepted=accepted, refused=len(answers) - accepted, results=results)

    @get("/", opt=READ, operation_id="listMessages", summary="List messages",
         description="Scope `messages:read`. Newest first, filtered by status, recipient address, tag and the "
                     "time they were accepted (`since` inclusive, `until` exclusive); cursor-paginated.",
         responses=error_responses(400, 403))
    async def list_messages(self, caller: ApiCaller, status: StatusName | None = None,
                            email: Annotated[str | None, Parameter(max_length=320)] = None,
                            tag: Annotated[str | None, Parameter(max_length=64)] = None,
                            since: datetime | None = None, until: datetime | None = None,
                            limit: Limit = None, cursor: Cursor = None) -> Page[MessageOut]:
        if status and status not in transactional.STATUSES:
            raise ApiError(400, "invalid_status", f"status must be one of {', '.join(transactional.STATUSES)}.",
                           {"status": "unknown"})
        rows, more = await transactional.messages_page(
            caller.workspace_id, MessageFilter(status or "", email or "", tag or "", since, until, caller.sandbox),
            before_id=id_after(cursor), limit=page_limit(limit))
        return Page(data=[_message_out(row) for row in rows], next_cursor=encode_cursor(more) if more else None)

    @get("/{message_id:int}", opt=READ, operation_id="getMessage", summary="Get a message",
         description="Scope `messages:read`. Its status (queued, scheduled, sending, sent, deferred, failed, "
                     "cancelled, delivered, bounced, complained), times, server and open and click counts.",
         responses=error_responses(403, 404))
    async def get_message(self, caller: ApiCaller, message_id: int) -> MessageOut:
        return _message_out(await transactional.message_of(caller.workspace_id, message_id, caller.sandbox))

    @get("/{message_id:int}/events", opt=READ, operation_id="getMessageEvents", summary="A message's events",
         description="Scope `messages:read`. Oldest first: queued, deferred, sent, delivered, bounced, opened, "
                     "clicked, complained, unsubscribed, failed, cancelled.",
         responses=error_responses(403, 404))
    async def events(self, caller: ApiCaller, message_id: int) -> list[EventOut]:
        found = await transactional.message_events(caller.workspace_id, message_id, caller.sandbox)
        return [EventOut(kind=event["kind"], at=event["at"], detail=event["detail"] or "") for event in found]

    @delete("/{message_id:int}", opt=SEND, status_code=200, operation_id="cancelMessage",
            summary="Cancel a message",
            description="Scope `messages:send`. Cancels a message still waiting to be sent (scheduled, or queued "
                        "and not yet taken by a worker); `not_cancellable` (409) once it is being sent or was.",
            responses=error_responses(403, 404, 409))
    async def cancel(self, caller: ApiCaller, message_id: int) -> MessageOut:
        try:
            return _message_out(await transactional.cancel_message(caller.workspace_id, message_id, caller.sandbox))
        except NotCancellable as exc:
            raise ApiError(409, "not_cancellable", str(exc)) from exc


CONTROLLERS: list[type[Controller]] = [MessagesApi]
