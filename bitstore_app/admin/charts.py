"""Server-rendered SVG charts for the admin's statistics page: no JavaScript, no CDN.

Each function takes the per-tier statistics (objects with `tier`, `hits`, `misses`,
`errors`, `p50_ms`, `p95_ms`) and returns an `<svg>` document as a string. Text uses
`currentColor`, so the charts follow the admin's light or dark theme.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

WIDTH = 860
LABEL_WIDTH = 190
BAR_WIDTH = 380
ROW_HEIGHT = 34
TOP = 44
BOTTOM = 12

HIT_COLOUR = "#2e7d32"
MISS_COLOUR = "#b0b0b0"
ERROR_COLOUR = "#c62828"
P50_COLOUR = "#1565c0"
P95_COLOUR = "#64b5f6"


def outcome_chart(tiers: Sequence[Any]) -> str:
    """Return stacked bars of each tier's hits, misses and errors."""
    if not any(t.hits + t.misses + t.errors for t in tiers):
        return _empty("Outcomes per tier", "No tier was asked for anything in this window.")
    scale = BAR_WIDTH / max(t.hits + t.misses + t.errors for t in tiers)
    parts = _legend([("hits", HIT_COLOUR), ("misses", MISS_COLOUR), ("errors", ERROR_COLOUR)])
    for row, stats in enumerate(tiers):
        y = TOP + row * ROW_HEIGHT
        parts.append(_label(stats.tier, y))
        x = LABEL_WIDTH
        for count, colour, noun in (
            (stats.hits, HIT_COLOUR, "hits"),
            (stats.misses, MISS_COLOUR, "misses"),
            (stats.errors, ERROR_COLOUR, "errors"),
        ):
            width = count * scale
            if count:
                parts.append(_bar(x, y + 6, width, ROW_HEIGHT - 12, colour, f"{count} {noun}"))
            x += width
        summary = f"{stats.hits} hits, {stats.misses} misses, {stats.errors} errors"
        parts.append(_text(x + 8, y + ROW_HEIGHT / 2, summary))
    return _svg("Outcomes per tier", len(tiers), parts)


def latency_chart(tiers: Sequence[Any]) -> str:
    """Return paired bars of each tier's median (p50) and p95 latency in milliseconds."""
    timed = [t for t in tiers if t.p95_ms is not None]
    if not timed:
        return _empty("Latency per tier", "No latency was recorded in this window.")
    scale = BAR_WIDTH / max(max(t.p95_ms for t in timed), 0.001)
    parts = _legend([("p50 (median)", P50_COLOUR), ("p95", P95_COLOUR)])
    for row, stats in enumerate(timed):
        y = TOP + row * ROW_HEIGHT
        parts.append(_label(stats.tier, y))
        half = (ROW_HEIGHT - 10) / 2
        p50, p95 = stats.p50_ms, stats.p95_ms
        for top, value, colour, name in (
            (0, p50, P50_COLOUR, "p50"),
            (half, p95, P95_COLOUR, "p95"),
        ):
            parts.append(_bar(LABEL_WIDTH, y + 5 + top, value * scale, half, colour, name))
        x = LABEL_WIDTH + p95 * scale + 8
        parts.append(_text(x, y + ROW_HEIGHT / 2, f"p50 {_ms(p50)}, p95 {_ms(p95)}"))
    return _svg("Latency per tier", len(timed), parts)


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def _svg(title: str, rows: int, parts: list[str]) -> str:
    height = TOP + rows * ROW_HEIGHT + BOTTOM
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bitstore-chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'aria-label="{escape(title)}" font-family="sans-serif" font-size="13">'
        f"<title>{escape(title)}</title>"
        f'<text x="0" y="16" font-size="15" font-weight="bold" fill="currentColor">'
        f"{escape(title)}</text>" + "".join(parts) + "</svg>"
    )


def _empty(title: str, message: str) -> str:
    parts = [_text(0, TOP + 8, message)]
    return _svg(title, 1, parts)


def _legend(entries: list[tuple[str, str]]) -> list[str]:
    parts, x = [], LABEL_WIDTH
    for name, colour in entries:
        parts.append(f'<rect x="{x}" y="24" width="12" height="12" fill="{colour}"/>')
        parts.append(_text(x + 17, 30, name))
        x += 30 + 8 * len(name)
    return parts


def _label(tier: str, y: float) -> str:
    shown = tier if len(tier) <= 24 else tier[:23] + "…"
    return (
        f'<text x="{LABEL_WIDTH - 10}" y="{y + ROW_HEIGHT / 2:.1f}" text-anchor="end" '
        f'dominant-baseline="middle" fill="currentColor"><title>{escape(tier)}</title>'
        f"{escape(shown)}</text>"
    )


def _bar(x: float, y: float, width: float, height: float, colour: str, tip: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 1):.1f}" height="{height:.1f}" '
        f'fill="{colour}"><title>{escape(tip)}</title></rect>'
    )


def _text(x: float, y: float, text: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" dominant-baseline="middle" fill="currentColor">'
        f"{escape(text)}</text>"
    )
