"""What a template looks like to one subscriber: previews, the pre-send checklist and test sends.

Each render runs on a render thread under a budget (`rendering.render_off_loop`); a template
that cannot render, or not within its budget, gives a message instead of a page that hangs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from redis.asyncio import Redis

from app.db.audience import Subscriber
from app.esp.base import OutgoingMessage
from app.services.forms import FORM_WIDE
from app.services.rendering import (
    CampaignContent,
    CampaignSettings,
    Check,
    CompiledMessage,
    PatternUrls,
    RenderedParts,
    RenderError,
    TemplateError,
    check_content,
    render_off_loop,
)
from app.services.sending import send_now
from app.services.sending_domains import signer_for
from app.services.subscribers import SubscriberError, normalized_email
from app.services.templates import (
    RENDER_WAIT_SECONDS,
    TemplateSaveError,
    default_from_address,
    off_loop,
    preview_settings,
    problem_text,
)
from app.services.tenancy import owned_by

MAX_TEST_RECIPIENTS = 5
# A test send names no delivery, so it has no unsubscribe link anyone could use: it carries no
# List-Unsubscribe header (and so no One-Click header) rather than one pointing at a placeholder.
TEST_SEND_URLS = PatternUrls(unsubscribe="#unsubscribe", mailto="", web_version="#web-version")
SAMPLE_SUBSCRIBER = {"email": "sample@example.com", "first_name": "Alex", "last_name": "Sample",
                     "fields": {"first_name": "Alex", "city": "Lisbon"}}


@dataclass(frozen=True)
class PreviewRecipient:
    """Whose data a preview or test send merges: a subscriber of the workspace, or sample data and why."""

    email: str
    subscriber: dict[str, Any] | None
    notice: str = ""


@dataclass(frozen=True)
class Preview:
    """A rendered preview, or the message saying why the template cannot be rendered."""

    parts: RenderedParts | None
    problem: str = ""


@dataclass(frozen=True)
class TestSend:
    recipients: list[str]
    sent: int


def _subscriber_context(subscriber: dict[str, Any] | None) -> dict[str, Any]:
    if subscriber is None:
        return SAMPLE_SUBSCRIBER
    fields = subscriber.get("fields") or {}
    return {**fields, "email": subscriber["email"], "fields": fields}


async def preview_recipient(workspace_id: int, email: str) -> PreviewRecipient:
    """The subscriber a preview is for; sample data, with a notice saying why, when there is none."""
    typed = email.strip()
    if not typed:
        return PreviewRecipient("", None)
    try:
        address = normalized_email(typed)
    except SubscriberError:
        return PreviewRecipient(typed, None, f"“{typed}” is not an email address: showing sample data.")
    row = await Subscriber.select().where(owned_by(Subscriber, workspace_id), Subscriber.email == address).order_by(
        Subscriber.id).output(load_json=True).first()
    if row is None:
        return PreviewRecipient(address, None, f"No subscriber {address} in this workspace: showing sample data.")
    return PreviewRecipient(address, row)


def _rendered_preview(template: dict, subscriber: dict[str, Any] | None) -> Preview:
    try:
        compiled = CompiledMessage(CampaignContent(f"preview-{template['id']}", template["subject"],
                                                   template["html"], template["text_part"]), preview_settings())
        return Preview(compiled.render_parts(_subscriber_context(subscriber), "preview"))
    except TemplateError as exc:
        return Preview(None, problem_text(exc))
    except RenderError as exc:
        return Preview(None, str(exc))


async def preview(template: dict, subscriber: dict[str, Any] | None = None) -> Preview:
    """What one subscriber (or the sample subscriber) would see, with preview links that go nowhere."""
    try:
        return await render_off_loop(lambda: _rendered_preview(template, subscriber), RENDER_WAIT_SECONDS)
    except RenderError as exc:
        return Preview(None, str(exc))


def _checklist(template: dict) -> list[Check]:
    shown = _rendered_preview(template, None)
    checks = check_content(subject=template["subject"], html=template["html"],
                           text=shown.parts.text if shown.parts else None)
    if shown.problem:
        checks.insert(0, Check("Renders", False, shown.problem))
    return checks


async def content_checks(template: dict) -> list[Check]:
    """The pre-send checklist; a template that cannot render fails its first line, saying why."""
    try:
        return await render_off_loop(lambda: _checklist(template), RENDER_WAIT_SECONDS)
    except RenderError as exc:
        return [Check("Renders", False, str(exc))]


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


async def _test_subscriber(workspace_id: int, email: str) -> dict[str, Any] | None:
    """The subscriber whose data a test send merges (none given: sample data); an unknown one is refused."""
    recipient = await preview_recipient(workspace_id, email)
    if recipient.notice:
        raise TemplateSaveError({"subscriber": recipient.notice.replace("showing sample data", "choose another")})
    return recipient.subscriber


def _test_messages(workspace_id: int, template: dict, settings: CampaignSettings, recipients: list[str],
                   subscriber: dict[str, Any] | None) -> list[OutgoingMessage]:
    compiled = CompiledMessage(
        CampaignContent(f"test-{template['id']}", f"[TEST] {template['subject']}", template["html"],
                        template["text_part"]), settings)
    messages = []
    for index, address in enumerate(recipients):
        values = _subscriber_context(subscriber) if subscriber else {**SAMPLE_SUBSCRIBER, "email": address}
        messages.append(OutgoingMessage(
            workspace_id=workspace_id, mail_from=settings.from_email, recipients=(address,),
            raw=compiled.render(values, f"test-{index}", to=address),
            subject=compiled.render_parts(values, f"test-{index}").subject,
        ))
    return messages


async def send_test(redis: Redis, workspace_id: int, template: dict, form: dict[str, str]) -> TestSend:
    """Send the template to the form's `recipients` (up to five), merged with the data of the subscriber
    named in its `subscriber` field or with sample data, DKIM-signed when the From domain is set up,
    through the current sender: the delivery servers, or the development inbox while there are none."""
    recipients = test_recipients(form.get("recipients", ""))
    subscriber = await _test_subscriber(workspace_id, form.get("subscriber", ""))
    from_email = await default_from_address(workspace_id)
    settings = replace(preview_settings(), from_email=from_email, from_name="", urls=TEST_SEND_URLS,
                       dkim=await signer_for(workspace_id, from_email.rpartition("@")[2]))
    try:
        messages = await off_loop(
            lambda: _test_messages(workspace_id, template, settings, recipients, subscriber), FORM_WIDE)
    except TemplateError as exc:
        raise TemplateSaveError({FORM_WIDE: problem_text(exc)}) from exc
    return TestSend(recipients, sum(await send_now(redis, workspace_id, messages)))
