"""Spintax `{Hi|Hello|Hey}`, with nesting, compiled into Jinja conditionals.

Order: spintax is translated *into* the Jinja source before it is compiled,
not applied to the text before or after merging. Before merging would mean one
compiled template per variant combination; after merging would spin braces
and pipes that arrive in subscriber data. Translating it lets one compiled
template serve every subscriber, while the variant is picked per message from
a `_spin` list of choices. Jinja's own `{{ }}`, `{% %}` and `{# #}` (and
`{% raw %}` blocks) are skipped as opaque units, so a pipe filter inside
`{{ name | upper }}` is never taken for an alternative. A nested group at the
very start of a group must not touch its opening brace (`{ {a|b} c|d}`),
since `{{` starts a Jinja expression.

A group needs at least two alternatives; `{word}` and unbalanced braces stay
literal text. Choices depend on a per-subscriber seed and on the group's own
text, so the same group in the subject, HTML and text parts picks the same
alternative, and re-rendering a message gives the same result.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field

SPIN_VARIABLE = "_spin"

_JINJA_END = {"{": "}}", "%": "%}", "#": "#}"}
_RAW_START = re.compile(r"\{%-?\s*raw\s*-?%\}")
_RAW_END = re.compile(r"\{%-?\s*endraw\s*-?%\}")
_TAG = re.compile(r"<[^>]*>|\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_SPECIAL = re.compile(r"[{|}]")
_SPACE = re.compile(r"\s+")
_MASK = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class SpinGroup:
    key: int
    size: int


@dataclass(slots=True)
class _Group:
    options: list[list[str | _Group]] = field(default_factory=lambda: [[]])


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def spin_seed(campaign_id: object, subscriber_id: object) -> int:
    """A stable seed: Python's hash() changes between processes, so it cannot be used."""
    return _hash64(f"{campaign_id}:{subscriber_id}")


def _mix(value: int) -> int:
    """SplitMix64 finaliser: spreads seed ^ key over all 64 bits so `% size` is uniform."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def choices(seed: int, groups: list[SpinGroup]) -> list[int]:
    return [_mix(seed ^ group.key) % group.size for group in groups]


def _jinja_unit_end(source: str, start: int) -> int:
    """End of the Jinja tag at `start`, of a whole raw block, or -1 when unterminated."""
    raw = _RAW_START.match(source, start)
    if raw:
        end = _RAW_END.search(source, raw.end())
        return end.end() if end else -1
    close = source.find(_JINJA_END[source[start + 1]], start + 2)
    return close + 2 if close >= 0 else -1


def _parse(source: str) -> list[str | _Group]:
    root: list[str | _Group] = []
    stack: list[_Group] = []
    position = 0
    length = len(source)

    def current() -> list[str | _Group]:
        return stack[-1].options[-1] if stack else root

    while position < length:
        found = _SPECIAL.search(source, position)
        if found is None:
            current().append(source[position:])
            break
        if found.start() > position:
            current().append(source[position : found.start()])
        position = found.start()
        char = source[position]
        if char == "{" and position + 1 < length and source[position + 1] in _JINJA_END:
            end = _jinja_unit_end(source, position)
            end = length if end < 0 else end
            current().append(source[position:end])
            position = end
            continue
        if char == "{":
            stack.append(_Group())
        elif char == "|" and stack:
            stack[-1].options.append([])
        elif char == "}" and stack:
            group = stack.pop()
            if len(group.options) > 1:
                current().append(group)
            else:
                current().extend(["{", *group.options[0], "}"])
        else:
            current().append(char)
        position += 1
    while stack:
        # An unclosed group is literal text: give back its brace and pipes.
        group = stack.pop()
        literal: list[str | _Group] = ["{"]
        for index, option in enumerate(group.options):
            literal.extend(option if index == 0 else ["|", *option])
        current().extend(literal)
    return root


def _source_text(pieces: list[str | _Group]) -> str:
    return "".join(
        piece if isinstance(piece, str) else "{" + "|".join(_source_text(o) for o in piece.options) + "}"
        for piece in pieces
    )


def _group_key(group: _Group) -> int:
    """Keyed on visible text, so the HTML and generated text parts agree on the choice."""
    text = _TAG.sub("", html.unescape(_source_text([group])))
    return _hash64(_SPACE.sub(" ", text).strip())


def _emit(pieces: list[str | _Group], groups: list[SpinGroup]) -> str:
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        index = len(groups)
        groups.append(SpinGroup(key=_group_key(piece), size=len(piece.options)))
        for number, option in enumerate(piece.options):
            if number == 0:
                out.append(f"{{% if {SPIN_VARIABLE}[{index}] == 0 %}}")
            elif number < len(piece.options) - 1:
                out.append(f"{{% elif {SPIN_VARIABLE}[{index}] == {number} %}}")
            else:
                out.append("{% else %}")
            out.append(_emit(option, groups))
        out.append("{% endif %}")
    return "".join(out)


def compile_spintax(source: str) -> tuple[str, list[SpinGroup]]:
    """Turn spintax in a Jinja source into conditionals over `_spin[i]`, the i-th group's choice."""
    if "|" not in source:
        return source, []
    groups: list[SpinGroup] = []
    return _emit(_parse(source), groups), groups
