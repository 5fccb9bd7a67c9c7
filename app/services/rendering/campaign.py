"""A campaign version compiled once, rendered to MIME bytes per recipient.

Compilation does everything that does not depend on the recipient: sanitising,
CSS inlining, link discovery and UTM tagging, text-part generation, spintax
translation and Jinja compilation, followed by a dry run so that a template
that cannot render fails here, in front of the editor, rather than mid-send.
Per message only the merge context, spintax choices, per-delivery URLs,
headers and quoted-printable bodies are produced. Every render, the dry run
included, runs under the message's `RenderBudget` (budget.py).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from app.services.rendering.budget import DEFAULT_BUDGET, BudgetExceeded, RenderBudget, metering
from app.services.rendering.dkim import DkimSigner
from app.services.rendering.document import blank_styles, escape_text, join_document
from app.services.rendering.errors import RenderError, TemplateError
from app.services.rendering.links import (
    CHECKED_URL_FUNCTION,
    PIXEL_VARIABLE,
    DeliveryUrls,
    Link,
    LinkRewriter,
    OpenPixel,
    checked_url,
    insert_pixel,
    rewrite_links,
    tracking_context,
)
from app.services.rendering.merge import (
    TemplateCache,
    base_context,
    compile_template,
    render_pieces,
    render_template,
    template_constants,
)
from app.services.rendering.mime import MessageSkeleton, QuotedPrintable, address, inline_css, message_id
from app.services.rendering.plaintext import html_to_text
from app.services.rendering.sanitizing import prepare, sanitize_prepared
from app.services.rendering.spintax import SPIN_VARIABLE, choices, compile_spintax, spin_seed
from app.services.rendering.styles import sanitize_stylesheet


@dataclass(frozen=True)
class CampaignContent:
    campaign_id: str | int
    subject: str
    html: str
    text: str | None = None


@dataclass(frozen=True)
class CampaignSettings:
    from_email: str
    urls: DeliveryUrls
    from_name: str = ""
    reply_to: str | None = None
    sending_domain: str | None = None
    physical_address: str = ""
    feedback_id: str | None = None
    custom_headers: Mapping[str, str] = field(default_factory=dict)
    utm: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, Any] = field(default_factory=dict)
    link_rewriter: LinkRewriter | None = None
    open_pixel: OpenPixel | None = None
    dkim: DkimSigner | None = None
    budget: RenderBudget = DEFAULT_BUDGET


@dataclass(frozen=True)
class RenderedParts:
    subject: str
    html: str
    text: str


class CompiledMessage:
    """One campaign version, ready to render; nothing changes after construction, so threads may share it.

    `removed` lists what sanitising took out, `links` the links found, and
    `html_source` / `text_source` the Jinja sources the checks can inspect.
    """

    def __init__(self, content: CampaignContent, settings: CampaignSettings) -> None:
        self.campaign_id = content.campaign_id
        self.settings = settings
        self.removed: list[str] = []
        # A text part generated from the HTML fails where the HTML was written.
        self._text_part = "text" if content.text is not None else "html"
        # Syntax is checked on the sources as written, so error line numbers match the editor's.
        _compiled_part(blank_styles(content.html), "html")
        if content.text is not None:
            _compiled_part(content.text, "text")
        _compiled_part(content.subject, "subject")
        self.html_source, self.text_source, self.links = self._sources(content)
        self.removed = list(dict.fromkeys(self.removed))
        html_source, self._html_groups = compile_spintax(self.html_source)
        text_source, self._text_groups = compile_spintax(self.text_source)
        subject_source, self._subject_groups = compile_spintax(content.subject)
        self._html = compile_template(html_source, html=True)
        self._text = compile_template(text_source, html=False)
        self._subject = compile_template(subject_source, html=False)
        self._html_qp = QuotedPrintable(template_constants(self._html))
        self._text_qp = QuotedPrintable(template_constants(self._text))
        self._domain = settings.sending_domain or settings.from_email.rpartition("@")[2]
        self._skeleton = MessageSkeleton(
            from_email=settings.from_email,
            from_name=settings.from_name,
            reply_to=settings.reply_to,
            feedback_id=settings.feedback_id,
            custom_headers=settings.custom_headers,
        )
        self._base = {**base_context(), **settings.tags, CHECKED_URL_FUNCTION: checked_url}
        try:
            self.render_parts({}, "0")
        except BudgetExceeded as error:
            raise TemplateError(str(error), part=error.part) from error
        except RenderError as error:
            cause = error.__cause__ or error
            raise TemplateError(f"{type(cause).__name__}: {cause}", part=error.part) from error

    def _sources(self, content: CampaignContent) -> tuple[str, str, list[Link]]:
        prepared = prepare(content.html, self.removed)
        head, body_attributes, body = sanitize_prepared(prepared, self.removed)
        css = sanitize_stylesheet(prepared.css, self.removed)
        body, links = rewrite_links(
            inline_css(body, css), utm=self.settings.utm, track=self.settings.link_rewriter is not None
        )
        if self.settings.open_pixel is not None:
            body = insert_pixel(body)
        pieces = prepared.protected.pieces

        def merge_tags_only(comment: str) -> str:
            # Placeholders of Jinja tags survive into the text part; conditional comments do not.
            index = comment.strip("\ue000\ue001")
            keep = index.isdigit() and not pieces[int(index)].startswith("<!--")
            return f"<!--{comment}-->" if keep else ""

        text = content.text if content.text is not None else html_to_text(body, merge_tags_only)
        document = join_document(
            html_attributes=prepared.document.html_attributes,
            title=escape_text(prepared.document.title),
            head=head,
            # Stylesheets are literal: no merge tags or spintax inside CSS braces.
            css=f"{{% raw %}}{css}{{% endraw %}}" if css else "",
            body_attributes=body_attributes,
            body=body,
        )
        restore = prepared.protected.restore
        links = [replace(link, url=restore(link.url)) for link in links]
        return restore(document), restore(text), links

    def _context(self, subscriber: Mapping[str, Any], delivery: str) -> dict[str, Any]:
        settings = self.settings
        context = self._base.copy()
        fields = subscriber.get("fields")
        if isinstance(fields, Mapping):
            context.update(fields)
        context.update(subscriber)
        # Set after the subscriber's fields so that a field of the same name cannot shadow them.
        context["subscriber"] = subscriber
        context["physical_address"] = settings.physical_address
        context["unsubscribe_url"] = settings.urls.unsubscribe_url(delivery)
        context["web_version_url"] = settings.urls.web_version_url(delivery)
        if settings.link_rewriter is not None:
            context.update(tracking_context(settings.link_rewriter, self.links, delivery))
        if settings.open_pixel is not None:
            context[PIXEL_VARIABLE] = settings.open_pixel.url(delivery)
        return context

    def _render(self, subscriber: Mapping[str, Any], delivery: str, encode: bool) -> tuple[str, Any, Any]:
        """Subject, then HTML and text either as text or, when `encode`, as quoted-printable bytes."""
        context = self._context(subscriber, delivery)
        seed = spin_seed(self.campaign_id, subscriber.get("id", subscriber.get("email", "")))
        part = "subject"
        try:
            with metering(self.settings.budget) as meter:
                context[SPIN_VARIABLE] = choices(seed, self._subject_groups)
                subject = render_template(self._subject, context)
                part = "html"
                meter.next_part()
                context[SPIN_VARIABLE] = choices(seed, self._html_groups)
                html_pieces = render_pieces(self._html, context)
                html = self._html_qp.encode(html_pieces) if encode else "".join(html_pieces)
                part = self._text_part
                meter.next_part()
                context[SPIN_VARIABLE] = choices(seed, self._text_groups)
                text_pieces = render_pieces(self._text, context)
                text = self._text_qp.encode(text_pieces) if encode else "".join(text_pieces)
        except BudgetExceeded as error:
            error.part = part
            raise
        except Exception as error:
            # Whatever a template does with odd data, the send loop needs one error type per delivery.
            raise RenderError(f"delivery {delivery}: {type(error).__name__}: {error}", part=part) from error
        return subject, html, text

    def render_parts(self, subscriber: Mapping[str, Any], delivery_id: str | int) -> RenderedParts:
        """Subject, HTML and text for one recipient; also what previews and the web version show."""
        subject, html, text = self._render(subscriber, str(delivery_id), encode=False)
        return RenderedParts(subject=subject, html=html, text=text)

    def render(self, subscriber: Mapping[str, Any], delivery_id: str | int, to: str | None = None) -> bytes:
        """The complete message as bytes, DKIM-signed when the settings carry a signer.

        It goes to the subscriber, or to `to` (a test send showing someone else's data)."""
        delivery = str(delivery_id)
        if not (to or subscriber.get("email")):
            raise RenderError(f"delivery {delivery}: the subscriber has no email address")
        subject, html, text = self._render(subscriber, delivery, encode=True)
        name = f"{subscriber.get('first_name') or ''} {subscriber.get('last_name') or ''}".strip()
        urls = self.settings.urls
        message = self._skeleton.build(
            to=address(to, "") if to else address(str(subscriber["email"]), name),
            subject=subject,
            message_id=message_id(delivery, self._domain),
            list_unsubscribe=(urls.unsubscribe_mailto(delivery), urls.unsubscribe_url(delivery)),
            text=text,
            html=html,
        )
        return self.settings.dkim.sign(message, canonical_body=True) if self.settings.dkim else message


def _compiled_part(source: str, part: str) -> None:
    try:
        compile_template(compile_spintax(source)[0], html=part == "html")
    except TemplateError as error:
        error.part = part
        raise


_COMPILED: TemplateCache[CompiledMessage] = TemplateCache(maxsize=32)


def compiled_message(key: Hashable, content: CampaignContent, settings: CampaignSettings) -> CompiledMessage:
    """The compiled message for `key`, e.g. (campaign id, version), compiled on first use per process."""
    return _COMPILED.get(key, lambda: CompiledMessage(content, settings))
