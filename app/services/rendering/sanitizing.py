"""bleach allow-list for email HTML, with a list of what was removed for the editor.

Decisions:
- MSO conditional comments (`<!--[if mso]>...<![endif]-->`) are kept, because
  Outlook-safe layouts and VML buttons depend on them, but only when their
  content passes the same checks as the rest (no script, event handlers or
  unsafe URLs); otherwise the whole comment goes. Other comments are dropped.
- `data:` URLs are refused everywhere, images included: Gmail and Outlook do
  not show them, and they are a common way to smuggle content past filters.
- Elements that carry or load active content (script, iframe, object, form,
  SVG ...) are removed with their content; other unknown tags only lose the tag.
- `<head>` is rebuilt from safe parts (charset, viewport, title, styles), so
  `<base>`, `<meta http-equiv=refresh>` and friends never get through.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from xml.etree.ElementTree import Element

import bleach
from bleach import html5lib_shim
from bleach.sanitizer import BleachSanitizerFilter

from app.services.rendering.document import (
    Document,
    Protected,
    escape_text,
    extract_styles,
    join_document,
    split_document,
    without_own_characters,
)
from app.services.rendering.styles import EmailCSSSanitizer, sanitize_declarations, sanitize_stylesheet

ALLOWED_TAGS = frozenset({
    "a", "abbr", "address", "article", "b", "big", "blockquote", "br", "caption", "center", "cite", "code",
    "col", "colgroup", "dd", "del", "div", "dl", "dt", "em", "figcaption", "figure", "font", "footer",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "i", "img", "ins", "li", "main", "mark", "nav",
    "ol", "p", "pre", "q", "s", "section", "small", "span", "strike", "strong", "sub", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul", "wbr",
})
GLOBAL_ATTRIBUTES = frozenset({
    "align", "bgcolor", "border", "class", "dir", "height", "id", "lang", "role", "style", "title",
    "valign", "width", "data-no-track", "data-offer",
})
TAG_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "name", "rel", "target"}),
    "img": frozenset({"alt", "hspace", "src", "vspace"}),
    "table": frozenset({"background", "cellpadding", "cellspacing", "frame", "rules", "summary"}),
    "td": frozenset({"abbr", "background", "colspan", "headers", "nowrap", "rowspan", "scope"}),
    "th": frozenset({"abbr", "background", "colspan", "headers", "nowrap", "rowspan", "scope"}),
    "font": frozenset({"color", "face", "size"}),
    "col": frozenset({"span"}),
    "colgroup": frozenset({"span"}),
    "ol": frozenset({"reversed", "start", "type"}),
    "ul": frozenset({"type"}),
    "li": frozenset({"type", "value"}),
    "hr": frozenset({"color", "noshade", "size"}),
    "blockquote": frozenset({"cite"}),
    "q": frozenset({"cite"}),
    "time": frozenset({"datetime"}),
}
PROTOCOLS = frozenset({"http", "https", "mailto", "tel", "cid"})
URL_ATTRIBUTES = frozenset({"href", "src", "background", "action", "formaction", "cite", "longdesc", "poster"})
DROP_WITH_CONTENT = frozenset({
    "applet", "audio", "base", "button", "canvas", "dialog", "embed", "form", "frame", "frameset", "head",
    "iframe", "input", "link", "math", "meta", "noembed", "noframes", "noscript", "object", "option",
    "param", "plaintext", "portal", "script", "select", "source", "style", "svg", "template", "textarea",
    "title", "track", "video", "xmp",
})
# Outlook's VML and Office tags, which only ever appear inside conditional comments.
_OFFICE_PREFIXES = ("v:", "o:", "w:")
_CONDITIONAL_EXTRA_TAGS = frozenset({"xml", "style", "noscript", "meta"})

_REVEALED_MARKER = re.compile(r"<!--\[if\s[^\]]*\]><!-->|<!--<!\[endif\]-->", re.I)
_CONDITIONAL = re.compile(r"<!--\[if\s[^\]]*\]>(.*?)<!\[endif\]-->", re.I | re.DOTALL)
_COMMENT = re.compile("<!--(?!\ue000).*?-->", re.DOTALL)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):")
_URL_NOISE = re.compile(r"[`\x00-\x20\x7f-\xa0\s]+")
_DANGEROUS_HEAD = re.compile(r"<(script|base|link|iframe|object|embed|frame)\b|<meta[^>]+refresh", re.I)
_PLACEHOLDERS = re.compile("<!--\ue000\\d+\ue001-->")
_DIV_ATTRIBUTES = re.compile(r"""^<div((?:[^>"']|"[^"]*"|'[^']*')*)>""")


@dataclass(frozen=True)
class SanitizedHtml:
    html: str
    removed: list[str]


def attribute_allowed(tag: str, name: str, value: str = "") -> bool:
    return name in GLOBAL_ATTRIBUTES or name in TAG_ATTRIBUTES.get(tag, ()) or name.startswith("aria-")


def safe_url(value: str) -> bool:
    """Relative URLs, anchors and merge tags pass; an explicit scheme must be on the list."""
    scheme = _SCHEME.match(_URL_NOISE.sub("", html.unescape(value)).lower())
    return scheme is None or scheme.group(1) in PROTOCOLS


class _ConditionalScanner(HTMLParser):
    """Finds anything unsafe inside a conditional comment, whose HTML is often a partial fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not (tag in ALLOWED_TAGS or tag in _CONDITIONAL_EXTRA_TAGS or tag.startswith(_OFFICE_PREFIXES)):
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"{name} attribute")
            elif name in URL_ATTRIBUTES and not safe_url(value):
                self.problems.append(f"unsafe URL {value[:40]}")
            elif name == "style":
                sanitize_declarations(value, self.problems)

    def handle_data(self, data: str) -> None:
        if self.lasttag == "style":
            sanitize_stylesheet(data, self.problems)


def _hide_conditional_comments(protected: Protected, removed: list[str]) -> None:
    def keep_if_safe(match: re.Match[str]) -> str:
        scanner = _ConditionalScanner()
        scanner.feed(match.group(1))
        scanner.close()
        if scanner.problems:
            removed.append(f"conditional comment containing {', '.join(scanner.problems[:3])}")
            return ""
        return protected.hide(match.group(0))

    text = _REVEALED_MARKER.sub(lambda match: protected.hide(match.group(0)), protected.text)
    protected.text = _CONDITIONAL.sub(keep_if_safe, text)


@dataclass(frozen=True)
class Prepared:
    """A template cut into parts, its conditional comments and Jinja tags hidden behind placeholders."""

    protected: Protected
    document: Document
    css: str


def prepare(source: str, removed: list[str]) -> Prepared:
    protected = Protected(without_own_characters(source).replace("\r\n", "\n"))
    _hide_conditional_comments(protected, removed)
    text, css = extract_styles(protected.text)
    protected.text = _COMMENT.sub("", text)
    protected.hide_jinja()
    return Prepared(protected, split_document(protected.text), css)


def _remove_keeping_tail(parent: Element, child: Element) -> None:
    if child.tail:
        index = list(parent).index(child)
        if index == 0:
            parent.text = (parent.text or "") + child.tail
        else:
            previous = parent[index - 1]
            previous.tail = (previous.tail or "") + child.tail
    parent.remove(child)


def _prune(parent: Element, removed: list[str]) -> None:
    """Drop active elements with their content and note every tag and attribute bleach will drop."""
    for child in list(parent):
        if not isinstance(child.tag, str):
            continue
        name = child.tag.rsplit("}", 1)[-1].lower()
        if name in DROP_WITH_CONTENT:
            removed.append(f"<{name}> element")
            _remove_keeping_tail(parent, child)
            continue
        if name not in ALLOWED_TAGS:
            removed.append(f"<{name}> tag (content kept)")
        for attribute, value in list(child.attrib.items()):
            if not attribute_allowed(name, attribute):
                removed.append(f"{attribute} attribute on <{name}>")
                del child.attrib[attribute]
            elif attribute in URL_ATTRIBUTES and not safe_url(value):
                removed.append(f"unsafe URL in {attribute} on <{name}>: {value[:60]}")
                del child.attrib[attribute]
            elif attribute == "style":
                child.attrib[attribute] = sanitize_declarations(value, removed)
        _prune(child, removed)


def clean_fragment(fragment: str, removed: list[str]) -> str:
    cleaner = bleach.Cleaner(tags=ALLOWED_TAGS, protocols=PROTOCOLS, strip=True)
    parser = html5lib_shim.BleachHTMLParser(
        tags=None, strip=False, consume_entities=False, namespaceHTMLElements=False
    )
    tree = parser.parseFragment(fragment)
    _prune(tree, removed)
    # bleach stays the authority on the output; the pruning above reports and removes whole subtrees.
    filtered = BleachSanitizerFilter(
        source=cleaner.walker(tree),
        allowed_tags=ALLOWED_TAGS,
        attributes=attribute_allowed,
        strip_disallowed_tags=True,
        strip_html_comments=False,
        css_sanitizer=EmailCSSSanitizer(),
        allowed_protocols=PROTOCOLS,
    )
    return cleaner.serializer.render(filtered)


def sanitize_prepared(prepared: Prepared, removed: list[str]) -> tuple[str, str, str]:
    """(head extras, body attributes, body) cleaned, placeholders still in place."""
    document = prepared.document
    removed.extend(f"<{m.group(1) or 'meta refresh'}> in head" for m in _DANGEROUS_HEAD.finditer(document.head))
    head = "".join(f"{placeholder}\n" for placeholder in _PLACEHOLDERS.findall(document.head))
    body_removed: list[str] = []
    body_tag = clean_fragment(f"<div{document.body_attributes}></div>", body_removed)
    removed.extend(item.replace("<div>", "<body>") for item in body_removed)
    body_attributes = _DIV_ATTRIBUTES.match(body_tag)
    return head, body_attributes.group(1) if body_attributes else "", clean_fragment(document.body, removed)


def sanitize_html(source: str) -> SanitizedHtml:
    """Clean a template for saving; merge tags and spintax pass through untouched."""
    removed: list[str] = []
    prepared = prepare(source, removed)
    head, body_attributes, body = sanitize_prepared(prepared, removed)
    document = join_document(
        html_attributes=prepared.document.html_attributes,
        title=escape_text(prepared.document.title),
        head=head,
        css=sanitize_stylesheet(prepared.css, removed),
        body_attributes=body_attributes,
        body=body,
    )
    return SanitizedHtml(prepared.protected.restore(document), list(dict.fromkeys(removed)))
