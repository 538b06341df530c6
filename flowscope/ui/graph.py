"""A workflow's state graph from its stored definition, with per-step metrics painted on it.

Pure (no Streamlit): `parse(definition, fmt)` reads Step Functions ASL JSON, a Logic Apps
workflow definition JSON or a Google Cloud Workflows YAML/JSON source into nodes and edges, each
drawn by its cloud's one definition parser (`collectors/<cloud>/definition.py`);
`layout` places them in layers; `figure` draws them as a Vega-Lite spec (`charts.Chart`), colouring each
step by a metric (failure rate, retries, p95 latency or cost) and writing observed transition counts on edges.
Vega-Lite, not plotly, as every chart of the dashboard (`charts`): Streamlit's plotly renderer is 4.7 MB, and a
fresh browser paid 1-2 s for it on its first page.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import pandas as pd
import yaml

from flowscope import bounded_yaml
from flowscope.collectors.aws.definition import workflow_graph as parse_asl
from flowscope.collectors.azure.definition import workflow_graph as parse_logicapp
from flowscope.collectors.gcp.definition import workflow_graph as parse_gcp
from flowscope.collectors.graph import DefinitionError, Graph
from flowscope.format import fmt_count, fmt_duration, fmt_pct, fmt_usd, is_missing
from flowscope.ui.charts import COUNT_TICKS, MONEY_TICKS, Chart, records, safe, short, spec
from flowscope.ui.readable import duration_unit


def parse(definition: str | dict | None, fmt: str | None = None) -> Graph:
    """Nodes and edges of a definition; the format is guessed from content when not given."""
    if definition is None or definition == "":
        raise DefinitionError("no definition was collected for this workflow")
    doc: Any = definition
    if isinstance(definition, str):
        text = definition.strip()
        try:
            doc = json.loads(text)
        except ValueError:
            try:
                doc = bounded_yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise DefinitionError(f"the definition is neither JSON nor YAML: {exc}") from None
    fmt = (fmt or "").lower()
    if isinstance(doc, dict) and "properties" in doc and isinstance(doc["properties"], dict):
        doc = doc["properties"].get("definition", doc["properties"])
    if isinstance(doc, dict) and "definition" in doc and isinstance(doc["definition"], dict):
        doc = doc["definition"]
    if fmt.startswith("asl") or (isinstance(doc, dict) and "States" in doc):
        return parse_asl(doc)
    if fmt.startswith("logicapp") or (isinstance(doc, dict) and ("actions" in doc or "triggers" in doc)):
        return parse_logicapp(doc)
    return parse_gcp(doc)


# ---------------------------------------------------------------- observed transitions

def with_observed(graph: Graph, edges: pd.DataFrame | None) -> Graph:
    """Add steps and transitions seen in executions but absent from the definition. A transition
    between two defined steps of different routines (a GCP call into a subworkflow, named
    `routine/step`, and its return) is a call the definition makes, not an unknown path."""
    if edges is None or edges.empty:
        return graph
    defined = set(graph.nodes)
    for row in edges.itertuples(index=False):
        source, target = str(row.source or ""), str(row.target)
        graph.add(target, "other")
        if source:
            graph.add(source, "other")
            if not any(e.source == source and e.target == target for e in graph.edges):
                crosses = source in defined and target in defined and _routine(source) != _routine(target)
                graph.link(source, target, "call" if crosses else "observed")
    return graph


def _routine(step: str) -> str:
    """The routine a step belongs to: the prefix of `routine/step` ('' for the main routine)."""
    return step.rpartition("/")[0]


def default_workflow(table: pd.DataFrame) -> int:
    """Row of the workflow that needs attention most: the most failed runs, then the highest spend
    (0 for an empty table), so the graph opens on it rather than on the first row."""
    if table is None or table.empty:
        return 0
    ranked = table.assign(_failed=table["failed"].fillna(0), _cost=table["cost_usd"].fillna(0.0),
                          _row=range(len(table)))
    ranked = ranked.sort_values(["_failed", "_cost", "_row"], ascending=[False, False, True], kind="stable")
    return int(ranked["_row"].iloc[0])


# ---------------------------------------------------------------- layout and drawing

def layout(graph: Graph) -> dict[str, tuple[float, float]]:
    """Layered positions: depth is the longest path from the start nodes once back edges (loops)
    are set aside; order within a layer by the mean position of the predecessors."""
    succ: dict[str, list[str]] = {n: [] for n in graph.nodes}
    pred: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for e in graph.edges:
        if e.source in succ and e.target in succ:
            succ[e.source].append(e.target)
            pred[e.target].append(e.source)
    roots = [s for s in graph.starts if s in graph.nodes] or [n for n in graph.nodes if not pred[n]]
    back = _back_edges(roots + list(graph.nodes), succ)
    depth = _depths(list(graph.nodes), succ, pred, back)
    layers: dict[int, list[str]] = {}
    for node in graph.nodes:
        layers.setdefault(depth[node], []).append(node)
    pos: dict[str, tuple[float, float]] = {}
    for level in sorted(layers):
        members = layers[level]

        def key(n: str) -> float:
            xs = [pos[p][0] for p in pred[n] if p in pos]
            return sum(xs) / len(xs) if xs else 0.0

        members.sort(key=key)
        width = len(members)
        for i, node in enumerate(members):
            pos[node] = (i - (width - 1) / 2.0, -float(level))
    return pos


def _back_edges(order: list[str], succ: dict[str, list[str]]) -> set[tuple[str, str]]:
    """Edges that close a loop, found by an iterative depth-first search from each node of `order`."""
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}
    for root in order:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    return back


def _depths(nodes: list[str], succ: dict[str, list[str]], pred: dict[str, list[str]],
            back: set[tuple[str, str]]) -> dict[str, int]:
    """Longest path from the roots, back edges set aside."""
    indeg = {n: sum(1 for p in pred[n] if (p, n) not in back) for n in nodes}
    depth: dict[str, int] = {n: 0 for n in nodes}
    ready = deque(n for n in nodes if indeg[n] == 0)
    while ready:
        node = ready.popleft()
        for nxt in succ[node]:
            if (node, nxt) in back:
                continue
            depth[nxt] = max(depth[nxt], depth[node] + 1)
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                ready.append(nxt)
    return depth


METRICS = {
    "failure_rate": ("Failure rate", "Reds", fmt_pct),
    "retries": ("Retries", "Oranges", fmt_count),
    "p95_ms": ("p95 latency", "Blues", fmt_duration),
    "cost_usd": ("Cost", "Greens", fmt_usd),
}
"""(colour bar title, colour scale, node label): labels read as format's rules read them everywhere else, so a
rare failure is "0.4%", not "0%", and a state transition's cost "$0.000025", not "$0.0000"."""


def _colours(metric: str, label: str, values: list[float], measured: list[float]) -> tuple[list[float], dict[str, Any]]:
    """The nodes' colour values and colour bar (a Vega-Lite legend), in the labels' units: percent, dollars,
    whole retries, and durations in one unit picked from the visited steps' values (`readable.duration_unit`),
    not raw ms."""
    bar: dict[str, Any] = {"title": label, "gradientThickness": 12, "orient": "right"}
    if metric == "failure_rate":
        bar["format"] = ".1~%"
    elif metric == "cost_usd":
        bar["format"] = "$" + MONEY_TICKS
    elif metric == "retries":
        bar.update(format=COUNT_TICKS, tickMinStep=1)
    elif metric == "p95_ms":
        unit, size = duration_unit(pd.Series(measured, dtype=float))
        values = [v / size for v in values]
        bar["labelExpr"] = f"datum.label + ' {unit}'"
    return values, bar


NO_P95 = "— (no visit has ended: still running, or no end time was collected)"
"""A visited step's p95 when none of its visits has a duration: said why, where it read "n/a"."""


def _p95(value: Any) -> str:
    """A step's p95 in a node's hover: its duration, or why it has none (`NO_P95`), never "n/a" or "0 ms"."""
    return NO_P95 if is_missing(value) else fmt_duration(float(value))


EDGE_COLORS = {"next": "#888", "choice": "#888", "default": "#888", "branch": "#aaa", "catch": "#d62728",
               "observed": "#9467bd", "call": "#888"}


NODE_SIZE = 650
"""A node's area in square pixels (Vega's symbol size): a 25-pixel circle, square or diamond."""

NODE_REACH = 15.0
"""Pixels from a node's centre to where its edges start and end: just outside its outline."""



def _on_screen(x: str, y: str, x2: str, y2: str) -> tuple[str, str, str]:
    """Vega expressions of an edge's direction on the screen, in pixels (its x and y steps, and its length),
    from the row's fields `x`, `y` (its start) to `x2`, `y2` (its end): the plot's size is the page's, which only
    the browser knows, so the arrowheads' angles and the edges' ends are worked out there, by the chart's own
    scales (a width guessed in Python turned a slanted arrowhead a few degrees off on a wider or narrower page)."""
    dx = f"(scale('x', datum.{x2}) - scale('x', datum.{x}))"
    dy = f"(scale('y', datum.{y2}) - scale('y', datum.{y}))"    # pixels grow downwards
    return dx, dy, f"max(sqrt({dx} * {dx} + {dy} * {dy}), 1)"


def _along(pixels: str, step: str, length: str) -> dict[str, str]:
    """An offset of `pixels` along the edge (`_on_screen`'s `step` of one axis), as a mark property."""
    return {"expr": f"({pixels}) * {step} / {length}"}


def figure(graph: Graph, steps: pd.DataFrame | None = None, edges: pd.DataFrame | None = None, *,
           metric: str = "failure_rate", title: str | None = None, unpriced: str | None = None) -> Chart:
    """Draw the graph: nodes coloured by `metric` (from `queries.step_metrics`), edges labelled
    with observed transition counts (from `queries.edge_counts`). `unpriced`: why a step has no cost (its
    workflow is billed per execution), said in its hover, where "cost none" read as free.

    A Vega-Lite spec of layers, each with its own rows: edges (rules), their arrowheads (triangles turned
    towards the target: Vega-Lite draws no arrows), their counts, the nodes in three layers (not visited:
    grey outline; visited without the metric: dark outline; painted by the metric, with its colour bar), drawn
    over their labels. Each layer is `name`d, which tests read it by."""
    pos = layout(graph)
    label, scale, fmt = METRICS.get(metric, METRICS["failure_rate"])
    stats: dict[str, dict[str, Any]] = {}
    if steps is not None and not steps.empty:
        stats = {str(r["step"]): r for r in steps.to_dict("records")}
    counts: dict[tuple[str, str], int] = {}
    if edges is not None and not edges.empty:
        counts = {(str(r.source or ""), str(r.target)): int(r.transitions) for r in edges.itertuples(index=False)}
    top = max(counts.values(), default=1) or 1
    xs = [p[0] for p in pos.values()] or [0]
    ys = [p[1] for p in pos.values()] or [0]
    x_domain = [min(xs) - 0.6, max(xs) + 1.8]
    y_domain = [min(ys) - 0.6, max(ys) + 0.6]
    height = max(320, 90 * (int(max(ys) - min(ys)) + 2))

    lines: list[dict[str, Any]] = []
    arrows: list[dict[str, Any]] = []
    numbers: list[dict[str, Any]] = []
    for e in graph.edges:
        if e.source not in pos or e.target not in pos:
            continue
        (x0, y0), (x1, y1) = pos[e.source], pos[e.target]
        count = counts.get((e.source, e.target), 0)
        colour = EDGE_COLORS.get(e.kind, "#888") if count or e.kind == "catch" else "#cccccc"
        width, opacity = 1 + 3 * (count / top), 0.9 if count else 0.6
        if count:
            numbers.append({"x": (x0 + x1) / 2, "y": (y0 + y1) / 2, "count": f"{count:,}"})
        if (x0, y0) == (x1, y1):
            continue            # a step's transition to itself: its count alone
        head = 4.0 + 1.25 * width                            # the arrowhead's half height, in pixels
        # From the source's centre to the target's: the browser stops the line at both nodes' outlines and
        # puts the arrowhead before the target (`_on_screen`).
        lines.append({"x": x0, "y": y0, "x2": x1, "y2": y1, "head": head,
                      "width": width, "colour": colour, "opacity": opacity, "from": safe(e.source),
                      "to": safe(e.target), "kind": e.kind, "transitions": f"{count:,}"})
        arrows.append({"x": x1, "y": y1, "from_x": x0, "from_y": y0, "head": head,
                       "size": (2 * head) ** 2, "colour": colour, "opacity": opacity})

    for drawn in (*lines, *arrows):      # a ten-thousandth of a unit is under a pixel: a spec a third shorter
        drawn.update({k: round(v, 4) for k, v in drawn.items() if isinstance(v, float)})
    names = list(pos)
    # A visited step without the metric (no cost: its workflow is billed per execution) reads none, never $0.
    raw = [stats.get(n, {}).get(metric) for n in names]
    valued = {n for n, v in zip(names, raw, strict=True) if n in stats and not is_missing(v)}
    values = [float(v or 0.0) if n in valued else 0.0 for n, v in zip(names, raw, strict=True)]
    colours, bar = _colours(metric if metric in METRICS else "failure_rate", label, values,
                            [v for n, v in zip(names, values, strict=True) if n in valued])
    no_cost = f"— ({safe(unpriced)})" if unpriced else "—"
    nodes: list[dict[str, Any]] = []
    for n, value, paint in zip(names, values, colours, strict=True):
        node, s = graph.nodes[n], stats.get(n)
        row: dict[str, Any] = {
            "x": pos[n][0], "y": pos[n][1], "step": safe(n), "type": safe(node.type),
            "shape": ("diamond" if node.type == "choice" else
                      "square" if node.type in ("map", "parallel", "loop", "scope") else "circle"),
            # A node's label cut as an axis label is (`charts.short`; its hover keeps the whole name): a long step
            # name ran over its neighbours and under the colour bar.
            "label": safe(short(n)) + (f"\n{fmt(value)}" if n in valued else ""),
            "value": paint if n in valued else None, "visited": s is not None}
        if s:
            row.update(visits=f"{int(s.get('visits') or 0):,}",
                       failures=f"{int(s.get('failures') or 0):,} ({fmt_pct(s.get('failure_rate') or 0)})",
                       retries=f"{int(s.get('retries') or 0):,}", p95=_p95(s.get("p95_ms")),
                       cost=fmt_usd(s["cost_usd"]) if not is_missing(s.get("cost_usd")) else no_cost)
        else:
            row["visits"] = "not visited in this window"
        nodes.append(row)
    top_colour = max(colours, default=0)

    def at() -> dict[str, Any]:
        """Position on the layout's units, no axes: every layer on one scale and one padded domain."""
        return {"x": {"field": "x", "type": "quantitative", "axis": None,
                      "scale": {"domain": x_domain, "nice": False, "zero": False}},
                "y": {"field": "y", "type": "quantitative", "axis": None,
                      "scale": {"domain": y_domain, "nice": False, "zero": False}}}

    def own(field: str) -> dict[str, Any]:
        """A channel read from the row as it is (a colour, a width, an angle): no scale, no legend."""
        return {"field": field, "type": "quantitative" if field in ("width", "opacity", "angle", "size")
                else "nominal", "scale": None}

    # Streamlit's theme gives every mark a tooltip of its fields: marks that have nothing to say say nothing.
    tips = [{"field": f, "title": f} for f in ("step", "type", "visits", "failures", "retries", "p95", "cost")]
    shape = {"field": "shape", "type": "nominal", "scale": None}
    node_mark = {"type": "point", "filled": True, "size": NODE_SIZE, "opacity": 1}
    dx, dy, length = _on_screen("x", "y", "x2", "y2")
    back = f"-({NODE_REACH} + datum.head)"              # the line ends under its arrowhead's middle
    ax, ay, a_length = _on_screen("from_x", "from_y", "x", "y")
    layer: list[Chart] = [
        {"name": "edges", "data": {"values": records(lines)},
         "mark": {"type": "rule", "strokeCap": "butt",
                  "xOffset": _along(str(NODE_REACH), dx, length), "yOffset": _along(str(NODE_REACH), dy, length),
                  "x2Offset": _along(back, dx, length), "y2Offset": _along(back, dy, length)},
         "encoding": {**at(), "x2": {"field": "x2"}, "y2": {"field": "y2"}, "strokeWidth": own("width"),
                      "color": own("colour"), "opacity": own("opacity"),
                      "tooltip": [{"field": "from", "title": "from"}, {"field": "to", "title": "to"},
                                  {"field": "transitions", "title": "transitions"}]}},
        # A triangle pointing up at angle 0, turned clockwise on the screen (whose y grows downwards) to point
        # along its edge, its middle `NODE_REACH` and its half height before the target's centre.
        {"name": "arrowheads", "data": {"values": records(arrows)},
         "mark": {"type": "point", "shape": "triangle-up", "filled": True, "tooltip": None,
                  "angle": {"expr": f"(atan2({ax}, -{ay}) * 180 / PI + 360) % 360"},
                  "xOffset": _along(back, ax, a_length), "yOffset": _along(back, ay, a_length)},
         "encoding": {**at(), "size": own("size"), "color": own("colour"), "opacity": own("opacity")}},
        # Counts over a white halo (a text mark has no background), so an edge crossing them leaves them legible.
        {"name": "count-halos", "data": {"values": records(numbers)},
         "mark": {"type": "text", "fontSize": 10, "color": "white", "stroke": "white", "strokeWidth": 4,
                  "strokeJoin": "round", "tooltip": None},
         "encoding": {**at(), "text": {"field": "count", "type": "nominal"}}},
        {"name": "counts", "data": {"values": records(numbers)}, "mark": {"type": "text", "fontSize": 10,
                                                                          "color": "#444", "tooltip": None},
         "encoding": {**at(), "text": {"field": "count", "type": "nominal"}}},
        # Labels under the nodes: a long one running under its neighbour leaves the neighbour whole, and hoverable.
        {"name": "labels", "data": {"values": records(nodes)},
         "mark": {"type": "text", "align": "left", "baseline": "middle", "dx": 17, "fontSize": 12,
                  "lineBreak": "\n", "color": "#333", "tooltip": None},
         "encoding": {**at(), "text": {"field": "label", "type": "nominal"}}},
        {"name": "unvisited", "data": {"values": records(r for r in nodes if not r["visited"])},
         "mark": {**node_mark, "fill": "white", "stroke": "#bbb", "strokeWidth": 2},
         "encoding": {**at(), "shape": shape, "tooltip": tips[:3]}},
        {"name": "visited", "data": {"values": records(r for r in nodes if r["visited"] and r["value"] is None)},
         "mark": {**node_mark, "fill": "white", "stroke": "#333", "strokeWidth": 1},
         "encoding": {**at(), "shape": shape, "tooltip": tips}},
        {"name": "painted", "data": {"values": records(r for r in nodes if r["value"] is not None)},
         "mark": {**node_mark, "stroke": "#333", "strokeWidth": 1},
         "encoding": {**at(), "shape": shape, "tooltip": tips,
                      "fill": {"field": "value", "type": "quantitative", "legend": bar,
                               "scale": {"scheme": scale.lower(), "domain": [0, top_colour if top_colour > 0 else 1],
                                         "clamp": True}}}},
    ]
    return spec(title, height=height, layer=layer, config={"view": {"stroke": None}})

