"""The burndown chart as SVG markup, drawn on the server (no charting script in the page).

Numbers and dates only reach the markup, formatted here; nothing a person wrote does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from markupsafe import Markup

__all__ = ["burndown_svg"]

WIDTH = 640
HEIGHT = 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 44, 16, 14, 34


def burndown_svg(points: Sequence[tuple[datetime, int, int]]) -> Markup:
    """Remaining (solid) and completed (dashed) tasks over time, ``points`` as (at, remaining,
    completed) in time order; a short text when there is nothing to draw."""
    if not points:
        return Markup('<p class="empty">No tasks in this release yet.</p>')
    start, end = points[0][0].timestamp(), points[-1][0].timestamp()
    span = max(end - start, 1.0)
    top = max(max(r, c) for _at, r, c in points) or 1
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(at: datetime) -> float:
        return PAD_LEFT + (at.timestamp() - start) / span * inner_w

    def y(value: int) -> float:
        return PAD_TOP + inner_h - value / top * inner_h

    def steps(index: int) -> str:
        out: list[str] = []
        previous: float | None = None
        for point in points:
            value = point[1] if index == 1 else point[2]
            px, py = x(point[0]), y(value)
            if previous is not None:
                out.append(f"{px:.1f},{previous:.1f}")
            out.append(f"{px:.1f},{py:.1f}")
            previous = py
        if len(points) == 1:
            out.append(f"{PAD_LEFT + inner_w:.1f},{previous:.1f}")
        return " ".join(out)

    last = points[-1]
    bottom = PAD_TOP + inner_h
    parts = [
        f'<svg class="burndown" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="Burndown: '
        f'{last[1]} remaining, {last[2]} completed">',
        f'<line class="axis" x1="{PAD_LEFT}" y1="{bottom}" x2="{WIDTH - PAD_RIGHT}" y2="{bottom}"/>',
        f'<line class="axis" x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{PAD_TOP + inner_h}"/>',
        f'<text class="tick" x="{PAD_LEFT - 6}" y="{PAD_TOP + 4}" text-anchor="end">{top}</text>',
        f'<text class="tick" x="{PAD_LEFT - 6}" y="{PAD_TOP + inner_h}" text-anchor="end">0</text>',
        f'<text class="tick" x="{PAD_LEFT}" y="{HEIGHT - 10}">{points[0][0]:%Y-%m-%d %H:%M}</text>',
        f'<text class="tick" x="{WIDTH - PAD_RIGHT}" y="{HEIGHT - 10}" text-anchor="end">{last[0]:%Y-%m-%d %H:%M}'
        "</text>",
        f'<polyline class="remaining" points="{steps(1)}"/>',
        f'<polyline class="completed" points="{steps(2)}"/>',
        "</svg>",
    ]
    return Markup("\n".join(parts))
