"""A workflow's state graph from its stored definition, with per-step metrics painted on it.

Pure (no Streamlit): `parse(definition, fmt)` reads Step Functions ASL JSON, a Logic Apps
workflow definition JSON or a Google Cloud Workflows YAML/JSON source into nodes and edges, each
drawn by its cloud's one definition parser (`collectors/<cloud>/definition.py`);
`layout` places them in layers; `figure` draws them with plotly, colouring each step by a metric
(failure rate, retries, p95 latency or cost) and writing observed transition counts on edges.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import yaml

from flowscope import bounded_yaml
from flowscope.collectors.aws.definition import workflow_graph as parse_asl
from flowscope.collectors.azure.definition import workflow_graph as parse_logicapp
from flowscope.collectors.gcp.definition import workflow_graph as parse_gcp
from flowscope.collectors.graph import DefinitionError, Graph
from flowscope.format import fmt_count, fmt_duration, fmt_pct, fmt_usd, is_missing
from flowscope.textsafety import plotly_text as safe
from flowscope.ui.charts import MONEY_TICKS, short
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
    """The nodes' colour values and colour bar, in the labels' units: percent, dollars, whole retries, and
    durations in one unit picked from the visited steps' values (`readable.duration_unit`), not raw ms."""
    bar: dict[str, Any] = {"title": label, "thickness": 12}
    if metric == "failure_rate":
        bar["tickformat"] = ".1~%"
    elif metric == "cost_usd":
        bar.update(tickprefix="$", tickformat=MONEY_TICKS)
    elif metric == "retries":
        bar["tickformat"] = ",d"
        if max(values, default=0) <= 10:
            bar["dtick"] = 1
    elif metric == "p95_ms":
        unit, size = duration_unit(pd.Series(measured, dtype=float))
        values = [v / size for v in values]
        bar["ticksuffix"] = f" {unit}"
    return values, bar


NO_P95 = "— (no visit has ended: still running, or no end time was collected)"
"""A visited step's p95 when none of its visits has a duration: said why, where it read "n/a"."""


def _p95(value: Any) -> str:
    """A step's p95 in a node's hover: its duration, or why it has none (`NO_P95`), never "n/a" or "0 ms"."""
    return NO_P95 if is_missing(value) else fmt_duration(float(value))


EDGE_COLORS = {"next": "#888", "choice": "#888", "default": "#888", "branch": "#aaa", "catch": "#d62728",
               "observed": "#9467bd", "call": "#888"}


def figure(graph: Graph, steps: pd.DataFrame | None = None, edges: pd.DataFrame | None = None, *,
           metric: str = "failure_rate", title: str | None = None, unpriced: str | None = None) -> go.Figure:
    """Draw the graph: nodes coloured by `metric` (from `queries.step_metrics`), edges labelled
    with observed transition counts (from `queries.edge_counts`). `unpriced`: why a step has no cost (its
    workflow is billed per execution), said in its hover, where "cost none" read as free."""
    pos = layout(graph)
    label, scale, fmt = METRICS.get(metric, METRICS["failure_rate"])
    stats: dict[str, dict[str, Any]] = {}
    if steps is not None and not steps.empty:
        stats = {str(r["step"]): r for r in steps.to_dict("records")}
    counts: dict[tuple[str, str], int] = {}
    if edges is not None and not edges.empty:
        counts = {(str(r.source or ""), str(r.target)): int(r.transitions) for r in edges.itertuples(index=False)}
    top = max(counts.values(), default=1) or 1
    fig = go.Figure()
    # The arrows and their counts, given to the layout at once: `add_annotation` one by one copied and validated
    # every annotation before it again (a 5-edge graph: 25 ms of the Workflows page's run, each window change).
    annotations: list[dict[str, Any]] = []
    for e in graph.edges:
        if e.source not in pos or e.target not in pos:
            continue
        (x0, y0), (x1, y1) = pos[e.source], pos[e.target]
        count = counts.get((e.source, e.target), 0)
        colour = EDGE_COLORS.get(e.kind, "#888") if count or e.kind == "catch" else "#cccccc"
        annotations.append(dict(x=x1, y=y1 + 0.12, ax=x0, ay=y0 - 0.12, xref="x", yref="y", axref="x", ayref="y",
                                showarrow=True, arrowhead=2, arrowsize=1, arrowwidth=1 + 3 * (count / top),
                                arrowcolor=colour, text="", opacity=0.9 if count else 0.6))
        if count:
            annotations.append(dict(x=(x0 + x1) / 2, y=(y0 + y1) / 2, text=f"{count:,}", showarrow=False,
                                    font=dict(size=10, color="#444"), bgcolor="rgba(255,255,255,0.8)"))
    fig.update_layout(annotations=annotations)
    names = list(pos)
    # A visited step without the metric (no cost: its workflow is billed per execution) reads none, never $0.
    raw = [stats.get(n, {}).get(metric) for n in names]
    valued = {n for n, v in zip(names, raw, strict=True) if n in stats and not is_missing(v)}
    values = [float(v or 0.0) if n in valued else 0.0 for n, v in zip(names, raw, strict=True)]
    no_cost = f"— ({safe(unpriced)})" if unpriced else "—"
    hover = []
    for n in names:
        s = stats.get(n)
        node = graph.nodes[n]
        if s:
            hover.append(f"<b>{safe(n)}</b> ({safe(node.type)})<br>visits {int(s.get('visits') or 0):,}"
                         f"<br>failures {int(s.get('failures') or 0):,} ({fmt_pct(s.get('failure_rate') or 0)})"
                         f"<br>retries {int(s.get('retries') or 0):,}"
                         f"<br>p95 {_p95(s.get('p95_ms'))}"
                         f"<br>cost {fmt_usd(s['cost_usd']) if not is_missing(s.get('cost_usd')) else no_cost}")
        else:
            hover.append(f"<b>{safe(n)}</b> ({safe(node.type)})<br>not visited in this window")
    # A node's label cut as an axis label is (`charts.short`; its hover keeps the whole name): a long step name ran
    # over its neighbours and under the colour bar.
    text = [f"{safe(short(n))}<br>{fmt(v)}" if n in valued else safe(short(n))
            for n, v in zip(names, values, strict=True)]
    colours, colorbar = _colours(metric if metric in METRICS else "failure_rate", label, values,
                                 [v for n, v in zip(names, values, strict=True) if n in valued])
    fig.add_trace(go.Scatter(
        x=[pos[n][0] for n in names], y=[pos[n][1] for n in names], mode="markers+text", text=text,
        textposition="middle right", hovertext=hover, hoverinfo="text", showlegend=False,
        marker=dict(size=26, symbol=["diamond" if graph.nodes[n].type == "choice" else
                                     "square" if graph.nodes[n].type in ("map", "parallel", "loop", "scope")
                                     else "circle" for n in names],
                    color=colours, colorscale=scale, cmin=0, cmax=max(colours) if max(colours, default=0) > 0 else 1,
                    line=dict(width=[1 if n in stats else 2 for n in names],
                              color=["#333" if n in stats else "#bbb" for n in names]),
                    colorbar=colorbar),
    ))
    xs = [p[0] for p in pos.values()] or [0]
    ys = [p[1] for p in pos.values()] or [0]
    fig.update_xaxes(visible=False, range=[min(xs) - 0.6, max(xs) + 1.8])
    fig.update_yaxes(visible=False, range=[min(ys) - 0.6, max(ys) + 0.6])
    fig.update_layout(title=safe(title) if title else None, height=max(320, 90 * (int(max(ys) - min(ys)) + 2)),
                      margin=dict(l=10, r=10, t=40 if title else 10, b=10), hovermode="closest")
    return fig
