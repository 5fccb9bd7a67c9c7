"""A text/plain part generated from HTML: blocks become lines, links become `text (url)`."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

_SKIPPED = frozenset({"head", "title", "style", "script", "noscript", "template"})
_BLOCKS = frozenset({
    "address", "article", "blockquote", "center", "dd", "div", "dl", "dt", "figcaption", "figure",
    "footer", "header", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
    "h1", "h2", "h3", "h4", "h5", "h6",
})
_PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table"})
_CELLS = frozenset({"td", "th"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextWriter(HTMLParser):
    def __init__(self, comment: Callable[[str], str]) -> None:
        super().__init__(convert_charrefs=True)
        self.comment = comment
        self.out: list[str] = []
        self.skip_depth = 0
        self.link: tuple[str, int] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skip_depth += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag == "hr":
            self.out.append("\n---\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in _CELLS:
            self.out.append(" ")
        elif tag in _BLOCKS:
            self.out.append("\n\n" if tag in _PARAGRAPHS else "\n")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and alt.strip():
                self.out.append(f" {alt.strip()} ")
        elif tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            self.link = (href, len(self.out))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _BLOCKS:
            self.out.append("\n\n" if tag in _PARAGRAPHS else "\n")
        elif tag == "a" and self.link:
            self._close_link(*self.link)
            self.link = None

    def _close_link(self, href: str, start: int) -> None:
        if not href or href.startswith("#"):
            return
        text = "".join(self.out[start:]).strip()
        if not text:
            self.out.append(href)
        elif text != href.removeprefix("mailto:"):
            self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.out.append(_SPACES.sub(" ", data.replace("\n", " ")))

    def handle_comment(self, data: str) -> None:
        if not self.skip_depth:
            self.out.append(self.comment(data))


def html_to_text(markup: str, comment: Callable[[str], str] = lambda data: "") -> str:
    """Plain text for an HTML body; `comment` decides what a comment becomes (nothing by default)."""
    writer = _TextWriter(comment)
    writer.feed(markup)
    writer.close()
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(writer.out).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip() + "\n"
