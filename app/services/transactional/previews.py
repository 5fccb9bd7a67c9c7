"""What the log and a message's page show of its content: the subject as the recipient saw it, and a preview.

Rendered from the stored content and the message's data with the template preview's settings, so links go
nowhere and nothing is tracked; the log renders only subjects (one compile per distinct subject and page).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from app.db.transactional import TransactionalContent, TransactionalMessage
from app.services.rendering.campaign import CampaignContent, CompiledMessage
from app.services.rendering.errors import RenderError, TemplateError
from app.services.template_previews import Preview, preview
from app.services.templates import preview_settings
from app.services.tenancy import owned_by

_MERGED = ("{{", "{%", "{")


def _context(email: str, data: Any) -> dict[str, Any]:
    fields = json.loads(data) if isinstance(data, str) else (data or {})
    return {**fields, "email": email, "fields": fields}


def _subject(compiled: CompiledMessage | None, source: str, email: str, data: Any) -> str:
    if compiled is None:
        return source
    try:
        return compiled.render_parts(_context(email, data), "preview").subject
    except RenderError:
        return source


def _compiled_subject(content_id: int, source: str) -> CompiledMessage | None:
    try:
        return CompiledMessage(CampaignContent(content_id, source, "", None), preview_settings())
    except TemplateError:
        return None


async def rendered_subjects(workspace_id: int, rows: Sequence[dict[str, Any]]) -> dict[int, str]:
    """Each row's subject merged with its message's data (the stored subject when it has no merge tags)."""
    merged = [row for row in rows if any(mark in row["subject"] for mark in _MERGED)]
    subjects = {row["id"]: row["subject"] for row in rows}
    if not merged:
        return subjects
    data = {row["id"]: row["data"] for row in await TransactionalMessage.select(
        TransactionalMessage.id, TransactionalMessage.data).where(
        owned_by(TransactionalMessage, workspace_id), TransactionalMessage.id.is_in([row["id"] for row in merged]))}
    compiled: dict[str, CompiledMessage | None] = {}
    for row in merged:
        if row["subject"] not in compiled:
            compiled[row["subject"]] = _compiled_subject(row["id"], row["subject"])
        subjects[row["id"]] = _subject(compiled[row["subject"]], row["subject"], row["email"], data.get(row["id"]))
    return subjects


async def message_content(workspace_id: int, message: dict[str, Any]) -> dict[str, Any]:
    """The message's stored content (sender, reply-to, parts) and its preview with the message's own data."""
    stored = await TransactionalMessage.select(TransactionalMessage.content_id, TransactionalMessage.data).where(
        owned_by(TransactionalMessage, workspace_id), TransactionalMessage.id == message["id"]).first()
    content = stored and await TransactionalContent.select().where(
        owned_by(TransactionalContent, workspace_id), TransactionalContent.id == stored["content_id"],
    ).output(load_json=True).first()
    if not content:
        raise LookupError("message")
    fields = _context(message["email"], stored["data"])["fields"]
    shown: Preview = await preview({"id": content["id"], "subject": content["subject"], "html": content["html"],
                                    "text_part": content["text_part"]},
                                   {"email": message["email"], "fields": fields})
    return {**content, "preview": shown}
