"""A workflow's state graph from its stored definition, with per-step metrics painted on it.

Pure (no Streamlit): `parse(definition, fmt)` reads Step Functions ASL JSON, a Logic Apps
workflow definition JSON or a Google Cloud Workflows YAML/JSON source into nodes and edges;
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

from flowscope.analysis.base import fmt_ms
from flowscope.collectors.graph import DefinitionError, Graph


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
                doc = yaml.safe_load(text)
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


# ---------------------------------------------------------------- Step Functions (ASL)

_ASL_TYPES = {"task": "task", "choice": "choice", "wait": "wait", "pass": "pass", "parallel": "parallel",
              "map": "map", "succeed": "succeed", "fail": "fail"}


def parse_asl(doc: Any) -> Graph:
    if not isinstance(doc, dict) or not isinstance(doc.get("States"), dict):
        raise DefinitionError("an ASL definition needs a States object")
    graph = Graph()
    graph.starts.append(str(doc.get("StartAt")))
    _asl_states(graph, doc, None)
    return graph


def _asl_states(graph: Graph, machine: dict[str, Any], parent: str | None) -> None:
    states = machine.get("States") or {}
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        graph.add(name, _ASL_TYPES.get(str(state.get("Type", "")).lower(), "other"), parent)
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        graph.link(name, state.get("Next"))
        graph.link(name, state.get("Default"), "default")
        for choice in state.get("Choices") or []:
            if isinstance(choice, dict):
                graph.link(name, choice.get("Next"), "choice")
        for catch in state.get("Catch") or []:
            if isinstance(catch, dict):
                graph.link(name, catch.get("Next"), "catch")
        inner = [b for b in state.get("Branches") or [] if isinstance(b, dict)]
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                inner.append(state[key])
        for branch in inner:
            _asl_states(graph, branch, name)
            graph.link(name, branch.get("StartAt"), "branch")


# ---------------------------------------------------------------- Logic Apps

_LA_TYPES = {"if": "choice", "switch": "choice", "foreach": "loop", "until": "loop", "scope": "scope",
             "wait": "wait", "delay": "wait", "compose": "pass", "initializevariable": "pass",
             "setvariable": "pass", "terminate": "fail", "response": "return"}


def parse_logicapp(doc: Any) -> Graph:
    if not isinstance(doc, dict):
        raise DefinitionError("a Logic Apps definition must be a JSON object")
    graph = Graph()
    triggers = doc.get("triggers") or {}
    for name in triggers:
        graph.add(name, "trigger")
        graph.starts.append(name)
    _la_actions(graph, doc.get("actions") or {}, None, list(triggers))
    return graph


def _la_actions(graph: Graph, actions: dict[str, Any], parent: str | None, entry: list[str]) -> None:
    for name, action in actions.items():
        if not isinstance(action, dict):
            continue
        native = str(action.get("type", "")).lower()
        graph.add(name, _LA_TYPES.get(native, "task"), parent)
    for name, action in actions.items():
        if not isinstance(action, dict):
            continue
        run_after = action.get("runAfter") or {}
        if not run_after:
            for source in entry:
                graph.link(source, name, "branch" if parent else "next")
            if not entry:
                graph.starts.append(name)
        for source, statuses in run_after.items():
            words = {str(s).lower() for s in (statuses or ["Succeeded"])}
            kind = "catch" if words and "succeeded" not in words else "next"
            graph.link(source, name, kind)
        nested: list[dict[str, Any]] = []
        if isinstance(action.get("actions"), dict):
            nested.append(action["actions"])
        if isinstance(action.get("else"), dict) and isinstance(action["else"].get("actions"), dict):
            nested.append(action["else"]["actions"])
        for case in (action.get("cases") or {}).values():
            if isinstance(case, dict) and isinstance(case.get("actions"), dict):
                nested.append(case["actions"])
        if isinstance(action.get("default"), dict) and isinstance(action["default"].get("actions"), dict):
            nested.append(action["default"]["actions"])
        for inner in nested:
            _la_actions(graph, inner, name, [name])


# ---------------------------------------------------------------- GCP Workflows

def parse_gcp(doc: Any) -> Graph:
    graph = Graph()
    if isinstance(doc, list):
        routines = {"main": {"steps": doc}}
    elif isinstance(doc, dict):
        routines = doc
    else:
        raise DefinitionError("a Workflows source must be a list of steps or a mapping of routines")
    for routine, body in routines.items():
        steps = body.get("steps") if isinstance(body, dict) else body
        if not isinstance(steps, list):
            continue
        first = _gcp_steps(graph, steps, None)
        if routine == "main" and first:
            graph.starts.append(first)
    if not graph.nodes:
        raise DefinitionError("no steps found in the Workflows source")
    return graph


def _gcp_kind(body: dict[str, Any]) -> str:
    if "call" in body:
        return "wait" if str(body["call"]).startswith(("sys.sleep", "events.await")) else "task"
    for key, kind in (("switch", "choice"), ("for", "loop"), ("parallel", "parallel"), ("try", "scope"),
                      ("return", "return"), ("raise", "fail"), ("assign", "pass"), ("steps", "scope")):
        if key in body:
            return kind
    return "other"


def _gcp_steps(graph: Graph, steps: list[Any], parent: str | None) -> str | None:
    """Add a list of steps; returns the first step's name."""
    named: list[tuple[str, dict[str, Any]]] = []
    for item in steps:
        if isinstance(item, dict) and len(item) == 1:
            name, body = next(iter(item.items()))
            named.append((str(name), body if isinstance(body, dict) else {}))
    for name, body in named:
        graph.add(name, _gcp_kind(body), parent)
    for index, (name, body) in enumerate(named):
        following = named[index + 1][0] if index + 1 < len(named) else None
        terminal = "return" in body or "raise" in body
        explicit = body.get("next")
        if explicit and explicit not in ("end", "continue", "break"):
            graph.link(name, str(explicit))
        elif not terminal and following and explicit not in ("end",):
            graph.link(name, following)
        switch = body.get("switch")
        if isinstance(switch, list):
            for cond in switch:
                if not isinstance(cond, dict):
                    continue
                if cond.get("next") and cond["next"] not in ("end", "continue", "break"):
                    graph.link(name, str(cond["next"]), "choice")
                if isinstance(cond.get("steps"), list):
                    graph.link(name, _gcp_steps(graph, cond["steps"], name), "branch")
        inner: list[list[Any]] = []
        if isinstance(body.get("steps"), list):
            inner.append(body["steps"])
        loop = body.get("for")
        if isinstance(loop, dict) and isinstance(loop.get("steps"), list):
            inner.append(loop["steps"])
        par = body.get("parallel")
        if isinstance(par, dict):
            for branch in par.get("branches") or []:
                if isinstance(branch, dict):
                    for bname, bbody in branch.items():
                        if isinstance(bbody, dict) and isinstance(bbody.get("steps"), list):
                            graph.add(str(bname), "scope", name)
                            graph.link(name, str(bname), "branch")
                            graph.link(str(bname), _gcp_steps(graph, bbody["steps"], str(bname)), "branch")
            if isinstance(par.get("for"), dict) and isinstance(par["for"].get("steps"), list):
                inner.append(par["for"]["steps"])
        tried = body.get("try")
        if isinstance(tried, dict) and isinstance(tried.get("steps"), list):
            inner.append(tried["steps"])
        exc = body.get("except")
        if isinstance(exc, dict) and isinstance(exc.get("steps"), list):
            graph.link(name, _gcp_steps(graph, exc["steps"], name), "catch")
        for steps_list in inner:
            graph.link(name, _gcp_steps(graph, steps_list, name), "branch")
    return named[0][0] if named else None


# ---------------------------------------------------------------- observed transitions

def with_observed(graph: Graph, edges: pd.DataFrame | None) -> Graph:
    """Add steps and transitions seen in executions but absent from the definition."""
    if edges is None or edges.empty:
        return graph
    for row in edges.itertuples(index=False):
        source, target = str(row.source or ""), str(row.target)
        graph.add(target, "other")
        if source:
            graph.add(source, "other")
            if not any(e.source == source and e.target == target for e in graph.edges):
                graph.link(source, target, "observed")
    return graph


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
    # Drop back edges (found by an iterative depth-first search), then longest path from the roots.
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}
    for root in roots + list(graph.nodes):
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
    indeg = {n: sum(1 for p in pred[n] if (p, n) not in back) for n in graph.nodes}
    depth: dict[str, int] = {n: 0 for n in graph.nodes}
    ready = deque(n for n in graph.nodes if indeg[n] == 0)
    while ready:
        node = ready.popleft()
        for nxt in succ[node]:
            if (node, nxt) in back:
                continue
            depth[nxt] = max(depth[nxt], depth[node] + 1)
            indeg[nxt] -= 1
            if indeg[nxt] == 0:
                ready.append(nxt)
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


METRICS = {
    "failure_rate": ("Failure rate", "Reds", lambda v: f"{v:.0%}"),
    "retries": ("Retries", "Oranges", lambda v: f"{v:,.0f}"),
    "p95_ms": ("p95 latency", "Blues", fmt_ms),
    "cost_usd": ("Cost", "Greens", lambda v: f"${v:,.4f}" if v < 1 else f"${v:,.2f}"),
}
EDGE_COLORS = {"next": "#888", "choice": "#888", "default": "#888", "branch": "#aaa", "catch": "#d62728",
               "observed": "#9467bd"}


def figure(graph: Graph, steps: pd.DataFrame | None = None, edges: pd.DataFrame | None = None, *,
           metric: str = "failure_rate", title: str | None = None) -> go.Figure:
    """Draw the graph: nodes coloured by `metric` (from `queries.step_metrics`), edges labelled
    with observed transition counts (from `queries.edge_counts`)."""
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
    for e in graph.edges:
        if e.source not in pos or e.target not in pos:
            continue
        (x0, y0), (x1, y1) = pos[e.source], pos[e.target]
        n = counts.get((e.source, e.target), 0)
        colour = EDGE_COLORS.get(e.kind, "#888") if n or e.kind == "catch" else "#cccccc"
        fig.add_annotation(x=x1, y=y1 + 0.12, ax=x0, ay=y0 - 0.12, xref="x", yref="y", axref="x", ayref="y",
                           showarrow=True, arrowhead=2, arrowsize=1, arrowwidth=1 + 3 * (n / top),
                           arrowcolor=colour, text="", opacity=0.9 if n else 0.6)
        if n:
            fig.add_annotation(x=(x0 + x1) / 2, y=(y0 + y1) / 2, text=f"{n:,}", showarrow=False,
                               font=dict(size=10, color="#444"), bgcolor="rgba(255,255,255,0.8)")
    names = list(pos)
    values = [float(stats.get(n, {}).get(metric) or 0.0) for n in names]
    hover = []
    for n in names:
        s = stats.get(n)
        node = graph.nodes[n]
        if s:
            hover.append(f"<b>{n}</b> ({node.type})<br>visits {int(s.get('visits') or 0):,}"
                         f"<br>failures {int(s.get('failures') or 0):,} ({float(s.get('failure_rate') or 0):.1%})"
                         f"<br>retries {int(s.get('retries') or 0):,}<br>p95 {fmt_ms(float(s.get('p95_ms') or 0))}"
                         f"<br>cost ${float(s.get('cost_usd') or 0):,.4f}")
        else:
            hover.append(f"<b>{n}</b> ({node.type})<br>not visited in this window")
    text = [f"{n}<br>{fmt(v)}" if n in stats else n for n, v in zip(names, values)]
    fig.add_trace(go.Scatter(
        x=[pos[n][0] for n in names], y=[pos[n][1] for n in names], mode="markers+text", text=text,
        textposition="middle right", hovertext=hover, hoverinfo="text", showlegend=False,
        marker=dict(size=26, symbol=["diamond" if graph.nodes[n].type == "choice" else
                                     "square" if graph.nodes[n].type in ("map", "parallel", "loop", "scope")
                                     else "circle" for n in names],
                    color=values, colorscale=scale, cmin=0, cmax=max(values) if max(values, default=0) > 0 else 1,
                    line=dict(width=[1 if n in stats else 2 for n in names],
                              color=["#333" if n in stats else "#bbb" for n in names]),
                    colorbar=dict(title=label, thickness=12)),
    ))
    xs = [p[0] for p in pos.values()] or [0]
    ys = [p[1] for p in pos.values()] or [0]
    fig.update_xaxes(visible=False, range=[min(xs) - 0.6, max(xs) + 1.8])
    fig.update_yaxes(visible=False, range=[min(ys) - 0.6, max(ys) + 0.6])
    fig.update_layout(title=title, height=max(320, 90 * (int(max(ys) - min(ys)) + 2)), template="plotly_white",
                      margin=dict(l=10, r=10, t=40 if title else 10, b=10), hovermode="closest")
    return fig
