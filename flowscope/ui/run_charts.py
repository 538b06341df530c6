"""One run's charts: its timeline (`gantt`) and two runs side by side (`compare_steps`).

Pure functions from the run's step and try rows to Vega-Lite specs (`charts.Chart`); no Streamlit here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd

from flowscope.analysis import measures
from flowscope.analysis.base import utc_stamp
from flowscope.format import fmt_duration, is_missing
from flowscope.model import C, Status, StepType
from flowscope.textsafety import chart_text as safe
from flowscope.ui import readable
from flowscope.ui.charts import (
    HEIGHT,
    PALETTE,
    STATUS_COLORS,
    Chart,
    empty_chart,
    records,
    short,
    shorts,
    spec,
    time_x,
)


def _compare_label(row: Any) -> str:
    """A step's name as Compare's chart reads it (under its parent), not yet made chart text (`safe`)."""
    parent = row.parent if isinstance(row.parent, str) and row.parent else None
    return f"{parent} / {row.step}" if parent else str(row.step)


def _compare_mark(error: Any, retries: Any, visits: Any, running: bool = False) -> str:
    """A bar's mark in words (no emoji font needed): failed, retried, or not run (for a run still running,
    "not yet": it may not have reached the step)."""
    marks = []
    if not int(visits or 0):
        return "not yet" if running else "not run"
    if isinstance(error, str) and error:
        marks.append("failed")
    if int(retries or 0):
        marks.append(f"{int(retries)} retr{'y' if int(retries) == 1 else 'ies'}")
    return ", ".join(marks)


def _row_key(index: int, label: str) -> str:
    """A lane's key on the y axis: its place then its label (`ROW_KEY` characters of place, which the
    axis leaves off), so two lanes of one label stay two lanes and the lanes keep their order."""
    return f"{index:0{ROW_KEY - 1}d} {label}"


ROW_KEY = 6
"""The characters of place before a lane's label in its key (`_row_key`); the axis shows the rest."""

KEYED_LABELS = f"substring(datum.value, {ROW_KEY})"
"""An axis's label for a lane's key: its label alone."""


def compare_steps(table: pd.DataFrame, *, title: str = "Time per step, run A against run B",
                  limit: int = 30, running: Sequence[str] = ()) -> Chart:
    """Two runs' per-step durations side by side (`runs.compare_runs`: one row per step, differences
    first): grouped horizontal bars in one unit picked from the data, a failed or retried step marked on
    its bar in words and outlined red, a step only one run took shown with "not run" for the other, or
    "not yet" when that run is still running (`running`: "a", "b")."""
    if table is None or table.empty:
        return empty_chart("No steps to compare", title=title)
    part = table.head(limit)
    names = [_compare_label(r) for r in part.itertuples(index=False)]
    cut = shorts(names)
    keys = [_row_key(i, safe(cut[n])) for i, n in enumerate(names)]
    unit, size = readable.duration_unit(pd.concat([part["a_ms"], part["b_ms"]]))
    rows: list[dict[str, Any]] = []
    for run, colour in (("a", PALETTE[0]), ("b", PALETTE[1])):
        errors, retries, visits = part[f"{run}_error"], part[f"{run}_retries"], part[f"{run}_visits"]
        for key, name, ms, e, r, v in zip(keys, names, part[f"{run}_ms"], errors, retries, visits, strict=True):
            mark = _compare_mark(e, r, v, run in running)
            failed = mark.startswith("failed")
            # A step this run did not take hovers "not run", as its bar is marked (it read "n/a, 0 visit(s)").
            took = (("not yet (still running)" if run in running else "not run") if not int(v or 0) else
                    f"{fmt_duration(ms, 'no duration recorded')}, {int(v or 0)} visit(s)"
                    + (f", {int(r)} retries" if r else ""))
            error = _text_or_none(e)
            rows.append({"row": key, "label": safe(cut[name]), "step": safe(name), "run": f"run {run.upper()}",
                         "value": 0.0 if is_missing(ms) else float(ms) / size, "mark": mark, "took": took,
                         "error": safe(error[:120]) if error else None,
                         "outline": STATUS_COLORS[Status.FAILED.value] if failed else colour,
                         "outline_width": 3 if failed else 0})
    y = {"field": "row", "type": "nominal", "title": None, "scale": {"domain": keys},
         "axis": {"labelExpr": KEYED_LABELS, "labelOverlap": False, "labelFlush": False}}
    x = {"field": "value", "type": "quantitative", "title": f"time in step ({unit})",
         "scale": {"zero": True}, "axis": {"labelExpr": f"datum.label + ' {unit}'"}}
    runs = {"field": "run", "type": "nominal", "scale": {"domain": ["run A", "run B"]}}
    tips = [{"field": "step", "title": "step"}, {"field": "run", "title": "run"},
            {"field": "took", "title": "time in step"}]
    layer: list[Chart] = []
    for with_error in (False, True):
        bars = [r for r in rows if (r["error"] is not None) == with_error]
        if bars:
            layer.append({
                "data": {"values": records(bars)}, "mark": {"type": "bar"},
                "encoding": {"y": y, "x": x, "yOffset": runs,
                             "color": {**runs, "scale": {"domain": ["run A", "run B"], "range": PALETTE[:2]},
                                       "title": None},
                             "stroke": {"field": "outline", "type": "nominal", "scale": None, "legend": None},
                             "strokeWidth": {"field": "outline_width", "type": "quantitative", "scale": None,
                                             "legend": None},
                             "tooltip": tips + ([{"field": "error", "title": "error"}] if with_error else [])}})
    layer.append({"data": {"values": records([r for r in rows if r["mark"]])},
                  "mark": {"type": "text", "align": "left", "baseline": "middle", "dx": 5, "fontSize": 11},
                  "encoding": {"y": y, "x": x, "yOffset": runs, "text": {"field": "mark", "type": "nominal"}}})
    return spec(title, height=max(HEIGHT, 44 * len(part) + 90), layer=layer)


def _tree_order(steps: pd.DataFrame) -> list[tuple[int, Any]]:
    """Steps in display order (depth-first under their container), with their depth."""
    keys = set(steps[C.step_key])
    children: dict[Any, list[Any]] = {}
    for row in steps.itertuples(index=False):
        parent = getattr(row, C.parent_step_key)
        parent = parent if isinstance(parent, str) and parent in keys else None
        children.setdefault(parent, []).append(row)

    def start_of(row: Any) -> tuple:
        value = getattr(row, C.started_at)
        iteration = getattr(row, C.iteration)
        return (0 if iteration is None or pd.isna(iteration) else int(iteration),
                pd.Timestamp.max.tz_localize("UTC") if value is None or pd.isna(value) else pd.Timestamp(value),
                getattr(row, C.step_key))

    out: list[tuple[int, Any]] = []
    stack = [(0, r) for r in sorted(children.get(None, []), key=start_of, reverse=True)]
    while stack:
        depth, row = stack.pop()
        out.append((depth, row))
        for child in sorted(children.get(getattr(row, C.step_key), []), key=start_of, reverse=True):
            stack.append((depth + 1, child))
    return out


def _lanes(steps: pd.DataFrame) -> list[tuple[int, str, list[Any]]]:
    """(depth, name, visits) per lane, in display order: one lane per step path (the names from the run
    down to the step), so a loop's or a Map's iterations and a polling loop's revisits share their
    step's lane instead of a row each (a failed action is not buried under 72 iteration rows)."""
    lane_of: dict[str, tuple[str, ...]] = {}
    lanes: dict[tuple[str, ...], tuple[int, list[Any]]] = {}
    for depth, row in _tree_order(steps):
        parent = getattr(row, C.parent_step_key)
        path = (*lane_of.get(parent, ()), str(getattr(row, C.name))) if isinstance(parent, str) else (
            str(getattr(row, C.name)),)
        lane_of[str(getattr(row, C.step_key))] = path
        lanes.setdefault(path, (depth, []))[1].append(row)
    return [(depth, path[-1], visits) for path, (depth, visits) in lanes.items()]


def _text_or_none(value: Any) -> str | None:
    """A stored text (an error, a cause), None for a missing (None, NaN) or blank one."""
    return None if is_missing(value) or not str(value).strip() else str(value)


def _step_bar(row: Any, label: str, now: dt.datetime) -> dict[str, Any] | None:
    """The timeline bar of one step visit on its lane (None when it never started); a running step
    ends now. Its tooltip's fields: `name` (with its iteration and type), `status`, `took`, `tries` and,
    when it failed, `error` (its cause after it)."""
    start, end = getattr(row, C.started_at), getattr(row, C.ended_at)
    if start is None or pd.isna(start):
        return None
    if end is None or pd.isna(end):
        end = now if getattr(row, C.status) == Status.RUNNING.value else start
    iteration = getattr(row, C.iteration)
    suffix = "" if iteration is None or pd.isna(iteration) else f" [{int(iteration)}]"
    step_type = getattr(row, C.type)
    tried = getattr(row, C.attempts)
    attempts_n = 1 if is_missing(tried) else max(1, int(tried))     # none recorded: the one try it had
    running = getattr(row, C.status) == Status.RUNNING.value and is_missing(getattr(row, C.duration_ms))
    error = _text_or_none(getattr(row, C.error))
    if error:       # a stored row without one has NaN, which read "nan: nan"
        cause = _text_or_none(getattr(row, C.cause))
        error = safe(error) + (f": {safe(cause[:120])}" if cause else "")
    return {"label": label, "start": start, "end": end, "status": getattr(row, C.status),
            "kind": "wait" if step_type == StepType.WAIT.value else "step",
            "name": f"{safe(getattr(row, C.name))}{suffix} ({safe(step_type)})",
            "took": "running" if running else fmt_duration(getattr(row, C.duration_ms)),
            "tries": attempts_n, "error": error}


def _lane_label(depth: int, name: str, visits: list[Any]) -> str:
    """The lane's name, indented under its container, with its visits and failed ones when several."""
    failed = sum(1 for v in visits if getattr(v, C.status) in measures.STEP_FAILED)
    count = f" ×{len(visits)}" if len(visits) > 1 else ""
    return (f"{'   ' * depth}{'└ ' if depth else ''}{safe(short(name))}{count}"
            + (f" ({failed} failed)" if failed and count else ""))


def _try_bars(tries: pd.DataFrame | None, label: str) -> list[dict[str, Any]]:
    """Thinner bars on the lane under a retried step, one per try that started; its tooltip, `name`:
    "try 2: FAILED States.Timeout"."""
    bars: list[dict[str, Any]] = []
    for t in (tries if tries is not None else pd.DataFrame()).itertuples(index=False):
        t_start, t_end = getattr(t, C.started_at), getattr(t, C.ended_at)
        if t_start is None or pd.isna(t_start):
            continue
        t_end = t_start if t_end is None or pd.isna(t_end) else t_end
        bars.append({"label": label, "start": t_start, "end": t_end, "status": getattr(t, C.status), "kind": "try",
                     "name": safe(f"try {getattr(t, C.attempt)}: {getattr(t, C.status)} "
                                  f"{_text_or_none(getattr(t, C.error)) or ''}".rstrip())})
    return bars


GANTT_MARKS: dict[str, dict[str, Any]] = {
    "run": {"height": {"band": 0.8}, "opacity": 0.55},
    "step": {"height": {"band": 0.7}},
    "wait": {"height": {"band": 0.7}, "fillOpacity": 0.35, "strokeDash": [4, 2], "strokeWidth": 1.5},
    "try": {"height": {"band": 0.4}},
}
"""Each kind of timeline bar's mark: the run paler, a wait pale and outlined in dashes (hatched, in plotly),
a try thinner."""

GANTT_TIPS: dict[str, list[dict[str, Any]]] = {
    "run": [{"field": "name", "title": "run"}, {"field": "status", "title": "status"},
            {"field": "took", "title": "duration"}],
    "step": [{"field": "name", "title": "step"}, {"field": "status", "title": "status"},
             {"field": "took", "title": "duration"}, {"field": "tries", "title": "tries"}],
    "try": [{"field": "name", "title": "try"}],
}
"""Each kind of bar's tooltip fields (a wait's are a step's; a bar with an error adds it)."""


SHORTEST_BAR = 500
"""A timeline bar is at least this fraction (1/500) of the timeline's span long, and at least 1 ms: about
2 px across a page, where a step that ended as it started drew nothing."""


def _indented(label: str) -> str:
    """A lane's label with its indent kept on the axis: Vega trims a text's leading white space (no-break
    spaces too), but not after a zero-width space; no-break ones, so an SVG drawing keeps them all."""
    text = label.lstrip(" ")
    return "\u200b" + "\u00a0" * (len(label) - len(text)) + text if text != label else label


def _gantt_layer(kind: str, bars: list[dict[str, Any]], y: dict[str, Any], colour: dict[str, Any]) -> Chart:
    """One kind of timeline bar (with or without an error, which its tooltip then shows)."""
    tips = list(GANTT_TIPS["step" if kind == "wait" else kind])
    if kind in ("step", "wait") and bars[0].get("error"):
        tips.append({"field": "error", "title": "error"})
    mark = {"type": "bar", **GANTT_MARKS[kind]}
    encoding: dict[str, Any] = {"y": y, "x": time_x("start"), "x2": {"field": "end"},
                                "color": colour, "tooltip": tips}
    if kind == "wait":     # its outline in its status's colour (from a field: a second scale split the legend)
        encoding["stroke"] = {"field": "outline", "type": "nominal", "scale": None}
    fields = ("row", "label", "start", "end", "status", "kind", *(["outline"] if kind == "wait" else []),
              *(t["field"] for t in tips))
    return {"data": {"values": records([{f: b.get(f) for f in dict.fromkeys(fields)} for b in bars])},
            "mark": mark, "encoding": encoding}


def gantt(execution: dict[str, Any], steps: pd.DataFrame, attempts: pd.DataFrame | None = None, *,
          max_rows: int = 400, now: dt.datetime | None = None) -> Chart:
    """One execution: a lane per step (nested under Map/Parallel/loop containers) holding a bar per
    visit, so iterations and revisits share it, with their count and failures in its label; a lane of
    thinner bars for the tries of a retried step, waits pale in a dashed outline, status colours (a legend of
    those present); the run itself on top, paler. Lanes are keyed by their place (`_row_key`), labelled in
    monospace and left-aligned so nested ones read indented."""
    if steps is None or steps.empty:
        return empty_chart("No step details were collected for this execution", title="Timeline")
    now = now or dt.datetime.now(dt.timezone.utc)
    tries: dict[str, pd.DataFrame] = {}
    if attempts is not None and not attempts.empty:
        for key, part in attempts.groupby(C.step_key):
            if len(part) > 1:
                tries[str(key)] = part.sort_values(C.attempt)
    rows: list[dict[str, Any]] = []
    run_start = execution.get(C.started_at)
    run_end = execution.get(C.ended_at)
    ended = run_end is not None and not pd.isna(run_end)
    if run_start is not None and not pd.isna(run_start):
        rows.append({"label": f"run: {safe(short(execution.get(C.workflow_name) or 'execution'))}", "start": run_start,
                     "end": run_end if ended else now, "status": execution.get(C.status), "kind": "run",
                     "name": safe(execution.get(C.execution_id)),
                     "took": fmt_duration(pd.Timestamp(run_end) - pd.Timestamp(run_start)) if ended else "running",
                     "lane": -1})
    lanes = 0
    for depth, name, visits in _lanes(steps):
        label = _lane_label(depth, name, visits)
        bars = [b for b in (_step_bar(v, label, now) for v in visits) if b is not None]
        if not bars:
            continue
        rows.extend({**b, "lane": 2 * lanes} for b in bars)
        retried = [tries[k] for k in (str(getattr(v, C.step_key)) for v in visits) if k in tries]
        if retried:
            tries_label = f"{'   ' * (depth + 1)}· tries ({sum(len(t) for t in retried)})"
            rows.extend({**b, "lane": 2 * lanes + 1} for t in retried for b in _try_bars(t, tries_label))
            lanes += 1
        lanes += 1
        if lanes >= max_rows:
            break
    if not rows:
        return empty_chart("No step of this execution has a start time", title="Timeline")
    return _timeline(rows, "Timeline" + (f" (first {max_rows} lanes)" if lanes >= max_rows else ""))


def _timeline(rows: list[dict[str, Any]], title: str) -> Chart:
    """The timeline's spec from its bars (`_step_bar`, `_try_bars`, the run's), each with its `lane`."""
    order = {lane: i for i, lane in enumerate(sorted({r["lane"] for r in rows}))}
    labels = {r["lane"]: r["label"] for r in rows}
    # The axis shows a label's indent (`_indented`): Vega's labels lost their leading spaces.
    keys = [_row_key(i, _indented(labels[lane])) for lane, i in order.items()]
    for r in rows:
        r.update(row=keys[order[r["lane"]]], start=utc_stamp(r["start"]), end=utc_stamp(r["end"]),
                 status=safe(r["status"]) if not is_missing(r["status"]) and str(r["status"]) else "unknown")
    # A bar of no length (a step that ended as it started) is still drawn: `SHORTEST_BAR` of the chart.
    shortest = max(pd.Timedelta(milliseconds=1),
                   (max(r["end"] for r in rows) - min(r["start"] for r in rows)) / SHORTEST_BAR)
    for r in rows:
        r["end"] = max(r["end"], r["start"] + shortest)
        r["outline"] = STATUS_COLORS.get(r["status"], "#999999")
    shown = len(keys)
    height = max(260, min(22 * shown + 90, 2400))
    present = list(dict.fromkeys(r["status"] for r in rows))
    statuses = [s for s in STATUS_COLORS if s in present] + [s for s in present if s not in STATUS_COLORS]
    colour = {"field": "status", "type": "nominal", "title": None,
              "scale": {"domain": statuses, "range": [STATUS_COLORS.get(s, "#999999") for s in statuses]}}
    # Labels left-aligned at the widest one's width from the axis (monospace: each character about 0.6 of
    # the font's 11 px), so a nested lane reads indented under its container; every one shown, beside its
    # lane (Streamlit's theme hid every other label of lanes 16 px apart as overlapping, and moved the first
    # off its lane to keep it inside the plot).
    widest = max(len(label) for label in labels.values())
    y = {"field": "row", "type": "nominal", "title": None, "scale": {"domain": keys},
         "axis": {"labelExpr": KEYED_LABELS, "labelFont": "monospace", "labelFontSize": 11, "labelAlign": "left",
                  "labelPadding": int(widest * 6.7) + 6, "ticks": False, "labelOverlap": False,
                  "labelFlush": False}}
    layer = []
    for kind in ("run", "step", "wait", "try"):
        for with_error in (False, True):
            bars = [r for r in rows if r["kind"] == kind and bool(r.get("error")) == with_error]
            if bars:
                layer.append(_gantt_layer(kind, bars, y, colour))
    return spec(title, height=height, layer=layer)
