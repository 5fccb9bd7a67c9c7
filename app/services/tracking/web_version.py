"""The web version of a message (/v/<delivery token>): the HTML that recipient got, rendered again.

The campaign version is compiled exactly as the sender compiles it (the same cached compiled message,
variant and settings), then rendered with the recipient's data and the delivery id, so the links are the
recipient's own tracked links and the unsubscribe link is theirs. Only the open pixel is taken out: a
web view is counted as one (`web_view`), not also as an open. A token whose campaign version is not the
one the message was sent with finds nothing, like a forged one: better no page than another message.
"""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

from app.services import statements
from app.services.campaigns.content import compiled_campaign, merge_values
from app.services.rendering import RenderError, render_off_loop
from app.services.rendering.links import PIXEL_VARIABLE, insert_pixel
from app.services.templates import RENDER_WAIT_SECONDS
from app.services.tracking.link_tables import sent_content
from app.services.tracking.tokens import DeliveryRef, delivery_ref, tracking_keys
from app.settings import Settings

WEB_VIEW = "web_view"


async def _recipient_values(ref: DeliveryRef) -> dict[str, Any] | None:
    """What the message merged for this delivery: the subscriber's values, the delivery's address."""
    rows = await statements.run("recipients.web-version-subscriber", ref.workspace_id, ref.campaign_id,
                                ref.delivery_id)
    if not rows:
        return None
    row = rows[0]
    subscriber = {**row, "fields": json.loads(row["fields"] or "{}")}
    return {**merge_values(subscriber), "email": row["delivery_email"]}


_EMPTY_TITLE = re.compile(r"<title>\s*</title>", re.IGNORECASE)
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)


def with_title(html: str, subject: str) -> str:
    """The page titled with the message's subject where the template left its title empty or out."""
    title = f"<title>{escape(subject)}</title>"
    if _EMPTY_TITLE.search(html):
        return _EMPTY_TITLE.sub(lambda _: title, html, count=1)
    if "<title" in html.lower():
        return html
    head = _HEAD.search(html)
    return f"{html[:head.end()]}{title}{html[head.end():]}" if head else f"{title}{html}"


def without_pixel(html: str, pixel_url: str) -> str:
    return html.replace(insert_pixel("").replace(f"{{{{ {PIXEL_VARIABLE} }}}}", pixel_url), "")


async def web_version(settings: Settings, token: str) -> str | None:
    """The message's HTML as its recipient got it, or None (forged token, another version, erased person)."""
    ref = delivery_ref(tracking_keys(settings), token)
    content = await sent_content(ref) if ref is not None else None
    values = await _recipient_values(ref) if ref is not None and content is not None else None
    if ref is None or content is None or values is None:
        return None
    compiled = await compiled_campaign(content, sorted(content["list_ids"] or [values["list_id"]]))
    delivery = str(ref.delivery_id)
    try:
        parts = await render_off_loop(lambda: compiled.render_parts(values, delivery), RENDER_WAIT_SECONDS)
    except RenderError:
        # It rendered when it was sent; the person's data has changed since in a way the template cannot take.
        return None
    pixel = compiled.settings.open_pixel
    html = without_pixel(parts.html, pixel.url(delivery)) if pixel is not None else parts.html
    return with_title(html, parts.subject)
