"""Link discovery and the pluggable per-message steps: click rewriting and the open pixel.

Discovery runs once per campaign version on the cleaned, inlined HTML. A
rewriter or pixel of `None` is the no-op: links keep their (UTM-tagged) URL
and nothing is inserted, with no per-message cost. The real implementations
(app/services/tracking/urls.py) put a signed delivery token in the URL, and
append the recipient's affiliate sub-ids to offer links (marked `data-offer`, or
on one of the workspace's offer domains).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from jinja2.runtime import Context
from jinja2.utils import pass_context
from markupsafe import Markup

from app.services.rendering.sanitizing import safe_url

OPT_OUT_ATTRIBUTE = "data-no-track"
# Marks an affiliate offer link: its URL carries the recipient's sub-ids (app/services/tracking/offers.py).
OFFER_ATTRIBUTE = "data-offer"
MARKERS = (OPT_OUT_ATTRIBUTE, OFFER_ATTRIBUTE)
TRACK_FUNCTION = "_track"
OFFER_FUNCTION = "_offer"
TRACK_MERGED_FUNCTION = "_track_merged"
LINKS_VARIABLE = "_links"
CHECKED_URL_FUNCTION = "_checked_url"
PIXEL_VARIABLE = "_pixel"

_ANCHOR = re.compile(r"""<a\b((?:[^>"']|"[^"]*"|'[^']*')*)>(.*?)</a\s*>""", re.I | re.DOTALL)
_ATTRIBUTE = re.compile(r"""\s+([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_TAGS = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_TRACKABLE = re.compile(r"https?://", re.I)
_MERGE_TAG = re.compile("\ue002\\d+\ue001|<!--\ue000\\d+\ue001-->")


@dataclass(frozen=True, slots=True)
class Link:
    index: int
    url: str
    text: str
    tracked: bool
    dynamic: bool
    # The whole href is a merge tag (`{{ offer_url }}`): tracked per message when it renders to a web address
    # other than the message's own unsubscribe or web-version link.
    merged: bool = False
    # Marked `data-offer` in the template.
    offer: bool = False


class LinkRewriter(Protocol):
    def rewrite(self, url: str, link: Link, delivery_id: str) -> str:
        """The URL to put in this delivery's message instead of `url` (already merged and UTM-tagged)."""
        ...


@runtime_checkable
class OfferRewriter(Protocol):
    """A rewriter that also knows offer links, whose URL names the recipient (affiliate sub-ids)."""

    def is_offer(self, url: str, link: Link) -> bool: ...

    def rewrite_offer(self, url: str, link: Link, delivery_id: str, subscriber_id: str) -> str: ...


class OpenPixel(Protocol):
    def url(self, delivery_id: str) -> str: ...


class DeliveryUrls(Protocol):
    """Per-delivery URLs for the unsubscribe and web-version tags and the List-Unsubscribe header."""

    def unsubscribe_url(self, delivery_id: str) -> str: ...

    def unsubscribe_mailto(self, delivery_id: str) -> str: ...

    def web_version_url(self, delivery_id: str) -> str: ...


@dataclass(frozen=True)
class PatternUrls:
    """DeliveryUrls from `str.format` patterns with a `{delivery_id}` field."""

    unsubscribe: str
    mailto: str
    web_version: str

    def unsubscribe_url(self, delivery_id: str) -> str:
        return self.unsubscribe.format(delivery_id=delivery_id)

    def unsubscribe_mailto(self, delivery_id: str) -> str:
        return self.mailto.format(delivery_id=delivery_id)

    def web_version_url(self, delivery_id: str) -> str:
        return self.web_version.format(delivery_id=delivery_id)


def append_utm(url: str, params: Mapping[str, str]) -> str:
    """Append UTM parameters, never overwriting a parameter the URL already has."""
    if not params:
        return url
    parts = urlsplit(url)
    present = {key for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    missing = {key: value for key, value in params.items() if key not in present and value}
    if not missing:
        return url
    query = "&".join(filter(None, (parts.query, urlencode(missing))))
    return urlunsplit(parts._replace(query=query))


def _attributes(inside: str) -> list[tuple[str, str | None]]:
    return [
        (match.group(1).lower(), next((value for value in match.group(2, 3, 4) if value is not None), None))
        for match in _ATTRIBUTE.finditer(inside)
    ]


def _format(attributes: list[tuple[str, str | None]]) -> str:
    return "".join(f' {name}="{value}"' if value is not None else f" {name}" for name, value in attributes)


def rewrite_links(
    markup: str, *, utm: Mapping[str, str], track: bool
) -> tuple[str, list[Link]]:
    """Find every `<a href>`, tag http(s) links with UTM and, when tracking, route them through the rewriter.

    `markup` is serialized HTML whose merge tags are placeholders; a link whose URL
    *starts* with a merge tag (`{{ offer_url }}`, `{{ unsubscribe_url }}`) is `merged`: the URL it renders
    to must pass `checked_url`, and when tracking it goes through the rewriter if it is a web address
    other than the message's own unsubscribe and web-version links.
    """
    links: list[Link] = []

    def visit(match: re.Match[str]) -> str:
        attributes = _attributes(match.group(1))
        names = [name for name, _ in attributes]
        if "href" not in names:
            return match.group(0)
        opted_out = OPT_OUT_ATTRIBUTE in names
        kept = [(name, value) for name, value in attributes if name not in MARKERS]
        href = html.unescape(next(value for name, value in kept if name == "href") or "").strip()
        trackable = bool(_TRACKABLE.match(href))
        merged = bool(_MERGE_TAG.match(href))
        # An opted-out link is left exactly as written: no tracking and no UTM parameters.
        url = append_utm(href, utm) if trackable and not opted_out else href
        link = Link(
            index=len(links),
            url=url,
            text=_SPACE.sub(" ", html.unescape(_TAGS.sub("", _MERGE_TAG.sub("", match.group(2))))).strip(),
            tracked=track and trackable and not opted_out,
            dynamic=bool(_MERGE_TAG.search(url)),
            merged=merged,
            offer=OFFER_ATTRIBUTE in names,
        )
        links.append(link)
        if link.tracked:
            new_href = link_expression(link, html.escape(url))
        elif merged and track and not opted_out:
            new_href = (f"{{% set _href %}}{html.escape(url)}{{% endset %}}"
                        f"{{{{ {TRACK_MERGED_FUNCTION}({link.index}, _href) }}}}")
        elif merged:
            # The scheme comes from data (possibly a subscriber's own), so it is checked per message.
            new_href = f"{{% set _href %}}{html.escape(url)}{{% endset %}}{{{{ {CHECKED_URL_FUNCTION}(_href) }}}}"
        else:
            new_href = html.escape(url)
        kept = [(name, new_href if name == "href" else value) for name, value in kept]
        return f"<a{_format(kept)}>{match.group(2)}</a>"

    return _ANCHOR.sub(visit, markup), links


def link_expression(link: Link, url_source: str) -> str:
    """Jinja that prints the rewritten URL; a URL with merge tags is rendered first, then rewritten.

    A fixed link's URL comes from the list made per message, unless it is an offer link: only the
    template context knows the recipient its sub-ids name, so its entry is empty and `_offer` makes it.
    """
    if not link.dynamic:
        return f"{{{{ {LINKS_VARIABLE}[{link.index}] or {OFFER_FUNCTION}({link.index}) }}}}"
    return f"{{% set _href %}}{url_source}{{% endset %}}{{{{ {TRACK_FUNCTION}({link.index}, _href) }}}}"


def checked_url(rendered: str) -> str:
    """The rendered URL when its scheme is safe (http, https, mailto, tel, cid), else nothing."""
    url = (rendered.unescape() if isinstance(rendered, Markup) else str(rendered)).strip()
    return url if safe_url(url) else ""


def insert_pixel(body: str) -> str:
    return f'{body}<img src="{{{{ {PIXEL_VARIABLE} }}}}" width="1" height="1" alt="" style="display: block">'


def _subscriber_id(context: Context) -> str:
    subscriber = context.get("subscriber")
    return str(subscriber.get("id") or "") if isinstance(subscriber, Mapping) else ""


def tracking_context(rewriter: LinkRewriter, links: Sequence[Link], delivery_id: str) -> dict[str, Any]:
    """Per-message values for the expressions `link_expression` wrote into the template.

    Fixed URLs are rewritten up front into a list, which the template indexes: a
    sandboxed function call per link would cost several times more. Offer links are the exception
    (see `link_expression`).
    """
    offers = rewriter if isinstance(rewriter, OfferRewriter) else None

    def rewritten(url: str, link: Link, context: Context) -> str:
        if offers is not None and offers.is_offer(url, link):
            return offers.rewrite_offer(url, link, delivery_id, _subscriber_id(context))
        return rewriter.rewrite(url, link, delivery_id)

    @pass_context
    def track(context: Context, index: int, rendered: str) -> str:
        url = rendered.unescape() if isinstance(rendered, Markup) else str(rendered)
        return rewritten(url.strip(), links[index], context)

    @pass_context
    def track_merged(context: Context, index: int, rendered: str) -> str:
        url = checked_url(rendered)
        own = (context.get("unsubscribe_url"), context.get("web_version_url"))
        if not _TRACKABLE.match(url) or url in own:
            return url
        return rewritten(url, links[index], context)

    @pass_context
    def offer(context: Context, index: int) -> str:
        return rewritten(links[index].url, links[index], context)

    fixed = [
        rewriter.rewrite(link.url, link, delivery_id)
        if link.tracked and not link.dynamic and not (offers is not None and offers.is_offer(link.url, link))
        else ""
        for link in links
    ]
    return {LINKS_VARIABLE: fixed, TRACK_FUNCTION: track, TRACK_MERGED_FUNCTION: track_merged,
            OFFER_FUNCTION: offer}
