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


@dataclass(frozen=True)
class TwoWayBar:
    """One day of a two-way chart: a bar above the axis and one below it."""

    x: float
    width: float
    up_y: float
    up_height: float
    down_height: float
    label: str
    up: int
    down: int


@dataclass(frozen=True)
class TwoWayChart:
    width: float
    height: float
    axis_y: float
    bars: list[TwoWayBar]


def two_way_bars(values: Sequence[tuple[str, int, int]], width: float = 600, height: float = 120,
                 gap: float = 2) -> TwoWayChart:
    """Gains above the axis and losses below it, on one scale; the axis sits where the two extremes fit."""
    tallest_up = max((up for _, up, _ in values), default=0)
    tallest_down = max((down for _, _, down in values), default=0)
    span = (tallest_up + tallest_down) or 1
    axis_y = height * tallest_up / span if tallest_up or tallest_down else height
    step = width / len(values) if values else width
    drawn = []
    for index, (label, up, down) in enumerate(values):
        up_height = height * up / span
        drawn.append(TwoWayBar(x=index * step + gap / 2, width=max(step - gap, 1), up_y=axis_y - up_height,
                               up_height=up_height, down_height=height * down / span, label=label, up=up, down=down))
    return TwoWayChart(width=width, height=height, axis_y=axis_y, bars=drawn)
