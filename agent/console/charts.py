"""Server-side SVG charts with real axes, a legend and a tooltip on every point (no script needed).

Incomplete days (conversions still to come) are shaded and say so in their tooltips.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 36
COLOURS = ("#1d4ed8", "#b45309", "#047857", "#7c3aed")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    dashed: bool = False


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering [low, high] (1, 2 or 5 times a power of ten apart)."""
    span = (high - low) or abs(high) or 1.0
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 0.001:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _label(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if abs(value) >= 1_000:
        return f"{value / 1_000:g}k"
    return f"{value:g}"


def line_chart(title: str, days: Sequence[str], series: Sequence[Series], unit: str,
               incomplete: Sequence[bool] = (), value_format: str = "{:,.2f}") -> str:
    """A line chart over `days` with a y axis in `unit`, a legend, and tooltips on each point."""
    values = [v for s in series for v in s.values if v is not None]
    if not days or not values:
        return f'<p class="muted">{escape(title)}: no data for this period.</p>'
    ticks = nice_ticks(min(0.0, min(values)), max(values))
    low, high = ticks[0], ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(days) - 1)

    def x(index: int) -> float:
        return LEFT + index * step if len(days) > 1 else LEFT + plot_w / 2

    def y(value: float) -> float:
        return TOP + plot_h - (value - low) / ((high - low) or 1.0) * plot_h

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>']
    for index, flag in enumerate(incomplete):
        if flag:
            parts.append(f'<rect class="incomplete" x="{x(index) - step / 2:.1f}" y="{TOP}" width="{step:.1f}" '
                         f'height="{plot_h}"><title>{escape(days[index])}: incomplete, conversions still '
                         'arriving</title></rect>')
    for tick in ticks:
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
                     f'<text class="tick" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{_label(tick)}</text>')
    label_every = max(1, math.ceil(len(days) / 7))
    last = len(days) - 1
    for index, day in enumerate(days):
        crowded = last - index < label_every and index != last  # too near the last label
        if (index % label_every == 0 and not crowded) or index == last:
            anchor = "end" if index == last and last > 0 else "middle"
            parts.append(f'<text class="tick" x="{x(index):.1f}" y="{HEIGHT - BOTTOM + 16}" '
                         f'text-anchor="{anchor}">{escape(day[5:])}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}"/>'
                 f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>'
                 f'<text class="unit" x="{LEFT - 6}" y="{TOP - 10}" text-anchor="end">{escape(unit)}</text>')
    legend_x = LEFT
    for number, line in enumerate(series):
        colour = COLOURS[number % len(COLOURS)]
        dash = ' stroke-dasharray="5 4"' if line.dashed else ""
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(line.values) if v is not None)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{points}"/>')
        for index, value in enumerate(line.values):
            if value is None:
                continue
            note = " (incomplete)" if index < len(incomplete) and incomplete[index] else ""
            parts.append(f'<circle cx="{x(index):.1f}" cy="{y(value):.1f}" r="3.5" fill="{colour}" tabindex="0">'
                         f'<title>{escape(days[index])} · {escape(line.name)}: '
                         f'{escape(value_format.format(value))} {escape(unit)}{note}</title></circle>')
        parts.append(f'<line x1="{legend_x}" x2="{legend_x + 18}" y1="12" y2="12" stroke="{colour}" '
                     f'stroke-width="2"{dash}/><text class="legend" x="{legend_x + 22}" y="16">'
                     f'{escape(line.name)}</text>')
        legend_x += 30 + 7 * len(line.name)
    if any(incomplete):
        parts.append(f'<rect class="incomplete" x="{legend_x}" y="6" width="12" height="12"/>'
                     f'<text class="legend" x="{legend_x + 16}" y="16">incomplete days</text>')
    parts.append("</svg>")
    return "".join(parts)
