"""Helpers that let HTML tools work on a template without breaking its Jinja tags.

HTML parsers move stray text out of tables ("foster parenting"), so a
`{% for %}` between `<table>` and `<tr>` would end up before the table. Jinja
tags are therefore swapped for opaque placeholders before any parsing: an HTML
comment where the tag stands between elements (comments stay in place) and
bare private-use characters inside a tag's attributes. MSO conditional
comments, whose content no HTML parser looks into, are stored the same way.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_TAG_START = re.compile(r"<[a-zA-Z]")
# A start tag still open at the end of the text, allowing for quoted values that hold '>'.
_UNCLOSED_TAG = re.compile(r"""<[a-zA-Z][^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*(?:"[^"]*|'[^']*)?\Z""")
_PLACEHOLDER = re.compile("<!--\ue000(\\d+)\ue001-->|\ue002(\\d+)\ue001")
_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.I | re.DOTALL)
_HEAD = re.compile(r"<head\b[^>]*>(.*?)</head\s*>", re.I | re.DOTALL)
_BODY = re.compile(r"""<body\b((?:[^>"']|"[^"]*"|'[^']*')*)>(.*?)(?:</body\s*>|$)""", re.I | re.DOTALL)
_HTML_TAG = re.compile(r"""<html\b((?:[^>"']|"[^"]*"|'[^']*')*)>""", re.I)
_TITLE = re.compile(r"<title\b[^>]*>(.*?)</title\s*>", re.I | re.DOTALL)
_OUTER = re.compile(r"<!doctype[^>]*>|</?html\b[^>]*>|<head\b.*?</head\s*>|</?body\b[^>]*>", re.I | re.DOTALL)
_ATTRIBUTE = re.compile(r"""([\w:-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")
_OWN_CHARACTERS = dict.fromkeys((0xE000, 0xE001, 0xE002))
HTML_ATTRIBUTES = frozenset({"lang", "dir", "xmlns", "xmlns:v", "xmlns:o", "xmlns:w"})


@dataclass
class Protected:
    """Text with placeholders, and the original pieces they stand for."""

    text: str
    pieces: list[str] = field(default_factory=list)

    def hide(self, piece: str, *, in_tag: bool = False) -> str:
        self.pieces.append(piece)
        index = len(self.pieces) - 1
        return f"\ue002{index}\ue001" if in_tag else f"<!--\ue000{index}\ue001-->"

    def restore(self, text: str) -> str:
        return _PLACEHOLDER.sub(lambda match: self.pieces[int(match.group(1) or match.group(2))], text)

    def hide_jinja(self) -> None:
        """Swap every Jinja tag in `text` for a placeholder that suits where it stands."""
        out: list[str] = []
        tail = ""
        position = 0
        for match in _JINJA.finditer(self.text):
            tail = _last_tag(tail + self.text[position : match.start()])
            placeholder = self.hide(match.group(0), in_tag=bool(_UNCLOSED_TAG.match(tail)))
            out.extend((self.text[position : match.start()], placeholder))
            tail += placeholder
            position = match.end()
        out.append(self.text[position:])
        self.text = "".join(out)


def _last_tag(text: str) -> str:
    starts = [match.start() for match in _TAG_START.finditer(text)]
    return text[starts[-1] :] if starts else ""


def without_own_characters(source: str) -> str:
    """Drop the private-use characters that placeholders are made of; they mean nothing in an email."""
    return source.translate(_OWN_CHARACTERS)


def escape_text(text: str) -> str:
    """Escape text for HTML while leaving placeholders intact."""
    out: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        out.extend((html.escape(html.unescape(text[position : match.start()]), quote=False), match.group(0)))
        position = match.end()
    out.append(html.escape(html.unescape(text[position:]), quote=False))
    return "".join(out)


def extract_styles(source: str) -> tuple[str, str]:
    """(document without its `<style>` blocks, their CSS joined); old `<!-- -->` wrappers are dropped."""
    blocks: list[str] = []

    def take(match: re.Match[str]) -> str:
        blocks.append(match.group(1).strip().removeprefix("<!--").removesuffix("-->"))
        return ""

    return _STYLE.sub(take, source), "\n".join(blocks)


def blank_styles(source: str) -> str:
    """The source with `<style>` blocks emptied but their line breaks kept, so line numbers still match."""
    return _STYLE.sub(lambda match: "\n" * match.group(0).count("\n"), source)


def attributes(tag_inside: str) -> dict[str, str]:
    return {
        name.lower(): html.unescape(value.strip("\"'")) for name, value in _ATTRIBUTE.findall(tag_inside)
    }


def format_attributes(values: dict[str, str]) -> str:
    return "".join(f' {name}="{html.escape(value)}"' for name, value in values.items())


@dataclass(frozen=True)
class Document:
    html_attributes: dict[str, str]
    title: str
    head: str
    body_attributes: str
    body: str


def split_document(source: str) -> Document:
    """Cut a full HTML document, or a bare fragment, into the parts that are cleaned separately."""
    head_match = _HEAD.search(source)
    head = head_match.group(1) if head_match else ""
    title_match = _TITLE.search(head)
    html_match = _HTML_TAG.search(source)
    body_match = _BODY.search(source)
    if body_match:
        # Browsers show text written outside <body> (typed after </html>, say) in the body: so do we.
        before, after = source[: body_match.start()], source[body_match.end() :]
        body_attributes = body_match.group(1)
        body = "".join((_OUTER.sub("", before).strip(), body_match.group(2), _OUTER.sub("", after).rstrip()))
    else:
        body_attributes, body = "", _OUTER.sub("", source)
    return Document(
        html_attributes={
            name: value
            for name, value in attributes(html_match.group(1) if html_match else "").items()
            if name in HTML_ATTRIBUTES
        },
        title=title_match.group(1).strip() if title_match else "",
        head=_TITLE.sub("", head),
        body_attributes=body_attributes,
        body=body,
    )


def join_document(
    *, html_attributes: dict[str, str], title: str, head: str, css: str, body_attributes: str, body: str
) -> str:
    style = f"<style>\n{css}\n</style>\n" if css else ""
    return (
        f"<!DOCTYPE html>\n<html{format_attributes(html_attributes)}>\n<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="x-apple-disable-message-reformatting">\n'
        f"<title>{title}</title>\n{head}{style}</head>\n<body{body_attributes}>\n{body}\n</body>\n</html>\n"
    )
