"""Pre-send content checks, shown to the marketer as a checklist. No network access: syntax only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

MAX_SUBJECT_LENGTH = 60
MAX_HTML_BYTES = 100 * 1024  # Gmail clips messages at 102 KB
MIN_TEXT_PER_IMAGE = 100
MAX_SUBJECT_CAPS_RATIO = 0.3
MAX_BODY_CAPS_RATIO = 0.2
MAX_BODY_SPAM_WORDS = 2
SPAM_PHRASES = (
    "100% free", "act now", "apply now", "buy now", "cash bonus", "click here", "congratulations",
    "credit card", "double your", "earn money", "extra income", "free money", "guaranteed", "lowest price",
    "make money", "million dollars", "miracle", "no cost", "no obligation", "once in a lifetime",
    "order now", "risk-free", "risk free", "urgent", "viagra", "weight loss", "winner",
    "work from home", "you have been selected", "$$$",
)

_SPAM = re.compile("|".join(rf"(?<!\w){re.escape(phrase)}(?!\w)" for phrase in SPAM_PHRASES), re.I)
_EXPRESSION = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_WORD = re.compile(r"[^\W\d_]{3,}")
_HOST = re.compile(r"^[a-z0-9.-]+(:\d+)?$", re.I)
_UNSUBSCRIBE_TAG = re.compile(r"\{\{-?\s*unsubscribe_url\b")
_ADDRESS_TAG = re.compile(r"\{\{-?\s*physical_address\b")
_SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_INVISIBLE = frozenset({"head", "title", "style", "script"})


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


class _Content(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: list[tuple[str, str]] = []
        self.images: list[dict[str, str | None]] = []
        self.hidden = 0
        self.link_start: int | None = None
        self.href = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in _INVISIBLE:
            self.hidden += 1
        elif tag == "img" and not (values.get("width") == "1" and values.get("height") == "1"):
            self.images.append(values)
        elif tag == "a" and "href" in values:
            self.href, self.link_start = values["href"] or "", len(self.text)

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE:
            self.hidden = max(0, self.hidden - 1)
        elif tag == "a" and self.link_start is not None:
            self.links.append((self.href.strip(), " ".join(self.text[self.link_start :])))
            self.link_start = None

    def handle_data(self, data: str) -> None:
        if not self.hidden and data.strip():
            self.text.append(data.strip())


def _caps_ratio(text: str) -> float:
    words = _WORD.findall(_JINJA.sub(" ", text))
    return sum(word.isupper() for word in words) / len(words) if words else 0.0


def _link_problem(href: str) -> str | None:
    if _JINJA.search(href) or href.startswith("#"):
        return None
    if not href or any(char.isspace() for char in href):
        return "empty or contains spaces"
    parts = urlsplit(href)
    scheme = parts.scheme.lower()
    if scheme not in _SAFE_SCHEMES:
        return f"unsafe or missing scheme '{scheme}'" if scheme else "relative URL"
    if scheme in ("http", "https") and (not _HOST.match(parts.netloc) or "." not in parts.netloc):
        return "invalid host"
    if scheme == "mailto" and "@" not in parts.path:
        return "invalid address"
    return None


def check_content(*, subject: str, html: str, text: str | None = None) -> list[Check]:
    """The checklist for a template source (merge tags unrendered) and its subject."""
    content = _Content()
    content.feed(html)
    content.close()
    visible = " ".join(content.text)
    everything = f"{html}\n{text or ''}"
    checks = [_unsubscribe(content, everything)]
    has_address = bool(_ADDRESS_TAG.search(everything))
    checks.append(Check("Physical address", has_address, "" if has_address else "Add {{ physical_address }}."))
    subject_length = len(_EXPRESSION.sub("x" * 8, subject).strip())
    checks.append(Check(
        "Subject length",
        0 < subject_length <= MAX_SUBJECT_LENGTH,
        f"{subject_length} characters (aim for 1 to {MAX_SUBJECT_LENGTH}).",
    ))
    subject_spam = sorted({m.group(0).lower() for m in _SPAM.finditer(subject)})
    body_spam = sorted({m.group(0).lower() for m in _SPAM.finditer(visible)})
    checks.append(Check(
        "Spam trigger words",
        not subject_spam and len(body_spam) <= MAX_BODY_SPAM_WORDS,
        f"subject: {', '.join(subject_spam) or 'none'}; body: {', '.join(body_spam) or 'none'}",
    ))
    subject_caps, body_caps = _caps_ratio(subject), _caps_ratio(visible)
    checks.append(Check(
        "ALL-CAPS",
        subject_caps <= MAX_SUBJECT_CAPS_RATIO and body_caps <= MAX_BODY_CAPS_RATIO,
        f"{subject_caps:.0%} of subject words and {body_caps:.0%} of body words are in capitals.",
    ))
    images, characters = len(content.images), len(_JINJA.sub("", visible))
    checks.append(Check(
        "Image-to-text ratio",
        images == 0 or characters >= MIN_TEXT_PER_IMAGE * images,
        f"{images} images, {characters} characters of text (aim for {MIN_TEXT_PER_IMAGE} per image).",
    ))
    bad_links = [f"{href or '(empty)'}: {problem}" for href, _ in content.links if (problem := _link_problem(href))]
    checks.append(Check("Links", not bad_links, "; ".join(bad_links[:5]) or f"{len(content.links)} links look valid."))
    size = len(html.encode())
    checks.append(Check(
        "Message size", size <= MAX_HTML_BYTES, f"{size / 1024:.1f} KB of HTML (Gmail clips at 102 KB)."
    ))
    no_alt = [str(image.get("src") or "(no src)") for image in content.images if image.get("alt") is None]
    checks.append(Check("Image alt text", not no_alt, "Missing on: " + ", ".join(no_alt[:5]) if no_alt else ""))
    return checks


def _unsubscribe(content: _Content, everything: str) -> Check:
    if _UNSUBSCRIBE_TAG.search(everything):
        return Check("Unsubscribe link", True, "Uses {{ unsubscribe_url }}.")
    for href, label in content.links:
        if "unsubscribe" in href.lower() or "unsubscribe" in label.lower():
            return Check("Unsubscribe link", True, f"Link to {href}.")
    return Check("Unsubscribe link", False, "Add a link to {{ unsubscribe_url }}.")
