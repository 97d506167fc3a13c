"""A tiny server-side SVG sparkline of a series' recent windows, with its threshold lines."""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, PAD = 120, 28, 2
LEVEL_COLOURS = {"critical": "#c0392b", "warning": "#b7791f"}


def svg(points: list[tuple[float | None, str]], *, warn=None, critical=None, label: str = "") -> SafeString:
    """``points`` are (value, level) oldest first; missing values leave a gap."""
    values = [v for v, _ in points if v is not None]
    if not values:
        return mark_safe('<span class="muted small">no data</span>')
    lines = [t for t in (warn, critical) if t is not None]
    low, high = min(values + lines), max(values + lines)
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(1, len(points) - 1)

    def y(value: float) -> float:
        return round(HEIGHT - PAD - (value - low) / span * (HEIGHT - 2 * PAD), 1)

    parts = []
    for threshold, colour in ((warn, "#b7791f"), (critical, "#c0392b")):
        if threshold is not None:
            parts.append(
                f'<line x1="0" x2="{WIDTH}" y1="{y(threshold)}" y2="{y(threshold)}" stroke="{colour}" '
                'stroke-width="0.6" stroke-dasharray="2,2"/>'
            )
    path, pen_down = [], False
    for index, (value, _level) in enumerate(points):
        if value is None:
            pen_down = False
            continue
        path.append(f"{'L' if pen_down else 'M'}{round(PAD + index * step, 1)},{y(value)}")
        pen_down = True
    parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="#2457c5" stroke-width="1.2"/>')
    for index, (value, level) in enumerate(points):
        if value is not None and level in LEVEL_COLOURS:
            parts.append(
                f'<circle cx="{round(PAD + index * step, 1)}" cy="{y(value)}" r="1.6" fill="{LEVEL_COLOURS[level]}"/>'
            )
    title = escape(label or f"last {len(points)} windows")
    return mark_safe(
        f'<svg class="sparkline" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{title}"><title>{title}</title>{"".join(parts)}</svg>'
    )
