"""Server-rendered SVG line charts of the trends: one chart per quantity, one line per tier
(or per cache level); no JavaScript. Each point carries a <title> with its time and value,
and each chart a text summary, so they read without a mouse too."""

from __future__ import annotations

from html import escape

from .charts import WIDTH, _legend, _svg, _text
from .trends import LEVEL_SERIES, SERIES, Trends

PLOT_LEFT = 70
PLOT_TOP = 50
PLOT_HEIGHT = 160
PLOT_WIDTH = WIDTH - PLOT_LEFT - 20
#: Line colours, one per tier in order (repeated past the tenth).
PALETTE = (
    "#1565c0", "#2e7d32", "#c62828", "#6a1b9a", "#ef6c00",
    "#00838f", "#5d4037", "#ad1457", "#9e9d24", "#455a64",
)  # fmt: skip


def trend_charts(trends: Trends) -> list[str]:
    """Return one SVG document per charted quantity of the tiers."""
    return [_chart(trends, key, title, unit) for key, (title, unit) in SERIES.items()]


def level_charts(trends: Trends) -> list[str]:
    """Return the cache levels' charts (`trends.level_trends`): bytes held and evictions."""
    return [
        _chart(trends, key, title, unit, by="cache level")
        for key, (title, unit) in LEVEL_SERIES.items()
    ]


def _chart(trends: Trends, key: str, title: str, unit: str, by: str = "tier") -> str:
    if key == "bytes":  # a level's size: the last sample of each bucket
        heading = f"{title} (the last sample of each {_span(trends)}), by {by}"
    else:
        heading = f"{title} per {_span(trends)}, by {by}"
    lines = {tier: values[key] for tier, values in trends.values.items()}
    numbers = [v for values in lines.values() for v in values if v is not None]
    top = max(numbers, default=0) or 1
    parts = _legend([(tier, _colour(i)) for i, tier in enumerate(lines)])
    parts += _axes(trends, top, unit)
    for number, (tier, values) in enumerate(lines.items()):
        parts += _line(trends, tier, values, top, _colour(number), unit)
    word, summarize = _SUMMARIES.get(key, ("total", _total))
    total = ", ".join(f"{tier}: {_number(summarize(values))}" for tier, values in lines.items())
    parts.append(_text(0, PLOT_TOP + PLOT_HEIGHT + 40, f"{word} {unit}: {total or f'no {by}'}"))
    rows = (PLOT_TOP + PLOT_HEIGHT + 50 - 44) / 34  # charts._svg sizes by rows of 34 px
    svg = _svg(heading, rows, parts)
    return svg.replace('class="bitstore-chart"', 'class="bitstore-trend"', 1)


def _total(values: list[float | None]) -> float:
    return sum(v for v in values if v is not None)


def _peak(values: list[float | None]) -> float:
    return max((v for v in values if v is not None), default=0)


def _latest(values: list[float | None]) -> float:
    return next((v for v in reversed(values) if v is not None), 0)


#: How a chart sums up each line below it, by key (else: the total).
_SUMMARIES = {"p50_ms": ("peak", _peak), "p95_ms": ("peak", _peak), "bytes": ("latest", _latest)}


def _axes(trends: Trends, top: float, unit: str) -> list[str]:
    bottom = PLOT_TOP + PLOT_HEIGHT
    parts = [
        f'<line x1="{PLOT_LEFT}" y1="{PLOT_TOP}" x2="{PLOT_LEFT}" y2="{bottom}" '
        'stroke="currentColor" stroke-opacity="0.5"/>',
        f'<line x1="{PLOT_LEFT}" y1="{bottom}" x2="{PLOT_LEFT + PLOT_WIDTH}" y2="{bottom}" '
        'stroke="currentColor" stroke-opacity="0.5"/>',
        _end_text(PLOT_LEFT - 6, PLOT_TOP, _number(top)),
        _end_text(PLOT_LEFT - 6, bottom, "0"),
    ]
    starts = trends.starts
    for position in (0, len(starts) // 2, len(starts) - 1):
        x = _x(position, len(starts))
        parts.append(_text(x - 30, bottom + 14, f"{starts[position]:%m-%d %H:%M}"))
    return parts


def _line(trends: Trends, tier: str, values: list, top: float, colour: str, unit: str) -> list:
    count = len(values)
    points = [
        (_x(i, count), PLOT_TOP + PLOT_HEIGHT - (v / top) * PLOT_HEIGHT, i, v)
        for i, v in enumerate(values)
        if v is not None
    ]
    if not points:
        return []
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
    parts = [f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>']
    for x, y, i, v in points:
        tip = f"{tier}, {trends.starts[i]:%Y-%m-%d %H:%M}: {_number(v)} {unit}"
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}">'
            f"<title>{escape(tip)}</title></circle>"
        )
    return parts


def _x(position: int, count: int) -> float:
    return PLOT_LEFT + (PLOT_WIDTH * position / (count - 1) if count > 1 else PLOT_WIDTH / 2)


def _span(trends: Trends) -> str:
    minutes = int(trends.bucket.total_seconds() // 60)
    return "minute" if minutes == 1 else f"{minutes} minutes"


def _colour(number: int) -> str:
    return PALETTE[number % len(PALETTE)]


def _number(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def _end_text(x: float, y: float, text: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" dominant-baseline="middle" '
        f'fill="currentColor">{escape(text)}</text>'
    )
