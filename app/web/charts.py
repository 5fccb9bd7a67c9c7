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


@dataclass(frozen=True)
class Line:
    name: str
    points: str  # "x,y x,y …" for an SVG polyline
    last: float
    css: str


@dataclass(frozen=True)
class LineChart:
    width: float
    height: float
    zero_y: float
    lines: list[Line]
    labels: list[str]
    low: float
    high: float
    # The values written beside the y axis, with where they sit: the top, zero (when the lines cross it), the bottom.
    ticks: list[tuple[float, float]]
    # The x labels written under the axis, with where they sit: the first, the middle and the last.
    marks: list[tuple[float, str]]

    @property
    def empty(self) -> bool:
        return not self.labels or all(value == 0 for value in (self.low, self.high))


def line_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], width: float = 600,
               height: float = 160) -> LineChart:
    """One polyline per named series over shared x labels, on one scale that includes zero (P&L goes below)."""
    values = [float(value) for _, points in series for value in points]
    low, high = min(values, default=0.0), max(values, default=0.0)
    low, high = min(low, 0.0), max(high, 0.0)
    span = (high - low) or 1.0
    step = width / max(len(labels) - 1, 1)

    def y(value: float) -> float:
        return round(height - height * (float(value) - low) / span, 2)

    lines = [Line(name=name, points=" ".join(f"{round(index * step, 2)},{y(value)}" for index, value in
                                             enumerate(points)),
                  last=float(points[-1]) if points else 0.0, css=f"chart-line chart-line--{position % 6}")
             for position, (name, points) in enumerate(series)]
    ticks: list[tuple[float, float]] = []
    for value in dict.fromkeys((high, 0.0, low)):
        if all(abs(y(value) - at) >= height / 8 for at, _ in ticks):  # labels too close would overprint
            ticks.append((y(value), value))
    chosen = sorted({0, (len(labels) - 1) // 2, len(labels) - 1}) if labels else []
    marks = [(round(index * step, 2), labels[index]) for index in chosen]
    return LineChart(width=width, height=height, zero_y=y(0), lines=lines, labels=list(labels), low=low, high=high,
                     ticks=ticks, marks=marks)


@dataclass(frozen=True)
class HeatCell:
    row: int
    column: int
    value: float
    level: int  # 0 (nothing) to 4 (the busiest cell)


def heat_cells(grid: Sequence[Sequence[float]], levels: int = 4) -> list[HeatCell]:
    """Each cell of a rows by columns grid with a shade level relative to the busiest cell."""
    busiest = max((value for row in grid for value in row), default=0) or 1
    return [HeatCell(row=r, column=c, value=value, level=0 if value <= 0 else max(1, round(levels * value / busiest)))
            for r, row in enumerate(grid) for c, value in enumerate(row)]
