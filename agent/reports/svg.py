"""Inline SVG charts: no CDN, no script, nothing fetched when the dashboard opens."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, PAD = 560, 140, 28


def line_chart(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]],
               unit: str = "") -> str:
    """A small multi-line chart; `None` values leave a gap."""
    values = [v for line in series.values() for v in line if v is not None]
    if not labels or not values:
        return f'<svg class="chart" role="img" aria-label="{escape(title)}: no data" width="{WIDTH}" height="40"></svg>'
    low, high = min(0.0, min(values)), max(values) or 1.0
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(1, len(labels) - 1)

    def y(value: float) -> float:
        return HEIGHT - PAD - (value - low) / span * (HEIGHT - 2 * PAD)

    colours = ["#2563eb", "#dc2626", "#16a34a", "#9333ea"]
    paths = []
    for index, (name, line) in enumerate(series.items()):
        points = [f"{PAD + i * step:.1f},{y(v):.1f}" for i, v in enumerate(line) if v is not None]
        paths.append(f'<polyline fill="none" stroke="{colours[index % len(colours)]}" stroke-width="2" '
                     f'points="{" ".join(points)}"><title>{escape(name)}</title></polyline>')
    legend = " ".join(
        f'<tspan fill="{colours[i % len(colours)]}">&#9632; {escape(name)}</tspan>' for i, name in enumerate(series)
    )
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="{PAD}" y="14" font-size="12">{escape(title)} {legend}</text>'
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>'
        f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="10">{escape(labels[0])}</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="10" text-anchor="end">{escape(labels[-1])}</text>'
        f'<text x="2" y="{y(high) + 4:.1f}" font-size="10">{high:,.2f}{escape(unit)}</text>'
        + "".join(paths) + "</svg>"
    )


def pacing_bar(spent: float, projected: float, budget: float) -> str:
    """Spent so far (solid), projected month end (outline) against the budget line."""
    scale = max(budget, projected, spent, 1.0) * 1.1
    width = 300

    def x(value: float) -> float:
        return value / scale * width

    colour = "#dc2626" if projected > budget * 1.05 else ("#d97706" if projected < budget * 0.95 else "#16a34a")
    return (
        f'<svg class="pacing" width="{width}" height="22" viewBox="0 0 {width} 22" xmlns="http://www.w3.org/2000/svg" '
        f'role="img" aria-label="spent {spent:,.0f}, projected {projected:,.0f}, budget {budget:,.0f}">'
        f'<rect x="0" y="4" width="{x(projected):.1f}" height="14" fill="none" stroke="{colour}"/>'
        f'<rect x="0" y="4" width="{x(spent):.1f}" height="14" fill="{colour}" opacity="0.7"/>'
        f'<line x1="{x(budget):.1f}" y1="0" x2="{x(budget):.1f}" y2="22" stroke="#111" stroke-width="2"/></svg>'
    )
