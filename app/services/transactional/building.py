"""A transactional message's bytes: its content compiled once per process (as a campaign version is), merged with
the recipient's data, with tracking, List-Unsubscribe, attachments and DKIM.

Every message of the stream has content of its own, so no link table can name its links by index: each tracked
link carries its URL, signed for the message's token (`/c/<token>/<index>/<signature>?u=<url>`), and the open
pixel and unsubscribe link carry the token as a campaign's do.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from app.db.transactional import TransactionalAttachment, TransactionalContent
from app.esp.base import OutgoingMessage
from app.services.campaigns.content import CampaignUrls, with_preheader
from app.services.rendering import (
    CampaignContent,
    CampaignSettings,
    CompiledMessage,
    Link,
    compiled_message,
    message_id,
)
from app.services.rendering.dkim import DkimSigner
from app.services.sending_domains import signer_for
from app.services.tenancy import owned_by
from app.services.tracking.offers import offer_links
from app.services.tracking.tokens import tracking_keys
from app.services.tracking.urls import DeliveryTracker
from app.services.transactional.content import Attachment, stored_headers
from app.settings import get_settings

_BASE64_LINE = 76


class MessageTracker(DeliveryTracker):
    """Links signed with their URL: a stream's messages share no content a link table could hold."""

    def rewrite(self, url: str, link: Link, delivery_id: str) -> str:
        return self._personal(url, link, delivery_id)


class Compiled:
    """One stored content, compiled, with what each of its messages needs beside its recipient's data."""

    def __init__(self, content: Mapping[str, Any], compiled: CompiledMessage, attachments: Sequence[Attachment],
                 signer: DkimSigner | None) -> None:
        self.content, self.compiled, self.attachments, self.signer = content, compiled, attachments, signer
        self.domain = content["from_email"].rpartition("@")[2].lower()

    def message_id(self, delivery_id: int) -> str:
        return message_id(delivery_id, self.domain)

    def build(self, workspace_id: int, delivery_id: int, email: str, data: Mapping[str, Any]) -> OutgoingMessage:
        raw = self.compiled.render({**data, "email": email}, delivery_id)
        if self.attachments:
            raw = with_attachments(raw, self.attachments)
        if self.signer is not None:
            raw = self.signer.sign(raw, canonical_body=not self.attachments)
        return OutgoingMessage(
            workspace_id=workspace_id, mail_from=self.content["from_email"], recipients=(email,), raw=raw,
            subject=self.content["subject"], message_id=self.message_id(delivery_id),
            job=f"transactional-{self.content['id']}", wire_ready=True)


def with_attachments(message: bytes, attachments: Sequence[Attachment]) -> bytes:
    """The rendered multipart/alternative message wrapped in a multipart/mixed with the attachments."""
    head, _, body = message.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    at = next(index for index, line in enumerate(lines) if line.lower().startswith(b"content-type: multipart/alt"))
    alternative = lines[at]
    boundary = f"=_ignite_mixed_{secrets.token_hex(12)}".encode()
    lines[at] = b'Content-Type: multipart/mixed; boundary="' + boundary + b'"'
    parts = [b"\r\n".join(lines), b"\r\n\r\n--", boundary, b"\r\n", alternative, b"\r\n\r\n", body]
    for attachment in attachments:
        encoded = base64.b64encode(attachment.body)
        wrapped = b"\r\n".join(encoded[i:i + _BASE64_LINE] for i in range(0, len(encoded), _BASE64_LINE))
        name = attachment.filename.encode("ascii", "replace")
        parts += [b"\r\n--", boundary, b"\r\nContent-Type: ", attachment.content_type.encode("ascii", "replace"),
                  b'; name="', name, b'"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; '
                  b'filename="', name, b'"\r\n\r\n', wrapped]
    parts += [b"\r\n--", boundary, b"--\r\n"]
    return b"".join(parts)


async def _settings(workspace_id: int, stream: int, content: Mapping[str, Any], sign: bool) -> CampaignSettings:
    app = get_settings()
    domain = content["from_email"].rpartition("@")[2].lower()
    tracker = MessageTracker(app.base_url, tracking_keys(app), workspace_id, stream, 0,
                             offers=await offer_links(workspace_id))
    return CampaignSettings(
        from_email=content["from_email"], from_name=content["from_name"], reply_to=content["reply_to"] or None,
        sending_domain=domain, urls=CampaignUrls(tracker, domain),
        feedback_id=f"{stream}:{workspace_id}:transactional:ignite", custom_headers=stored_headers(content),
        tags={"preheader": content["preheader"]}, dkim=await signer_for(workspace_id, domain) if sign else None,
        link_rewriter=tracker, open_pixel=tracker)


async def _attachments(workspace_id: int, content_id: int) -> list[Attachment]:
    rows = await TransactionalAttachment.select().where(
        owned_by(TransactionalAttachment, workspace_id), TransactionalAttachment.content_id == content_id,
    ).order_by(TransactionalAttachment.id)
    return [Attachment(row["filename"], row["content_type"], bytes(row["body"])) for row in rows]


async def compiled_contents(workspace_id: int, stream: int, content_ids: set[int]) -> dict[int, Compiled]:
    """Each content, compiled on first use in this process (a batch's thousands of messages compile once)."""
    rows = await TransactionalContent.select().where(owned_by(TransactionalContent, workspace_id),
                                                     TransactionalContent.id.is_in(list(content_ids)))
    found = {}
    for row in rows:
        if isinstance(row["headers"], str):
            row["headers"] = json.loads(row["headers"])
        attachments = await _attachments(workspace_id, row["id"]) if row["attachment_bytes"] else []
        # With attachments the whole message is signed once they are in; without, the renderer signs it.
        settings = await _settings(workspace_id, stream, row, sign=not attachments)
        compiled = compiled_message(("transactional", row["id"]), CampaignContent(
            row["id"], row["subject"], with_preheader(row["html"]), row["text_part"]), settings)
        signer = await signer_for(workspace_id, row["from_email"].rpartition("@")[2].lower()) if attachments else None
        found[row["id"]] = Compiled(row, compiled, attachments, signer)
    return found
