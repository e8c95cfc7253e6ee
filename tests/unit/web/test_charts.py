"""The dashboard's SVG charts: well-formed, escaped, no inline style, thinned, fast."""

from __future__ import annotations

import math
import time
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from hypoforge.web import charts
from hypoforge.web.data import Point, TreeNode, WinRates

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(\"x\")</script> ]]> 'q' & \ud800 \x00\x1b end"


def parse(svg: Markup) -> ET.Element:
    """The chart as XML (a well-formed document, which also proves the escaping holds)."""
    assert isinstance(svg, Markup)
    root = ET.fromstring(str(svg))
    assert root.tag == f"{SVG}svg" and "viewBox" in root.attrib
    for el in root.iter():
        assert "style" not in el.attrib
        assert not el.tag.endswith("script") and not el.tag.endswith("foreignObject")
    return root


def texts(root: ET.Element) -> list[str]:
    return [el.text or "" for el in root.iter() if el.tag in (f"{SVG}text", f"{SVG}title")]


def by_class(root: ET.Element, cls: str) -> list[ET.Element]:
    return [el for el in root.iter() if cls in el.attrib.get("class", "").split()]


def test_line_chart_draws_each_series_with_its_class_and_a_legend():
    svg = charts.line_chart(
        {"a": [(0, 0), (1, 1), (2, 4)], "b": [(0, 1), (2, 1)]}, "hours", "tokens"
    )
    root = parse(svg)
    lines = by_class(root, "line")
    polylines = [el for el in lines if el.tag == f"{SVG}polyline"]
    assert [el.attrib["class"] for el in polylines] == ["line series-0", "line series-1"]
    assert len(polylines[0].attrib["points"].split()) == 3
    assert "hours" in texts(root) and "tokens" in texts(root)
    legend = by_class(root, "legend-item")
    assert [t.text for el in legend for t in el.iter(f"{SVG}text")] == ["a", "b"]
    # the highest point is at the top of the plot area, the lowest at the bottom
    ys = [float(p.split(",")[1]) for p in polylines[0].attrib["points"].split()]
    assert ys[2] < ys[1] < ys[0]


def test_y_range_is_kept_and_values_outside_sit_on_the_edge():
    root = parse(charts.line_chart({"w": [(0, 0.5), (1, 2.0)]}, "x", "y", y_range=(0, 1)))
    (line,) = by_class(root, "line")
    ys = [float(p.split(",")[1]) for p in line.attrib["points"].split()]
    frame = by_class(root, "frame")[0]
    assert ys[1] == pytest.approx(float(frame.attrib["y"]))
    ticks = [el.text for el in by_class(root, "tick") if el.attrib["text-anchor"] == "end"]
    assert ticks == ["0", "0.2", "0.4", "0.6", "0.8", "1"]


def test_empty_and_non_finite_inputs():
    for svg in (
        charts.line_chart({}, "x", "y"),
        charts.line_chart({"a": [(math.nan, 1.0), (1.0, math.inf)]}, "x", "y"),
        charts.scatter([], True, "x", "y"),
        charts.tree([], lambda h: h),
    ):
        root = parse(svg)
        assert by_class(root, "empty")
    one = parse(charts.line_chart({"a": [(1.0, 1.0)]}, "x", "y"))
    assert len(by_class(one, "point")) == 1


def test_every_label_is_escaped():
    svg = charts.line_chart({HOSTILE: [(0, 0), (1, 1)], "b": [(0, 1)]}, HOSTILE, HOSTILE)
    svg2 = charts.scatter([(0.5, 0.5, HOSTILE, 'x" onclick="y')], True, HOSTILE, HOSTILE)
    nodes = [TreeNode(HOSTILE, None, HOSTILE, "kept", 0.7, 0)]
    svg3 = charts.tree(nodes, lambda h: "/h/" + h)
    for s in (svg, svg2, svg3):
        text = str(s)
        assert "<script" not in text and "]]>" not in text and "\ud800" not in text
        assert "\x00" not in text and "\x1b" not in text
        text.encode("utf-8")  # a page can send it
        root = parse(s)
        assert any("<script>" in t for t in texts(root))  # the text is there, as text
    (a,) = [el for el in parse(svg2).iter() if el.tag == f"{SVG}a"]
    assert a.attrib["href"] == 'x" onclick="y' and "onclick" not in a.attrib


def test_scatter_with_diagonal_links_and_tooltips():
    points = [(0.2, 0.3, "r0-0: a", "/c/x/h/r0-0"), (0.8, 0.6, "r0-1: b", None)]
    root = parse(charts.scatter(points, True, "predicted", "measured"))
    assert len(by_class(root, "diagonal")) == 1
    circles = by_class(root, "point")
    assert len(circles) == 2 and all("series-0" in c.attrib["class"] for c in circles)
    links = [el for el in root.iter() if el.tag == f"{SVG}a"]
    assert [a.attrib["href"] for a in links] == ["/c/x/h/r0-0"]
    assert "r0-1: b" in texts(root)
    assert not by_class(parse(charts.scatter(points, False, "p", "m")), "diagonal")


def test_tree_lays_out_families_and_packs_lone_nodes():
    nodes = [
        TreeNode("r0-0", None, "root idea", "discovery", 0.8, 0),
        TreeNode("r1-0", "r0-0", "child", "kept", 0.7, 1),
        TreeNode("r1-1", "r0-0", "child two", "failed", None, 1),
        TreeNode("r2-0", "r1-0", "grandchild", "queued", None, 2),
        TreeNode("r0-1", None, "alone", "not-run", None, 0),
    ]
    root = parse(charts.tree(nodes, lambda h: f"/c/s/h/{h}"))
    circles = by_class(root, "node")
    classes = sorted(c.attrib["class"] for c in circles)
    assert classes == sorted(
        f"node node-{c}" for c in ("discovery", "kept", "failed", "queued", "not-run")
    )
    assert len(by_class(root, "edge")) == 3
    links = {a.attrib["href"] for a in root.iter() if a.tag == f"{SVG}a"}
    assert links == {f"/c/s/h/{n.id}" for n in nodes}
    titles = [t for t in texts(root) if t.startswith("r0-0 ")]
    assert titles == ["r0-0 (discovery, win rate 0.800): root idea"]
    pos = {}
    for a in root.iter(f"{SVG}a"):
        (c,) = a.iter(f"{SVG}circle")
        pos[a.attrib["href"].rsplit("/", 1)[1]] = (float(c.attrib["cx"]), float(c.attrib["cy"]))
    # generations go down; a parent sits over the middle of its children; the loner below all
    assert pos["r0-0"][1] < pos["r1-0"][1] < pos["r2-0"][1]
    assert pos["r0-0"][0] == pytest.approx((pos["r1-0"][0] + pos["r1-1"][0]) / 2)
    assert pos["r0-1"][1] > pos["r2-0"][1]


def test_a_parent_cycle_or_self_parent_does_not_hang():
    nodes = [
        TreeNode("a", "b", "x", "scored", 0.5, 0),
        TreeNode("b", "a", "y", "scored", 0.5, 0),
        TreeNode("c", "c", "z", "scored", 0.5, 0),
    ]
    root = parse(charts.tree(nodes, lambda h: h))
    assert len(by_class(root, "node")) == 3  # each shown, packed with the loners


def test_read_model_charts():
    wr = WinRates(
        [Point(0.1, 0.6, "r0-0"), Point(0.5, 0.55, "r0-1"), Point(1.0, 0.8, "r1-0")],
        [(0.1, 0.6), (1.0, 0.8), (1.0, 0.8)],
    )
    root = parse(charts.win_rate_chart(wr, lambda h: f"/h/{h}"))
    assert len(by_class(root, "point")) == 3
    (best,) = [el for el in by_class(root, "line") if el.tag == f"{SVG}polyline"]
    assert len(best.attrib["points"].split()) == 3  # flat at 0.6 until 1.0, then up to 0.8
    spend = str(charts.spend_chart([(0.0, 100, 1), (1.0, 300, 2)]))
    assert spend.count("<svg") == 2
    reward = parse(charts.reward_chart([("r0-0", 0.6, 0.7)], lambda h: f"/h/{h}"))
    assert "r0-0: predicted 0.600, measured 0.700" in texts(reward)
    curves = parse(charts.curves({"mine": [(0, 0), (1, 1)], "relu": [(0, 0), (1, 1)]}, ["relu"]))
    dashed = [el for el in by_class(curves, "dashed") if el.tag == f"{SVG}polyline"]
    assert len(dashed) == 1 and "stroke-dasharray" in dashed[0].attrib


def test_ten_thousand_points_are_thinned_and_fast():
    pts = [(float(i), math.sin(i / 300) + (i % 7) / 10) for i in range(10_000)]
    dots = [((i * 7919 % 10007) / 10007, (i * 104729 % 10007) / 10007, f"h{i}", f"/h/{i}")
            for i in range(10_000)]  # fmt: skip
    nodes = [
        TreeNode(f"n{i}", f"n{i // 3}" if i else None, "idea", "scored", 0.5, 0) for i in range(400)
    ]
    start = time.perf_counter()
    line = charts.line_chart({"a": pts}, "x", "y")
    scatter = charts.scatter(dots, True, "x", "y")
    tree = charts.tree(nodes, lambda h: f"/h/{h}")
    took = time.perf_counter() - start
    assert took < 0.25, took  # generous for a busy machine; about 30 ms on an idle one
    (poly,) = [el for el in by_class(parse(line), "line") if el.tag == f"{SVG}polyline"]
    shown = len(poly.attrib["points"].split())
    assert shown <= 4 * 640
    # the extremes survive thinning
    ys = [float(p.split(",")[1]) for p in poly.attrib["points"].split()]
    frame = by_class(parse(line), "frame")[0]
    top, bottom = float(frame.attrib["y"]), float(frame.attrib["y"]) + float(frame.attrib["height"])
    assert min(ys) - top < 12 and bottom - max(ys) < 12
    assert 500 < len(by_class(parse(scatter), "point")) <= 1.5 * charts.MAX_DOTS
    assert len(by_class(parse(tree), "node")) == 400


def test_nice_ticks():
    assert charts.nice_ticks(0, 1) == [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
    assert charts.nice_ticks(0, 1000, 4) == [0.0, 250.0, 500.0, 750.0, 1000.0]
    assert charts.nice_ticks(5, 5) == [5]
