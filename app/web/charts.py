"""Server-rendered SVG charts: the numbers become shapes here, templates only draw them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    label: str
    value: int


def bars(values: Sequence[tuple[str, int]], width: float = 600, height: float = 120, gap: float = 2) -> list[Bar]:
    """Bars scaled to the tallest value, bottom-aligned in a `width` x `height` box."""
    if not values:
        return []
    tallest = max(value for _, value in values) or 1
    step = width / len(values)
    result = []
    for index, (label, value) in enumerate(values):
        bar_height = height * value / tallest
        result.append(Bar(x=index * step + gap / 2, y=height - bar_height, height=bar_height, label=label,
                          value=value))
    return result
