"""CSS allow-list shared by inline `style` attributes and `<style>` blocks.

A property must be on the list (or be an Outlook `mso-` property), and its
value must not hide script: no `expression()`, no script URLs, no CSS escapes
(they are how `expr\\ession` and `java\\script:` slip past naive checks), and
`url()` only towards http(s) or an embedded `cid:` part.
"""

from __future__ import annotations

import re

import tinycss2
from bleach.css_sanitizer import CSSSanitizer

ALLOWED_PROPERTIES = frozenset({
    "background", "background-color", "background-image", "background-position", "background-repeat",
    "background-size", "border", "border-bottom", "border-bottom-color", "border-bottom-left-radius",
    "border-bottom-right-radius", "border-bottom-style", "border-bottom-width", "border-collapse",
    "border-color", "border-left", "border-left-color", "border-left-style", "border-left-width",
    "border-radius", "border-right", "border-right-color", "border-right-style", "border-right-width",
    "border-spacing", "border-style", "border-top", "border-top-color", "border-top-left-radius",
    "border-top-right-radius", "border-top-style", "border-top-width", "border-width", "box-sizing",
    "caption-side", "clear", "color", "color-scheme", "direction", "display", "empty-cells", "float",
    "font", "font-family", "font-feature-settings", "font-size", "font-stretch", "font-style",
    "font-variant", "font-weight", "height", "hyphens", "letter-spacing", "line-height", "list-style",
    "list-style-position", "list-style-type", "margin", "margin-bottom", "margin-left", "margin-right",
    "margin-top", "max-height", "max-width", "min-height", "min-width", "opacity", "outline", "overflow",
    "overflow-wrap", "padding", "padding-bottom", "padding-left", "padding-right", "padding-top",
    "src", "supported-color-schemes", "table-layout", "text-align", "text-decoration",
    "text-decoration-color", "text-decoration-line", "text-indent", "text-overflow", "text-size-adjust",
    "text-transform", "vertical-align", "visibility", "white-space", "width", "word-break",
    "word-spacing", "word-wrap", "-ms-text-size-adjust", "-webkit-font-smoothing",
    "-webkit-text-size-adjust", "-webkit-text-fill-color",
})

_SCRIPTY = re.compile(r"expression|javascript|vbscript|livescript|-moz-binding|behavior|@import", re.I)
_URL = re.compile(r"url\(\s*(['\"]?)\s*([^'\")\s]*)", re.I)
_SAFE_URL = re.compile(r"(https?://|cid:|\ue002)", re.I)
_SAFE_AT_RULES = {"media", "font-face"}


def _is_allowed_property(name: str) -> bool:
    return name in ALLOWED_PROPERTIES or name.startswith("mso-")


def unsafe_value(value: str) -> str | None:
    """Why a CSS value is refused, or None when it is safe."""
    if "\\" in value or "<" in value:
        return "escaped or markup characters"
    found = _SCRIPTY.search(value)
    if found:
        return found.group(0).lower()
    for match in _URL.finditer(value):
        if not _SAFE_URL.match(match.group(2)):
            return f"url({match.group(2)[:40]})"
    return None


def sanitize_declarations(style: str, removed: list[str]) -> str:
    """Keep the allowed declarations of a `style` attribute or a rule body; note what went."""
    kept: list[str] = []
    for node in tinycss2.parse_declaration_list(style, skip_comments=True, skip_whitespace=True):
        if node.type != "declaration":
            removed.append(f"invalid CSS '{tinycss2.serialize([node]).strip()[:60]}'")
            continue
        value = tinycss2.serialize(node.value).strip()
        if not _is_allowed_property(node.lower_name):
            removed.append(f"CSS property '{node.lower_name}'")
            continue
        reason = unsafe_value(value)
        if reason:
            removed.append(f"CSS '{node.lower_name}' with {reason}")
            continue
        kept.append(f"{node.lower_name}: {value}{' !important' if node.important else ''}")
    return "; ".join(kept)


def sanitize_stylesheet(css: str, removed: list[str]) -> str:
    """Rebuild a `<style>` block from allowed rules only: plain rules, @media and @font-face."""
    rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    return "\n".join(filter(None, (_sanitize_rule(rule, removed) for rule in rules)))


def _sanitize_rule(rule: tinycss2.ast.Node, removed: list[str]) -> str:
    if rule.type == "qualified-rule":
        selector = tinycss2.serialize(rule.prelude).strip()
        if unsafe_value(selector):
            removed.append(f"CSS rule '{selector[:60]}'")
            return ""
        body = sanitize_declarations(tinycss2.serialize(rule.content), removed)
        return f"{selector} {{ {body} }}" if body else ""
    if rule.type == "at-rule" and rule.lower_at_keyword in _SAFE_AT_RULES and rule.content is not None:
        prelude = tinycss2.serialize(rule.prelude).strip()
        if unsafe_value(prelude):
            removed.append(f"CSS @{rule.lower_at_keyword} {prelude[:60]}")
            return ""
        if rule.lower_at_keyword == "font-face":
            body = sanitize_declarations(tinycss2.serialize(rule.content), removed)
        else:
            inner = tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True)
            body = "\n".join(filter(None, (_sanitize_rule(child, removed) for child in inner)))
        return f"@{rule.lower_at_keyword} {prelude} {{ {body} }}" if body else ""
    if rule.type == "at-rule":
        removed.append(f"CSS @{rule.lower_at_keyword} rule")
    else:
        removed.append("invalid CSS rule")
    return ""


class EmailCSSSanitizer(CSSSanitizer):
    """bleach's hook for `style` attributes; it only filters property names, so values are checked here."""

    def __init__(self) -> None:
        super().__init__(allowed_css_properties=ALLOWED_PROPERTIES, allowed_svg_properties=frozenset())

    def sanitize_css(self, style: str) -> str:
        return sanitize_declarations(style, [])
