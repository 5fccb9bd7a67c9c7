"""The template library: a starter gallery, sanitised saving, previews, content checks and test sends."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from app.db.content import EmailTemplate
from app.db.delivery import DeliveryServer
from app.esp.base import OutgoingMessage
from app.services.accounts import now
from app.services.forms import FormError
from app.services.rendering import (
    CampaignContent,
    CampaignSettings,
    Check,
    CompiledMessage,
    PatternUrls,
    RenderedParts,
    TemplateError,
    check_content,
    sanitize_html,
)
from app.services.sending import send_now
from app.services.sending_domains import signer_for
from app.services.subscribers import SubscriberError, normalized_email
from app.services.tenancy import checked_workspace_id, owned_by

GALLERY_FOLDER = Path(__file__).resolve().parent / "gallery"
MAX_TEST_RECIPIENTS = 5
SAMPLE_SUBSCRIBER = {"email": "sample@example.com", "first_name": "Alex", "last_name": "Sample",
                     "fields": {"first_name": "Alex", "city": "Lisbon"}}


@dataclass(frozen=True)
class GalleryLayout:
    slug: str
    name: str
    category: str
    description: str

    def html(self) -> str:
        return (GALLERY_FOLDER / f"{self.slug}.html").read_text()


GALLERY = (
    GalleryLayout("single-offer", "Single offer", "Promotional", "Hero image, one offer, one button."),
    GalleryLayout("newsletter", "Two-column newsletter", "Newsletter", "Header bar and two picks side by side."),
    GalleryLayout("plain-letter", "Plain letter", "Personal", "Looks like a note from a person: text and one link."),
)


class TemplateSaveError(FormError):
    """Values that cannot be saved, by form field name."""


def gallery_layout(slug: str) -> GalleryLayout | None:
    return next((layout for layout in GALLERY if layout.slug == slug), None)


async def library(workspace_id: int, query: str = "", category: str = "", archived: bool = False) -> list[dict]:
    select = EmailTemplate.select(
        EmailTemplate.id, EmailTemplate.name, EmailTemplate.category, EmailTemplate.subject, EmailTemplate.version,
        EmailTemplate.updated_at, EmailTemplate.archived_at,
    ).where(owned_by(EmailTemplate, workspace_id))
    select = select.where(EmailTemplate.archived_at.is_not_null() if archived else EmailTemplate.archived_at.is_null())
    if query.strip():
        select = select.where(EmailTemplate.name.ilike(f"%{query.strip()}%"))
    if category:
        select = select.where(EmailTemplate.category == category)
    return await select.order_by(EmailTemplate.updated_at, ascending=False)


async def categories(workspace_id: int) -> list[str]:
    rows = await EmailTemplate.select(EmailTemplate.category).where(
        owned_by(EmailTemplate, workspace_id), EmailTemplate.category != ""
    ).distinct()
    return sorted(row["category"] for row in rows)


async def get_template(workspace_id: int, template_id: object) -> dict | None:
    try:
        pk = int(template_id)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    return await EmailTemplate.select().where(owned_by(EmailTemplate, workspace_id), EmailTemplate.id == pk).output(
        load_json=True
    ).first()


def _compile_problem(subject: str, html: str, text: str | None) -> dict[str, str]:
    """Template syntax errors by field, found at save time so a campaign never meets them."""
    try:
        CompiledMessage(CampaignContent(0, subject, html, text), _preview_settings())
    except TemplateError as exc:
        return {"html": f"Template error: {exc}"}
    return {}


def cleaned_template_values(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Sanitised values ready to store, and what sanitising removed (for the editor to show)."""
    name = str(raw.get("name", "")).strip()
    subject = str(raw.get("subject", "")).strip()
    text = str(raw.get("text_part", "") or "").strip() or None
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Give the template a name."
    if len(subject) > 255:
        errors["subject"] = "Keep the subject under 255 characters."
    sanitized = sanitize_html(str(raw.get("html", "")))
    if not sanitized.html.strip():
        errors["html"] = "The template has no HTML."
    if not errors:
        errors.update(_compile_problem(subject, sanitized.html, text))
    if errors:
        raise TemplateSaveError(errors)
    values = {"name": name, "category": str(raw.get("category", "")).strip()[:64], "subject": subject,
              "preheader": str(raw.get("preheader", "")).strip()[:255], "html": sanitized.html, "text_part": text,
              "removed_on_save": sanitized.removed}
    return values, sanitized.removed


async def create_template(workspace_id: int, raw: dict[str, Any], user_id: int | None) -> dict:
    values, _ = cleaned_template_values(raw)
    rows = await EmailTemplate.insert(EmailTemplate(
        workspace_id=checked_workspace_id(workspace_id), created_by=user_id, created_at=now(), updated_at=now(),
        **values,
    )).returning(*EmailTemplate.all_columns())
    return rows[0]


async def create_from_gallery(workspace_id: int, slug: str, user_id: int | None) -> dict:
    layout = gallery_layout(slug)
    if layout is None:
        raise LookupError("layout")
    return await create_template(workspace_id, {
        "name": layout.name, "category": layout.category, "subject": "{Hi|Hello} {{ first_name | default(\"there\") }}",
        "html": layout.html(),
    }, user_id)


async def save_template(workspace_id: int, template_id: int, raw: dict[str, Any]) -> tuple[dict, list[str]]:
    """Store a new version; returns the row and what sanitising removed."""
    values, removed = cleaned_template_values(raw)
    rows = await EmailTemplate.update({**values, "updated_at": now(), "version": EmailTemplate.version + 1}).where(
        owned_by(EmailTemplate, workspace_id), EmailTemplate.id == template_id
    ).returning(*EmailTemplate.all_columns())
    if not rows:
        raise LookupError("template")
    return rows[0], removed


async def duplicate_template(workspace_id: int, template_id: int, user_id: int | None) -> dict:
    source = await get_template(workspace_id, template_id)
    if source is None:
        raise LookupError("template")
    return await create_template(workspace_id, {**source, "name": f"{source['name']} (copy)"}, user_id)


async def set_archived(workspace_id: int, template_id: int, archived: bool) -> None:
    rows = await EmailTemplate.update({EmailTemplate.archived_at: now() if archived else None}).where(
        owned_by(EmailTemplate, workspace_id), EmailTemplate.id == template_id
    ).returning(EmailTemplate.id)
    if not rows:
        raise LookupError("template")


async def default_from_address(workspace_id: int) -> str:
    """The From of test sends: the first delivery server's default, else a development address."""
    row = await DeliveryServer.select(DeliveryServer.from_email).where(
        owned_by(DeliveryServer, workspace_id), DeliveryServer.from_email != "").order_by(DeliveryServer.id).first()
    return row["from_email"] if row else "test@ignite.local"


def _preview_settings(physical_address: str = "1 Sample Street, Springfield") -> CampaignSettings:
    return CampaignSettings(
        from_email="preview@ignite.local", from_name="Ignite preview",
        urls=PatternUrls(unsubscribe="#unsubscribe", mailto="mailto:unsubscribe@ignite.local",
                         web_version="#web-version"),
        physical_address=physical_address,
    )


def _subscriber_context(subscriber: dict[str, Any] | None) -> dict[str, Any]:
    if subscriber is None:
        return SAMPLE_SUBSCRIBER
    fields = subscriber.get("fields") or {}
    return {**fields, "email": subscriber["email"], "fields": fields}


def preview(template: dict, subscriber: dict[str, Any] | None = None) -> RenderedParts:
    """What one subscriber would see, rendered with preview links that go nowhere."""
    compiled = CompiledMessage(CampaignContent(f"preview-{template['id']}", template["subject"], template["html"],
                                               template["text_part"]), _preview_settings())
    return compiled.render_parts(_subscriber_context(subscriber), "preview")


def content_checks(template: dict) -> list[Check]:
    parts = preview(template)
    return check_content(subject=template["subject"], html=template["html"], text=parts.text)


def test_recipients(raw: str) -> list[str]:
    """Up to five addresses from a comma/space separated field; TemplateSaveError names the problem."""
    addresses = [part for part in re.split(r"[\s,;]+", raw) if part]
    if not addresses:
        raise TemplateSaveError({"recipients": "Enter at least one address."})
    if len(addresses) > MAX_TEST_RECIPIENTS:
        raise TemplateSaveError({"recipients": f"Send a test to at most {MAX_TEST_RECIPIENTS} addresses."})
    try:
        return [normalized_email(address) for address in addresses]
    except SubscriberError as exc:
        raise TemplateSaveError({"recipients": exc.errors["email"]}) from exc


async def send_test(redis: Redis, workspace_id: int, template: dict, recipients: list[str]) -> int:
    """Render for each address (DKIM-signed when the From domain is set up) and send through the current
    sender: the delivery servers, or the development inbox while there are none. Returns how many went out."""
    from_email = await default_from_address(workspace_id)
    compiled = CompiledMessage(
        CampaignContent(f"test-{template['id']}", f"[TEST] {template['subject']}", template["html"],
                        template["text_part"]),
        CampaignSettings(from_email=from_email, urls=_preview_settings().urls,
                         physical_address=_preview_settings().physical_address,
                         dkim=await signer_for(workspace_id, from_email.rpartition("@")[2])),
    )
    messages = []
    for index, address in enumerate(recipients):
        subscriber = {**SAMPLE_SUBSCRIBER, "email": address}
        messages.append(OutgoingMessage(
            workspace_id=workspace_id, mail_from=from_email, recipients=(address,),
            raw=compiled.render(subscriber, f"test-{index}"),
            subject=compiled.render_parts(subscriber, f"test-{index}").subject,
        ))
    return sum(await send_now(redis, workspace_id, messages))
