"""Inline SVG bar charts drawn on the server (no scripts, no external files)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

BAR_WIDTH = 34
GAP = 10
HEIGHT = 150
TOP = 22
BOTTOM = 34


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value (None when suppressed) and the text shown above it."""

    label: str
    value: float | None
    text: str


def bar_chart(
    *, title: str, bars: Sequence[Bar], maximum: float, chart_id: str, description: str = ""
) -> Markup:
    """Return an accessible SVG column chart; suppressed bars show only their text.

    The chart is an image named by its `<title>` and described by its `<desc>` (each month
    and its value, for screen readers); the page puts the same figures in a table beside it.
    """
    width = max(len(bars), 1) * (BAR_WIDTH + GAP) + GAP
    plot = HEIGHT - TOP - BOTTOM
    described = Markup(f' aria-describedby="{escape(chart_id)}-desc"') if description else ""
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {HEIGHT}" width="{width}" height="{HEIGHT}" '
        f'role="img" aria-labelledby="{escape(chart_id)}"{described} '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}">{escape(title)}</title>',
        *(
            [f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>']
            if description
            else []
        ),
        f'<line x1="0" y1="{HEIGHT - BOTTOM}" x2="{width}" y2="{HEIGHT - BOTTOM}" class="axis"/>',
    ]
    for index, bar in enumerate(bars):
        x = GAP + index * (BAR_WIDTH + GAP)
        centre = x + BAR_WIDTH / 2
        height = 0.0
        if bar.value is not None and maximum > 0:
            height = max(plot * bar.value / maximum, 1.0)
            parts.append(
                f'<rect x="{x}" y="{HEIGHT - BOTTOM - height:.1f}" width="{BAR_WIDTH}" '
                f'height="{height:.1f}" class="bar"/>'
            )
        parts.append(
            f'<text x="{centre}" y="{HEIGHT - BOTTOM - height - 4:.1f}" '
            f'text-anchor="middle" class="value">{escape(bar.text)}</text>'
        )
        parts.append(
            f'<text x="{centre}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" '
            f'class="label">{escape(bar.label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
