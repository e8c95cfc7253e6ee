"""Inline SVG charts for the dashboard, made on the server: pure functions returning
``markupsafe.Markup``.

Every text (labels, titles, series names) is escaped and cleaned of what UTF-8 or XML cannot
carry (lone surrogates, control characters); no inline ``style=`` (the pages' Content-Security-
Policy forbids it): colours come from the page's CSS through these classes:

    svg.chart               the chart; .chart-line, .chart-scatter, .chart-tree, .chart-curves
    .frame                  the plot area's border          .grid   grid lines
    .tick                   tick labels                     .axis-label   the axes' names
    .series-0 ... .series-7 a series (lines: stroke; points: fill); more series reuse the eight
    .line                   a series' polyline              .point  a point (circle)
    .dashed                 a reference series (a baseline's curve)
    .diagonal               the y = x line of a scatter     .legend, .legend-item   the legend
    .edge                   a lineage edge                  .node   a lineage node, with
    .node-discovery .node-kept .node-scored .node-failed .node-not-run .node-queued
    .node-label             a node's id (small trees)       .empty  "no data yet"

Big inputs are thinned first (a line keeps each pixel column's first, lowest, highest and last
point; a scatter one point per 2-pixel cell): 10,000 points render in a few milliseconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

if TYPE_CHECKING:
    from hypoforge.web.data import TreeNode, WinRates

SERIES_CLASSES = 8
LABEL_CHARS = 200  # a tooltip or label cut to this length
SCATTER_CELL = 2.0  # a scatter keeps one point per cell of this many pixels (at least)
MAX_DOTS = 2000  # ... and cells big enough that the plot holds at most about this many
TREE_X = 14.0  # pixels between leaves of the lineage tree
TREE_Y = 28.0  # pixels between its generations
TREE_LABELS = 60  # node ids are written beside the nodes of a tree this small
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Series = Mapping[str, Sequence[tuple[float, float]]]


# -- text ---------------------------------------------------------------------------------------
def _clean(text: object, limit: int = LABEL_CHARS) -> str:
    """Text an SVG inside an HTML page can carry: UTF-8 encodable, no control characters, cut."""
    s = str(text).encode("utf-8", "replace").decode("utf-8")
    s = _CONTROL.sub(" ", s)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _t(text: object, limit: int = LABEL_CHARS) -> Markup:
    return escape(_clean(text, limit))


def _n(v: float) -> str:
    """A coordinate: one decimal, no trailing zeros."""
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else s


def _finite(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for p in points:
        try:
            x, y = float(p[0]), float(p[1])
        except (TypeError, ValueError, IndexError):
            continue
        if math.isfinite(x) and math.isfinite(y):
            out.append((x, y))
    return out


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks: list[float] = []
    v = first
    while v <= hi + step * 1e-9 and len(ticks) < 50:
        ticks.append(0.0 if abs(v) < step * 1e-9 else v)
        v += step
    return ticks


def _fmt(v: float) -> str:
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.2g}"
    return f"{v:.6g}" if abs(v) < 1000 else f"{v:,.0f}"


def _span(values: Sequence[float], pad: float = 0.05) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if hi == lo:
        d = abs(lo) * 0.1 or 1.0
        return lo - d, hi + d
    d = (hi - lo) * pad
    return lo - d, hi + d


# -- the frame ----------------------------------------------------------------------------------
class _Frame:
    """A plot area inside a ``width`` x ``height`` viewBox and its data-to-pixel mapping."""

    LEFT, RIGHT, TOP, BOTTOM = 56.0, 12.0, 14.0, 38.0

    def __init__(
        self,
        width: int,
        height: int,
        xr: tuple[float, float],
        yr: tuple[float, float],
        top: float = 0.0,
    ) -> None:
        self.width, self.height = width, height
        self.x0, self.x1 = self.LEFT, width - self.RIGHT
        self.y0, self.y1 = self.TOP + top, height - self.BOTTOM
        self.xr, self.yr = xr, yr

    def x(self, v: float) -> float:
        lo, hi = self.xr
        return self.x0 + (v - lo) / (hi - lo) * (self.x1 - self.x0)

    def y(self, v: float) -> float:
        """The pixel row of ``v``, held inside the plot area (a value outside a given range
        sits on its edge)."""
        lo, hi = self.yr
        return min(self.y1, max(self.y0, self.y1 - (v - lo) / (hi - lo) * (self.y1 - self.y0)))

    def axes(self, x_label: str, y_label: str) -> list[str]:
        out = [
            f'<rect class="frame" x="{_n(self.x0)}" y="{_n(self.y0)}" '
            f'width="{_n(self.x1 - self.x0)}" height="{_n(self.y1 - self.y0)}" fill="none"/>'
        ]
        for v in nice_ticks(*self.xr):
            if self.xr[0] <= v <= self.xr[1]:
                px = _n(self.x(v))
                out.append(
                    f'<line class="grid" x1="{px}" x2="{px}" y1="{_n(self.y0)}" '
                    f'y2="{_n(self.y1)}"/>'
                    f'<text class="tick" x="{px}" y="{_n(self.y1 + 14)}" '
                    f'text-anchor="middle">{_fmt(v)}</text>'
                )
        for v in nice_ticks(*self.yr):
            if self.yr[0] <= v <= self.yr[1]:
                py = _n(self.y(v))
                out.append(
                    f'<line class="grid" x1="{_n(self.x0)}" x2="{_n(self.x1)}" y1="{py}" '
                    f'y2="{py}"/>'
                    f'<text class="tick" x="{_n(self.x0 - 4)}" y="{py}" text-anchor="end" '
                    f'dominant-baseline="middle">{_fmt(v)}</text>'
                )
        out.append(
            f'<text class="axis-label" x="{_n((self.x0 + self.x1) / 2)}" '
            f'y="{_n(self.height - 6)}" text-anchor="middle">{_t(x_label)}</text>'
        )
        cy = _n((self.y0 + self.y1) / 2)
        out.append(
            f'<text class="axis-label" x="12" y="{cy}" text-anchor="middle" '
            f'transform="rotate(-90 12 {cy})">{_t(y_label)}</text>'
        )
        return out


def _svg(kind: str, width: int, height: int, body: Iterable[str], title: str = "") -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img"'
    )
    label = f' aria-label="{_t(title)}"' if title else ""
    return Markup(f"{head}{label}>{''.join(body)}</svg>")


def _empty(kind: str, width: int, height: int, text: str = "no data yet") -> Markup:
    return _svg(
        kind,
        width,
        height,
        [
            f'<text class="empty" x="{width // 2}" y="{height // 2}" text-anchor="middle">'
            f"{_t(text)}</text>"
        ],
    )


def _legend(names: Sequence[str], width: int, dashed: frozenset[str] = frozenset()) -> list[str]:
    """One line of legend items across the top (as many as fit)."""
    out = ['<g class="legend">']
    x = _Frame.LEFT
    for i, name in enumerate(names):
        label = _clean(name, 40)
        room = 22 + 6.5 * len(label)
        if x + room > width and i:
            break
        cls = f"series-{i % SERIES_CLASSES}" + (" dashed" if name in dashed else "")
        dash = ' stroke-dasharray="4 3"' if name in dashed else ""
        out.append(
            f'<g class="legend-item"><line class="line {cls}" x1="{_n(x)}" x2="{_n(x + 14)}" '
            f'y1="9" y2="9" fill="none"{dash}/><text x="{_n(x + 18)}" y="9" '
            f'dominant-baseline="middle">{escape(label)}</text></g>'
        )
        x += room + 10
    out.append("</g>")
    return out


# -- thinning -----------------------------------------------------------------------------------
def thin_line(points: Sequence[tuple[float, float]], columns: int) -> list[tuple[float, float]]:
    """At most about 4 points per pixel column (first, lowest, highest, last, in x order) of
    points sorted by x: the drawn shape stays the same."""
    if len(points) <= 4 * columns:
        return list(points)
    lo, hi = points[0][0], points[-1][0]
    width = (hi - lo) / columns or 1.0
    out: list[tuple[float, float]] = []
    bucket: list[tuple[float, float]] = []
    current = None
    for p in points:
        b = min(columns - 1, int((p[0] - lo) / width))
        if b != current and bucket:
            out.extend(_keep(bucket))
            bucket = []
        current = b
        bucket.append(p)
    if bucket:
        out.extend(_keep(bucket))
    return out


def _keep(bucket: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(bucket) <= 4:
        return bucket
    low = min(range(len(bucket)), key=lambda i: bucket[i][1])
    high = max(range(len(bucket)), key=lambda i: bucket[i][1])
    keep = sorted({0, low, high, len(bucket) - 1})
    return [bucket[i] for i in keep]


# -- the charts ---------------------------------------------------------------------------------
def line_chart(
    series: Series,
    x_label: str = "",
    y_label: str = "",
    y_range: tuple[float, float] | None = None,
    width: int = 640,
    height: int = 240,
    dashed: Iterable[str] = (),
    dots: Sequence[tuple[float, float, str, str | None]] = (),
) -> Markup:
    """Lines, one per series (``class="line series-<i>"`` in the order given), with a legend
    when there are several; ``dashed`` names reference series (drawn dashed, class "dashed");
    ``dots`` (x, y, label, href) are drawn as points (series-<n> after the lines') over them."""
    clean = {name: sorted(_finite(pts)) for name, pts in series.items()}
    dot_list = [(x, y, label, href) for x, y, label, href in dots if _ok(x) and _ok(y)]
    xs = [p[0] for pts in clean.values() for p in pts] + [d[0] for d in dot_list]
    ys = [p[1] for pts in clean.values() for p in pts] + [d[1] for d in dot_list]
    if not xs:
        return _empty("line", width, height)
    dashed_names = frozenset(dashed)
    legend = len(clean) > 1 or bool(dashed_names)
    yr = y_range if y_range is not None and y_range[1] > y_range[0] else _span(ys)
    frame = _Frame(width, height, _span(xs, 0.0), yr, top=16 if legend else 0)
    body = frame.axes(x_label, y_label)
    columns = max(1, int(frame.x1 - frame.x0))
    for i, (name, pts) in enumerate(clean.items()):
        cls = f"series-{i % SERIES_CLASSES}" + (" dashed" if name in dashed_names else "")
        dash = ' stroke-dasharray="4 3"' if name in dashed_names else ""
        shown = thin_line(pts, columns)
        if len(shown) == 1:
            x, y = shown[0]
            body.append(
                f'<circle class="point {cls}" cx="{_n(frame.x(x))}" cy="{_n(frame.y(y))}" r="3">'
                f"<title>{_t(name)}</title></circle>"
            )
        elif shown:
            coords = " ".join(f"{_n(frame.x(x))},{_n(frame.y(y))}" for x, y in shown)
            body.append(
                f'<polyline class="line {cls}" fill="none" points="{coords}"{dash}>'
                f"<title>{_t(name)}</title></polyline>"
            )
    if dot_list:
        body.extend(_dots(frame, dot_list, f"series-{len(clean) % SERIES_CLASSES}"))
    if legend:
        body.extend(_legend(list(clean), width, dashed_names))
    return _svg("line", width, height, body, f"{y_label} against {x_label}")


def _ok(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _dots(
    frame: _Frame, dots: Sequence[tuple[float, float, str, str | None]], cls: str
) -> list[str]:
    """Points, one per ``SCATTER_CELL`` cell (the first one given wins the cell), each with its
    label as a tooltip and a link when it has an href."""
    seen: set[tuple[int, int]] = set()
    out = []
    area = (frame.x1 - frame.x0) * (frame.y1 - frame.y0)
    size = max(SCATTER_CELL, math.sqrt(area / MAX_DOTS)) if len(dots) > MAX_DOTS else SCATTER_CELL
    for x, y, label, href in dots:
        px, py = frame.x(x), frame.y(y)
        cell = (int(px / size), int(py / size))
        if cell in seen:
            continue
        seen.add(cell)
        dot = (
            f'<circle class="point {cls}" cx="{_n(px)}" cy="{_n(py)}" r="3">'
            f"<title>{_t(label)}</title></circle>"
        )
        if href:
            dot = f'<a href="{_t(href, 2000)}">{dot}</a>'
        out.append(dot)
    return out


def scatter(
    points: Sequence[tuple[float, float, str, str | None]],
    diagonal: bool = True,
    x_label: str = "",
    y_label: str = "",
    width: int = 480,
    height: int = 320,
) -> Markup:
    """Points (x, y, label, href): each a ``<circle class="point series-0">`` with its label as a
    tooltip, a link when href is given; ``diagonal`` draws y = x (class "diagonal") and gives
    both axes the same range."""
    dots = [(x, y, label, href) for x, y, label, href in points if _ok(x) and _ok(y)]
    if not dots:
        return _empty("scatter", width, height)
    xs = [d[0] for d in dots]
    ys = [d[1] for d in dots]
    if diagonal:
        both = _span(xs + ys)
        xr = yr = both
    else:
        xr, yr = _span(xs), _span(ys)
    frame = _Frame(width, height, xr, yr)
    body = frame.axes(x_label, y_label)
    if diagonal:
        lo, hi = xr
        body.append(
            f'<line class="diagonal" x1="{_n(frame.x(lo))}" y1="{_n(frame.y(lo))}" '
            f'x2="{_n(frame.x(hi))}" y2="{_n(frame.y(hi))}" stroke-dasharray="3 3"/>'
        )
    body.extend(_dots(frame, dots, "series-0"))
    return _svg("scatter", width, height, body, f"{y_label} against {x_label}")


def curves(
    series: Series,
    baselines: Iterable[str] = (),
    x_label: str = "x",
    y_label: str = "f(x)",
    y_range: tuple[float, float] | None = None,
) -> Markup:
    """Probe curves: the hypothesis's and the baselines' (named in ``baselines``: dashed)."""
    return line_chart(series, x_label, y_label, y_range=y_range, dashed=baselines)


# -- the read model's data as charts ------------------------------------------------------------
def win_rate_chart(data: WinRates, href: Callable[[str], str] | None = None) -> Markup:
    """Win rate over time: each scored hypothesis a point (a link with ``href``), the running
    best a line."""
    dots = [
        (p.hours, p.win_rate, f"{p.id}: {p.win_rate:.3f}", href(p.id) if href else None)
        for p in data.points
    ]
    steps: list[tuple[float, float]] = []
    for hours, best in data.best:
        if steps and (hours, best) == steps[-1]:
            continue
        if steps:
            steps.append((hours, steps[-1][1]))
        steps.append((hours, best))
    return line_chart({"best so far": steps}, "hours", "win rate", y_range=(0.0, 1.0), dots=dots)


def spend_chart(points: Sequence[tuple[float, int, int]]) -> Markup:
    """Spend over time: cumulative tokens and cumulative sandbox launches, two small charts."""
    tokens = line_chart({"tokens": [(h, t) for h, t, _ in points]}, "hours", "tokens", width=320)
    launches = line_chart(
        {"launches": [(h, n) for h, _, n in points]}, "hours", "launches", width=320
    )
    return Markup(f"{tokens}{launches}")


def reward_chart(
    points: Sequence[tuple[str, float, float]], href: Callable[[str], str] | None = None
) -> Markup:
    """The reward model's predicted win rate against the measured one, per hypothesis."""
    dots = [
        (p, m, f"{hid}: predicted {p:.3f}, measured {m:.3f}", href(hid) if href else None)
        for hid, p, m in points
    ]
    return scatter(dots, True, "predicted win rate", "measured win rate")


# -- the lineage tree ---------------------------------------------------------------------------
def tree(nodes: Sequence[TreeNode], href: Callable[[str], str]) -> Markup:
    """The lineage as a top-down tree: each family (a root with children) laid out with its
    leaves side by side and each parent centred over its children; hypotheses with neither parent
    nor children shown are packed in rows below. Each node is an ``<a href>`` around a
    ``<circle class="node node-<outcome>">`` with a ``<title>`` (id, win rate, idea)."""
    if not nodes:
        return _empty("tree", 640, 80, "no hypotheses yet")
    by_id = {n.id: n for n in nodes}
    labels = len(nodes) <= TREE_LABELS
    # With labels, a slot as wide as the longest one (ids side by side must not run together).
    step = TREE_X
    if labels:
        step = max(TREE_X, 7.0 * min(40, max(len(n.id) for n in nodes)) + 14.0)
    kids: dict[str, list[str]] = {}
    for n in nodes:
        if n.parent is not None and n.parent in by_id and n.parent != n.id:
            kids.setdefault(n.parent, []).append(n.id)
    for v in kids.values():
        v.sort()
    roots = sorted(n.id for n in nodes if n.parent is None or n.parent not in by_id)
    families = [r for r in roots if r in kids]
    solo = [r for r in roots if r not in kids]
    pos: dict[str, tuple[float, float]] = {}
    edges: list[tuple[str, str]] = []
    slot = 0
    deepest = 0
    for root in families:
        # iterative post-order: leaves take the next slot, a parent the middle of its children
        stack: list[tuple[str, int, bool]] = [(root, 0, False)]
        seen: set[str] = set()
        while stack:
            hid, depth, done = stack.pop()
            if done:
                xs = [pos[c][0] for c in kids.get(hid, []) if c in pos]
                x = (min(xs) + max(xs)) / 2 if xs else slot * step
                if not xs:
                    slot += 1
                pos[hid] = (x, depth * TREE_Y)
                deepest = max(deepest, depth)
                continue
            if hid in seen:
                continue
            seen.add(hid)
            stack.append((hid, depth, True))
            for child in reversed(kids.get(hid, [])):
                if child not in seen:
                    edges.append((hid, child))
                    stack.append((child, depth + 1, False))
        slot += 1  # a gap between families
    solo += sorted(n.id for n in nodes if n.id not in pos and n.id not in solo)  # in a cycle
    pad = 16.0
    tree_width = slot * step
    per_row = max(20, int(max(tree_width, 600) / step))
    solo_top = (deepest + 1) * TREE_Y + (TREE_Y if families else 0)
    for i, hid in enumerate(solo):
        pos[hid] = ((i % per_row) * step, solo_top + (i // per_row) * TREE_X * 1.4)
    width = int(max(tree_width, min(len(solo), per_row) * step, 200) + 2 * pad)
    height = int(max(y for _, y in pos.values()) + 2 * pad + 4)
    body: list[str] = []
    for a, b in edges:
        (xa, ya), (xb, yb) = pos[a], pos[b]
        body.append(
            f'<line class="edge" x1="{_n(xa + pad)}" y1="{_n(ya + pad)}" '
            f'x2="{_n(xb + pad)}" y2="{_n(yb + pad)}"/>'
        )
    for n in nodes:
        x, y = pos[n.id]
        rate = "" if n.win_rate is None else f", win rate {n.win_rate:.3f}"
        title = f"{_clean(n.id, 80)} ({n.outcome}{rate}): {_clean(n.idea)}"
        label = ""
        if labels:
            label = (
                f'<text class="node-label" x="{_n(x + pad + 6)}" y="{_n(y + pad - 6)}">'
                f"{_t(n.id, 40)}</text>"
            )
        body.append(
            f'<a href="{_t(href(n.id), 2000)}"><title>{escape(title)}</title>'
            f'<circle class="node node-{_t(n.outcome, 20)}" cx="{_n(x + pad)}" '
            f'cy="{_n(y + pad)}" r="5"/>{label}</a>'
        )
    return _svg("tree", width, height, body, "lineage")
