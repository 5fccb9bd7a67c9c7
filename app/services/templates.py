"""The template library: a starter gallery and sanitised, checked, versioned saving.

The check before saving compiles the template and renders it once, on a render thread
under a budget (`rendering.render_off_loop`): a template that would loop for minutes
costs its author a message next to the field, not the server its event loop.
Previews, the checklist and test sends are in `template_previews`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.db.content import EmailTemplate
from app.db.delivery import DeliveryServer
from app.services.accounts import now
from app.services.forms import FormError
from app.services.rendering import (
    DEFAULT_BUDGET,
    BudgetExceeded,
    CampaignContent,
    CampaignSettings,
    CompiledMessage,
    PatternUrls,
    RenderError,
    TemplateError,
    render_off_loop,
    sanitize_html,
)
from app.services.tenancy import checked_workspace_id, owned_by

GALLERY_FOLDER = Path(__file__).resolve().parent / "gallery"
# What a render in the editor may spend, and how long a page waits for it (the budget normally ends it first).
EDITOR_BUDGET = DEFAULT_BUDGET
RENDER_WAIT_SECONDS = 5.0
MAX_NAME = 160
COPIED_COLUMNS = ("category", "subject", "preheader", "html", "text_part", "removed_on_save")
# The part of a message a render problem was found in, and the editor field that shows it.
PART_FIELDS = {"subject": "subject", "html": "html", "text": "text_part"}


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


@dataclass(frozen=True)
class CheckedTemplate:
    """Values that passed the save check, and what sanitising removed (for the editor to show)."""

    values: dict[str, Any]
    removed: list[str]


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


async def templates_page(workspace_id: int, after_id: int | None = None, limit: int = 50,
                         archived: bool = False) -> list[dict]:
    """The library in id order after `after_id` (a keyset page, as the API lists it), without the HTML."""
    select = EmailTemplate.select(
        EmailTemplate.id, EmailTemplate.name, EmailTemplate.category, EmailTemplate.subject, EmailTemplate.version,
        EmailTemplate.created_at, EmailTemplate.updated_at, EmailTemplate.archived_at,
    ).where(owned_by(EmailTemplate, workspace_id))
    select = select.where(EmailTemplate.archived_at.is_not_null() if archived else EmailTemplate.archived_at.is_null())
    if after_id is not None:
        select = select.where(EmailTemplate.id > after_id)
    return await select.order_by(EmailTemplate.id).limit(limit)


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


async def template_of(workspace_id: int, template_id: int) -> dict:
    """The workspace's template; LookupError (404) for any other id."""
    found = await get_template(workspace_id, template_id)
    if found is None:
        raise LookupError(f"template {template_id}")
    return found


def _compile_problem(subject: str, html: str, text: str | None) -> dict[str, str]:
    """Template syntax errors and over-budget renders by field, found at save time so a campaign never meets them."""
    try:
        CompiledMessage(CampaignContent(0, subject, html, text), preview_settings())
    except TemplateError as exc:
        return {PART_FIELDS.get(exc.part, "html"): problem_text(exc)}
    return {}


def problem_text(exc: TemplateError) -> str:
    """What the editor says about a template that cannot render; a budget message speaks for itself."""
    return str(exc) if isinstance(exc.__cause__, BudgetExceeded) else f"Template error: {exc}"


def cleaned_template_values(raw: dict[str, Any]) -> CheckedTemplate:
    """Sanitised values ready to store, compiled and rendered once to prove they can be (on the calling thread)."""
    name = str(raw.get("name", "")).strip()
    subject = str(raw.get("subject", "")).strip()
    text = str(raw.get("text_part", "") or "").strip() or None
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Give the template a name."
    elif len(name) > MAX_NAME:
        errors["name"] = f"Keep the name under {MAX_NAME} characters."
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
    return CheckedTemplate(values, sanitized.removed)


async def off_loop(work: Callable[[], Any], field: str) -> Any:
    """`work()` on a render thread; a render that outlives the wait is a TemplateSaveError on `field`."""
    try:
        return await render_off_loop(work, RENDER_WAIT_SECONDS)
    except RenderError as exc:
        raise TemplateSaveError({field: str(exc)}) from exc


async def checked_template(raw: dict[str, Any]) -> CheckedTemplate:
    """The save check, off the event loop: TemplateSaveError names each field that cannot be saved."""
    return await off_loop(lambda: cleaned_template_values(raw), "html")


async def _inserted(workspace_id: int, values: dict[str, Any], user_id: int | None) -> dict:
    rows = await EmailTemplate.insert(EmailTemplate(
        workspace_id=checked_workspace_id(workspace_id), created_by=user_id, created_at=now(), updated_at=now(),
        **values,
    )).returning(*EmailTemplate.all_columns())
    return rows[0]


async def create_template(workspace_id: int, raw: dict[str, Any], user_id: int | None) -> dict:
    return await _inserted(workspace_id, (await checked_template(raw)).values, user_id)


async def create_from_gallery(workspace_id: int, slug: str, user_id: int | None) -> dict:
    layout = gallery_layout(slug)
    if layout is None:
        raise LookupError("layout")
    return await create_template(workspace_id, {
        "name": layout.name, "category": layout.category, "subject": "{Hi|Hello} {{ first_name | default(\"there\") }}",
        "html": layout.html(),
    }, user_id)


async def save_template(workspace_id: int, template_id: int, checked: CheckedTemplate) -> dict:
    """Store checked values as the template's next version."""
    rows = await EmailTemplate.update({
        **checked.values, "updated_at": now(), "version": EmailTemplate.version + 1,
    }).where(owned_by(EmailTemplate, workspace_id), EmailTemplate.id == template_id).returning(
        *EmailTemplate.all_columns())
    if not rows:
        raise LookupError("template")
    return rows[0]


async def duplicate_template(workspace_id: int, template_id: int, user_id: int | None) -> dict:
    source = await template_of(workspace_id, template_id)
    # The source passed the save check when it was stored: the copy takes its values as they are.
    copied = {column: source[column] for column in COPIED_COLUMNS}
    return await _inserted(workspace_id, {**copied, "name": f"{source['name'][:MAX_NAME - 7]} (copy)"}, user_id)


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


def preview_settings(physical_address: str = "1 Sample Street, Springfield") -> CampaignSettings:
    """Settings for renders nobody receives as a campaign: links that go nowhere."""
    return CampaignSettings(
        from_email="preview@ignite.local", from_name="Ignite preview",
        urls=PatternUrls(unsubscribe="#unsubscribe", mailto="mailto:unsubscribe@ignite.local",
                         web_version="#web-version"),
        physical_address=physical_address, budget=EDITOR_BUDGET,
    )
