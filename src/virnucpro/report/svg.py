"""Static SVG charts written as text: histograms, a binned scatter (heatmap), horizontal and stacked bars.

No plotting library: the report must open offline, render the same everywhere, cost milliseconds and
stay small whatever the input size, so every chart is drawn from aggregates (bin counts) with a fixed
number of elements. Every mark carries a `<title>` (its exact count) that browsers show on hover.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from virnucpro.shown import shown_html as escape  # controls and bidi overrides escaped too

W, H = 600, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 14, 46
BAND = 16  # extra top margin of the charts that carry a legend or a label above the plot area
RAMP = ("#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b")  # heatmap: few -> many (log scale)


@dataclass(frozen=True)
class Frame:
    """The plot area of a chart and its data ranges (x may be log10)."""

    x0: float
    x1: float
    y0: float
    y1: float
    width: int = W
    height: int = H
    top: int = TOP  # margin above the plot area (a taller one holds a legend or a label clear of the data)

    def x(self, v: float) -> float:
        return LEFT + (v - self.x0) / (self.x1 - self.x0 or 1) * (self.width - LEFT - RIGHT)

    def y(self, v: float) -> float:
        return self.height - BOTTOM - (v - self.y0) / (self.y1 - self.y0 or 1) * (self.height - self.top - BOTTOM)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About `n` round tick values (steps of 1, 2 or 5 x 10^k) covering [lo, hi]."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + k * step, 10) for k in range(int((hi - first) / step + 1e-9) + 1)]


def log_ticks(lo: float, hi: float) -> list[float]:
    """log10 positions of 1, 10, 100, ... in [lo, hi]; with 2 and 5 between them when the range is short."""
    decades = range(math.floor(lo), math.ceil(hi) + 1)
    steps = (1, 2, 5) if hi - lo <= 2 else (1,)
    return [d + math.log10(m) for d in decades for m in steps if lo - 1e-9 <= d + math.log10(m) <= hi + 1e-9]


def fmt_count(v: float) -> str:
    """1234567 -> '1.2M' (axis labels); small values as integers."""
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{unit}"
    return f"{v:g}"


def histogram(edges: list[float], counts: list[int], x_label: str, y_label: str, colors: list[str],
              title: str) -> str:
    """Bars over `edges` (len(counts) + 1 values) with bar colours `colors` (one per bar)."""
    top = max(max(counts, default=0), 1)
    f = Frame(edges[0], edges[-1], 0, top * 1.05)
    bars = [f'<rect x="{f.x(a):.1f}" y="{f.y(c):.1f}" width="{max(f.x(b) - f.x(a) - 0.6, 0.4):.1f}" '
            f'height="{f.y(0) - f.y(c):.1f}" fill="{col}"><title>{a:g} to {b:g}: {c:,}</title></rect>'
            for a, b, c, col in zip(edges, edges[1:], counts, colors) if c]
    return _svg(f, title, bars, _x_axis(f, nice_ticks(edges[0], edges[-1]), x_label),
                _y_axis(f, nice_ticks(0, top), y_label))


def lines(series: dict[str, tuple[list[float], list[float], str]], x_label: str, y_label: str, title: str,
          mark: tuple[float, str] | None = None) -> str:
    """Line chart: name -> (xs, ys, colour), with a legend; points carry their value in a <title>; `mark`
    (x, label) draws a dashed vertical line there (e.g. the best epoch)."""
    xs = [x for v in series.values() for x in v[0]] or [0, 1]
    ys = [y for v in series.values() for y in v[1] if y == y] or [0, 1]  # NaN-free
    lo, hi = min(ys), max(ys)
    pad = (hi - lo) * 0.05 or 0.05
    f = Frame(min(xs), max(max(xs), min(xs) + 1), lo - pad, hi + pad, height=H + BAND, top=TOP + BAND)
    marks, legend = [], []  # legend in the band above the plot, the mark's label under it: both clear of the curves
    for k, (name, (px, py, col)) in enumerate(series.items()):
        pts = [(x, y) for x, y in zip(px, py) if y == y]
        path = " ".join(f"{f.x(x):.1f},{f.y(y):.1f}" for x, y in pts)
        marks.append(f'<polyline points="{path}" fill="none" stroke="{col}" stroke-width="1.8"/>')
        marks += [f'<circle cx="{f.x(x):.1f}" cy="{f.y(y):.1f}" r="2" fill="{col}"><title>{escape(name)} at {x:g}: '
                  f'{y:.4g}</title></circle>' for x, y in pts]
        legend.append(f'<rect x="{LEFT + 10 + 130 * k}" y="4" width="10" height="3" fill="{col}"/>'
                      f'<text x="{LEFT + 24 + 130 * k}" y="9" class="small">{escape(name)}</text>')
    if mark is not None:
        x = f.x(mark[0])
        anchor = "end" if x > f.width - RIGHT - 60 else "start" if x < LEFT + 60 else "middle"
        marks.append(f'<g class="mark"><line x1="{x:.1f}" x2="{x:.1f}" y1="{f.y(f.y1):.1f}" y2="{f.y(f.y0):.1f}" '
                     f'stroke="#555" stroke-dasharray="4 3"/><text x="{x:.1f}" y="{f.top - 4}" '
                     f'text-anchor="{anchor}" class="label">{escape(mark[1])}</text></g>')
    return _svg(f, title, marks, legend, _x_axis(f, nice_ticks(f.x0, f.x1), x_label),
                _y_axis(f, nice_ticks(f.y0, f.y1), y_label, lambda v: f"{v:g}"))


def heatmap(x_edges: list[float], y_edges: list[float], grid: list[list[int]], x_label: str, y_label: str,
            title: str, log_x: bool = True) -> str:
    """Counts `grid[i][j]` of x bin i and y bin j as coloured cells (colour ~ log count); x edges in log10."""
    f = Frame(x_edges[0], x_edges[-1], y_edges[0], y_edges[-1], height=H + BAND, top=TOP + BAND)  # key in the band
    top = max((c for row in grid for c in row), default=0)
    cells = []
    for i, row in enumerate(grid):
        for j, c in enumerate(row):
            if c:
                x, y = f.x(x_edges[i]), f.y(y_edges[j + 1])
                xs = (f"{10 ** x_edges[i]:,.0f} to {10 ** x_edges[i + 1]:,.0f}" if log_x
                      else f"{x_edges[i]:g} to {x_edges[i + 1]:g}")
                cells.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{f.x(x_edges[i + 1]) - x + 0.3:.1f}" '
                             f'height="{f.y(y_edges[j]) - y + 0.3:.1f}" fill="{ramp(c, top)}"><title>{x_label} '
                             f'{xs}, {y_label} {y_edges[j]:g} to {y_edges[j + 1]:g}: {c:,}</title></rect>')
    ticks = log_ticks(x_edges[0], x_edges[-1]) if log_x else nice_ticks(x_edges[0], x_edges[-1])
    x_axis = _x_axis(f, ticks, x_label, (lambda v: fmt_count(10 ** v)) if log_x else None)
    return _svg(f, title, cells, x_axis, _y_axis(f, nice_ticks(y_edges[0], y_edges[-1]), y_label, lambda v: f"{v:g}"),
                _legend(f, top))


def ramp(count: int, top: int) -> str:
    """Colour of a heatmap cell: position of log(count) between log(1) and log(top) on RAMP."""
    t = math.log(count) / math.log(top) if top > 1 else 1.0
    k = min(int(t * (len(RAMP) - 1) + 0.5), len(RAMP) - 1)
    return RAMP[max(k, 1)]  # the lightest colour is kept for the legend's low end


def hbars(items: list[tuple[str, float]], unit: str, title: str, color: str = "#4c72b0") -> str:
    """Horizontal bars, one labelled row per item (e.g. seconds per stage)."""
    top = max((v for _, v in items), default=0) or 1
    row, label_w = 22, 170
    height = TOP + row * len(items) + 8
    rows = []
    for k, (name, v) in enumerate(items):
        y = TOP + k * row
        w = v / top * (W - label_w - 90)
        rows.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(name)}</text>'
                    f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 0.5):.1f}" height="{row - 6}" fill="{color}">'
                    f'<title>{escape(name)}: {v:g} {unit}</title></rect>'
                    f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{v:g} {unit}</text>')
    return (f'<svg class="chart" viewBox="0 0 {W} {height}" width="{W}" height="{height}" role="img">'
            f'<title>{escape(title)}</title>{"".join(rows)}</svg>')


def stacked_bar(parts: list[tuple[str, int, str]], width: int = 240, height: int = 18) -> str:
    """One bar split into shares (label, count, colour): a verdict mix at a glance."""
    total = sum(c for _, c, _ in parts) or 1
    x, rects = 0.0, []
    for label, c, col in parts:
        w = c / total * width
        if c:
            rects.append(f'<rect x="{x:.2f}" y="0" width="{w:.2f}" height="{height}" fill="{col}">'
                         f'<title>{escape(label)}: {c:,} ({100 * c / total:.1f}%)</title></rect>')
        x += w
    return (f'<svg class="mix" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">'
            f'<title>{escape(", ".join(f"{lbl} {c:,}" for lbl, c, _ in parts))}</title>'
            f'<rect width="{width}" height="{height}" fill="#eee"/>{"".join(rects)}</svg>')


def _svg(f: Frame, title: str, *parts) -> str:
    body = "".join(p if isinstance(p, str) else "".join(p) for p in parts)
    return (f'<svg class="chart" viewBox="0 0 {f.width} {f.height}" width="{f.width}" height="{f.height}" '
            f'role="img"><title>{escape(title)}</title>{body}</svg>')


def _x_axis(f: Frame, ticks: list[float], label: str, fmt=None) -> str:
    fmt = fmt or (lambda v: f"{v:g}")
    y = f.y(f.y0)
    marks = "".join(f'<line x1="{f.x(t):.1f}" x2="{f.x(t):.1f}" y1="{y:.1f}" y2="{y + 4:.1f}" stroke="#333"/>'
                    f'<text x="{f.x(t):.1f}" y="{y + 16:.1f}" text-anchor="middle">{fmt(t)}</text>'
                    for t in ticks if f.x0 - 1e-9 <= t <= f.x1 + 1e-9)
    return (f'<line x1="{LEFT}" x2="{f.width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#333"/>{marks}'
            f'<text x="{(LEFT + f.width - RIGHT) / 2:.0f}" y="{f.height - 8}" text-anchor="middle" '
            f'class="label">{escape(label)}</text>')


def _y_axis(f: Frame, ticks: list[float], label: str, fmt=fmt_count) -> str:
    marks = "".join(f'<line x1="{LEFT - 4}" x2="{f.width - RIGHT}" y1="{f.y(t):.1f}" y2="{f.y(t):.1f}" '
                    f'stroke="#ddd"/><text x="{LEFT - 7}" y="{f.y(t) + 4:.1f}" text-anchor="end">{fmt(t)}</text>'
                    for t in ticks if f.y0 - 1e-9 <= t <= f.y1 + 1e-9)
    mid = (f.top + f.height - BOTTOM) / 2
    return (f'{marks}<line x1="{LEFT}" x2="{LEFT}" y1="{f.top}" y2="{f.y(f.y0):.1f}" stroke="#333"/>'
            f'<text transform="translate(14 {mid:.0f}) rotate(-90)" text-anchor="middle" class="label">'
            f'{escape(label)}</text>')


def _legend(f: Frame, top: int) -> str:
    """The colour key of a heatmap: the ramp's boxes from 1 to `top` sequences (log scale), readable size, in
    the band above the plot area (never over a cell)."""
    box_w, box_h = 22, 12
    x, y = f.width - RIGHT - len(RAMP) * box_w - 96, 6
    boxes = "".join(f'<rect x="{x + 30 + k * box_w}" y="{y}" width="{box_w}" height="{box_h}" fill="{c}" '
                    f'stroke="#999" stroke-width="0.5"/>' for k, c in enumerate(RAMP))
    return (f'<g class="heat-key"><text x="{x + 26}" y="{y + 11}" text-anchor="end" class="label">1</text>{boxes}'
            f'<text x="{x + 34 + len(RAMP) * box_w}" y="{y + 11}" class="label">{fmt_count(top)} (log)</text></g>')
