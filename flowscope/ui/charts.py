"""Chart builders: pure functions from small DataFrames to Vega-Lite specs (`Chart`), which the dashboard
draws with `st.vega_lite_chart` (`components.plot`).

No Streamlit here (unit-tested without it). Every builder accepts an empty frame and returns a chart
that says so, rather than raising. Rows travel inside the spec (`data.values`), already in the units
and words the chart shows: tooltips read pre-formatted text (`fmt_usd`, `fmt_duration`, ...), so a
figure reads as the tables read it. Vega draws text as text and escapes its tooltips, so a name from a
cloud needs no HTML escaping, only `safe` (`textsafety.chart_text`: no escape sequences, one line).

Why Vega-Lite and not plotly: Streamlit's Vega-Lite renderer is a sixth of its plotly one (0.8 MB
against 4.7 MB), and a fresh browser fetches and compiles the renderer on every first visit. Measured
on the 1M-execution bench store (session 58), the first draw of a page took 1-2 s less with no plotly
on it. The reports draw these same specs (`report/vega.py`, vega-embed in the page), so each chart is
built once for both surfaces.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from flowscope.analysis.base import utc_stamp
from flowscope.format import fmt_count, fmt_duration, fmt_pct, fmt_usd, is_missing
from flowscope.model import C, Status
from flowscope.textsafety import chart_text as safe
from flowscope.ui import readable

Chart = dict[str, Any]
"""A Vega-Lite (v6) spec with its rows inline: what every builder returns and `components.plot` draws."""

CLOUD_COLORS = {"aws": "#FF9900", "azure": "#0078D4", "gcp": "#34A853", "total": "#555555"}
STATUS_COLORS = {
    Status.SUCCEEDED.value: "#2e9d5b", Status.FAILED.value: "#d62728", Status.CAUGHT.value: "#ff9f1c",
    Status.TIMED_OUT.value: "#9b1d20", Status.ABORTED.value: "#7f7f7f", Status.RUNNING.value: "#1f77b4",
    Status.SKIPPED.value: "#c7c7c7",
}
SEVERITY_COLORS = {"critical": "#9b1d20", "high": "#d62728", "medium": "#ff9f1c", "low": "#1f77b4", "info": "#7f7f7f"}
PALETTE = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B", "#B279A2", "#FF9DA6",
           "#9D755D", "#BAB0AC", "#1f77b4", "#8c564b"]
HEIGHT = 320
BAND_GREY = "#bbbbbb"
NOTE_GREY = "#777777"

LABEL_CHARS = 60
"""The most characters of a name an axis label shows (`short`): a 150-character workflow
name took the whole width of a bar chart's axis, its bars a sliver, and a legend of three such names
wrapped over the chart's title."""

LEGEND_CHARS = 40
"""The most characters of a legend entry: entries sit in a row above the chart, which longer ones
wrapped over."""

MONEY_TICKS = ",.6~f"
"""Money axis ticks (d3-format) in decimals, to the millionth, no trailing zeros: "$0.00005", "$1,250"; an SI
format read "$50µ" for a retry costing $0.00005 a month."""

SHARE_TICKS = ".2~%"
"""Percent axis ticks (d3-format) to two decimals, no trailing zeros: "0.1%", "0.25%", "12%"; whole percents
read "0% 0% 0% 0% 0% 1% 1%" up a healthy cloud's failure-rate trend."""

COUNT_TICKS = ",d"
"""Count axis ticks: whole numbers with thousands separators (no 0.5 executions)."""

LOG_DURATION_TICKS = ((1, "1 ms"), (10, "10 ms"), (100, "100 ms"), (1_000, "1 s"), (10_000, "10 s"),
                      (60_000, "1 min"), (600_000, "10 min"), (3_600_000, "1 h"), (21_600_000, "6 h"),
                      (86_400_000, "1 d"), (604_800_000, "7 d"), (2_592_000_000, "30 d"))
"""(ms, label) where a log duration axis ticks."""

TIME_FORMAT = "%Y-%m-%d %H:%M"
"""How a tooltip writes a moment (UTC, as every table of the dashboard does)."""


# ---------------------------------------------------------------- the spec's common parts

def iso(moment: Any) -> str | None:
    """A moment as the spec carries it: ISO 8601 in UTC with its "Z" (Vega parses it as UTC), None when missing."""
    if moment is None or is_missing(moment):
        return None
    return utc_stamp(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def when(moment: Any) -> str:
    """A moment as a tooltip reads it."""
    return "" if moment is None or is_missing(moment) else utc_stamp(moment).strftime(TIME_FORMAT) + " UTC"


def json_value(value: Any) -> Any:
    """One cell as JSON can carry it: numpy numbers as Python's, NaN and NaT as null, moments as `iso`."""
    if value is None:
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime, np.datetime64)):
        return iso(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) or np.isinf(value) else float(value)
    if is_missing(value):
        return None
    return value


def records(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as the spec's `data.values`: every cell a JSON value (`json_value`)."""
    return [{k: json_value(v) for k, v in row.items()} for row in rows]


def spec(title: str | None = None, height: int = HEIGHT, **body: Any) -> Chart:
    """A chart's spec: its title (a name from a cloud made `safe`), height, a legend above the plot, and
    `body` (data, mark or layer, encoding). Its width is the page's (`components.plot`)."""
    out: Chart = {"height": height}
    if title:
        out["title"] = {"text": safe(title), "anchor": "start"}
    # Rows stay in the spec, in each layer: Streamlit moves a spec's top-level data into an Arrow table,
    # and the moments in it then missed the time axis (all at its left edge).
    data = body.pop("data", None)
    if "mark" in body:
        body["layer"] = [{"mark": body.pop("mark"), "encoding": body.pop("encoding", {})}]
    if data is not None:
        body["layer"] = [part if "data" in part else {"data": data, **part} for part in body["layer"]]
    out.update(body)
    out.setdefault("config", {})
    out["config"] = {"legend": {"orient": "top", "title": None, "labelLimit": 0},
                     "axis": {"labelLimit": 0}, **out["config"]}
    return out


def empty_chart(message: str = "No data in this window", title: str | None = None) -> Chart:
    """A chart with no rows: the message where the plot would be, no axes."""
    return spec(title, height=200, data={"values": [{"message": safe(message)}]},
                mark={"type": "text", "fontSize": 14, "color": NOTE_GREY},
                encoding={"text": {"field": "message", "type": "nominal"}})


def layers(chart: Chart) -> list[Chart]:
    """The chart's layers (one, for a chart of one mark): what tests and builders adding marks read."""
    return chart.get("layer", [chart])


SMALL_COUNT = 10
"""The largest count whose axis ticks every whole number (`integer_axis`)."""


def integer_axis(top: Any = None) -> dict[str, Any]:
    """A count axis: whole-number ticks (no 0.5 executions), however few the counts. `tickMinStep` only caps how
    many ticks Vega asks for, and the step it is given back may still be 0.5 (three findings read "0 1 1 2 2"
    on the severity chart): an axis whose `top` (the largest count drawn) is at most `SMALL_COUNT` ticks each
    whole number from zero, and has no `tickMinStep`: Vega-Lite turns it into a tick count of `top`, which
    thins the listed values, and in Chromium an axis to 2 read "0 2"."""
    if top is not None and not is_missing(top) and 0 <= float(top) <= SMALL_COUNT:
        return {"format": COUNT_TICKS, "values": list(range(math.ceil(float(top)) + 1))}
    return {"format": COUNT_TICKS, "tickMinStep": 1}


SPAN_ONLY: dict[str, Any] = {"values": []}
"""The rows of a layer that only carries a time axis' span (`one_domain`): none, so it draws nothing."""


def one_domain(layer: list[Chart]) -> list[Chart]:
    """Layers sharing one time axis, its span declared once, on a layer drawing `x` without `x2` (the first
    such, else a layer of no rows that only carries it). Vega-Lite reads a layer's span again for its `x2`,
    in another form (ISO texts, where `x`'s are datetimes), and every browser console got "Conflicting scale
    property domain" once a trend chart (a bar's layer and a shaded band's have an `x2`); a copy of the span
    on each layer warned so too. Nothing is drawn differently: the span was the union of two equal ones."""
    span: dict[str, Any] | None = None
    out: list[Chart] = []
    for part in layer:
        x = part.get("encoding", {}).get("x", {})
        if part.get("data") == SPAN_ONLY:       # one_domain's own, from an earlier call: placed anew below
            span = span or x
            continue
        if "domain" in x.get("scale", {}):
            span = span or x
            x = {**x, "scale": {k: v for k, v in x["scale"].items() if k != "domain"}}
            part = {**part, "encoding": {**part["encoding"], "x": x}}
        out.append(part)
    if span is None:
        return out
    domain = span["scale"]["domain"]
    for i, part in enumerate(out):
        encoding = part.get("encoding", {})
        if "field" in encoding.get("x", {}) and "x2" not in encoding:
            x = encoding["x"]
            out[i] = {**part, "encoding": {**encoding, "x": {**x, "scale": {**x.get("scale", {}), "domain": domain}}}}
            return out
    return [{"data": dict(SPAN_ONLY), "mark": {"type": "rule"}, "encoding": {"x": span}}, *out]


CLOCK_TICKS = {"hours": "%H:%M", "minutes": "%H:%M"}
"""A time axis' hour and minute ticks on the 24-hour clock, as every time the dashboard writes (`TIME_FORMAT`);
Vega's own ("%I:%M", "%I %p") read 23:25 UTC as "11:25" beside "12:05", with no AM or PM. Its other ticks
(days, months, seconds) stay Vega's (`format` as an object: Vega's multi-format, the keys not given its own)."""


def time_x(field: str, *, title: str | None = None, domain: Sequence[Any] | None = None) -> dict[str, Any]:
    """A time axis in UTC, its ticks on the 24-hour clock (`CLOCK_TICKS`); `domain`: its span (the window's),
    whatever rows are drawn."""
    scale: dict[str, Any] = {"type": "utc"}
    if domain is not None:      # ISO texts: a span in epoch milliseconds left every point at the axis' start
        scale["domain"] = [iso(v) for v in domain]
    return {"field": field, "type": "temporal", "title": title, "scale": scale, "axis": {"format": dict(CLOCK_TICKS)}}


# ---------------------------------------------------------------- shared rules (the report's figures use them too)

def short(value: Any, limit: int = LABEL_CHARS) -> str:
    """A name as a legend or an axis label shows it: at most `limit` characters, its start and its end kept
    around "…" (names of one estate share a prefix as often as a suffix: "orders (aws)", "orders (gcp)").
    Cut before `safe`, so no entity is cut in two; the hover keeps the whole name."""
    text = "" if value is None else str(value)
    if len(text) <= limit:
        return text
    head = (limit - 1) * 2 // 3
    return text[:head] + "…" + text[len(text) - (limit - 1 - head):]


def shorts(names: Iterable[Any], limit: int = LABEL_CHARS) -> dict[str, str]:
    """{name: its `short` form}, except that names whose short forms would read alike keep their whole
    names: "orders-…-A-…-eu" and "orders-…-B-…-eu" cut to one label would read as one series or bar."""
    whole = list(dict.fromkeys("" if n is None else str(n) for n in names))
    cut = {n: short(n, limit) for n in whole}
    taken = Counter(cut.values())
    return {n: label if taken[label] == 1 else n for n, label in cut.items()}


def color_for(key: str, index: int) -> str:
    return CLOUD_COLORS.get(str(key), PALETTE[index % len(PALETTE)])


def partial_buckets(buckets: Iterable[Any], since: dt.datetime | None, until: dt.datetime | None,
                    seconds: int | None) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """The starts of the window's first and last bucket when the window begins or ends inside them (each
    holds less than a full bucket's time, so must not read as a dip at the start or a drop at the
    end), else None for that end; None for both when there are no buckets to draw. Buckets are whole
    multiples of `seconds` since the epoch, so a window that starts at 10:35 has a first daily bucket
    holding 13 h 25 min of it. Read from the window, not from the buckets that hold rows: a chart of
    failures alone ended at its last failure, a day before the window, and its last bucket went unmarked."""
    if not seconds or not any(b is not None and not pd.isna(b) for b in buckets):
        return None, None
    head = _bucket_start(since, seconds) if since is not None else None
    tail = _bucket_start(until, seconds) if until is not None else None
    return (head if head is not None and head != utc_stamp(since) else None,
            tail if tail is not None and tail != utc_stamp(until) else None)


def data_start(since: dt.datetime | None, begins: dt.datetime | None) -> dt.datetime | None:
    """Where a chart's rows can begin: the window's start, or the store's first data when it comes later."""
    if begins is None or is_missing(begins) or since is None:
        return since
    return max(utc_stamp(since), utc_stamp(begins)).to_pydatetime()


def _bucket_start(moment: Any, seconds: int) -> pd.Timestamp:
    """The start of the bucket of `seconds` (a whole multiple of them since the epoch) holding `moment`."""
    return utc_stamp(moment).floor(pd.Timedelta(seconds=seconds))


def window_span(since: dt.datetime, until: dt.datetime, seconds: int, kind: str) -> list[pd.Timestamp]:
    """The time axis of a bucketed chart: the whole window, from its first bucket to its end, whatever rows
    the chart holds (a bar, drawn about its bucket's start, keeps half a bucket each side). A chart of
    failures drew only the buckets that had one, so its axis stopped at the last failure."""
    pad = pd.Timedelta(seconds=seconds) / 2 if kind == "bar" else pd.Timedelta(0)
    last = _bucket_start(utc_stamp(until) - pd.Timedelta(microseconds=1), seconds)
    return [_bucket_start(since, seconds) - pad, max(utc_stamp(until), last + pad)]


def merge_windows(storms: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Overlapping or touching storm windows merged into one shaded span (labels joined)."""
    spans = sorted((s for s in storms if s.get("window_start") is not None and s.get("window_end") is not None
                    and not pd.isna(s["window_start"]) and not pd.isna(s["window_end"])),
                   key=lambda s: pd.Timestamp(s["window_start"]))
    out: list[dict[str, Any]] = []
    for s in spans:
        start, end = pd.Timestamp(s["window_start"]), pd.Timestamp(s["window_end"])
        label = str(s.get("label", "storm"))
        if out and start <= out[-1]["window_end"]:
            out[-1]["window_end"] = max(out[-1]["window_end"], end)
            if label not in out[-1]["labels"]:
                out[-1]["labels"].append(label)
        else:
            out.append({"window_start": start, "window_end": end, "labels": [label]})
    return out


def span_labels(spans: Sequence[dict[str, Any]], x_min: pd.Timestamp, x_max: pd.Timestamp) -> list[str | None]:
    """Each shaded span's label, cut to the room before the next span starts (labels sit at a span's
    top left, so close windows wrote over each other); None where fewer than MIN_LABEL_CHARS fit."""
    total = (x_max - x_min).total_seconds()
    out: list[str | None] = []
    for i, span in enumerate(spans):
        label = ", ".join(span["labels"])[:40]
        if i + 1 < len(spans) and total > 0:
            gap_px = (spans[i + 1]["window_start"] - span["window_start"]).total_seconds() / total * PLOT_WIDTH_PX
            room = int((gap_px - 8) / LABEL_CHAR_PX)
            if room < len(label):
                label = label[:room - 1] + "…" if room >= MIN_LABEL_CHARS else ""
        out.append(label or None)
    return out


def in_duration_unit(frame: pd.DataFrame, y: str, y_title: str | None) -> tuple[pd.DataFrame, str, str]:
    """A frame whose `y` holds milliseconds, in the one unit picked from them (ms, s, min, h, d); the unit, and the
    axis' title ("duration (min)" unless one is given)."""
    unit, size = readable.duration_unit(frame[y])
    return frame.assign(**{y: frame[y] / size}), unit, y_title or f"duration ({unit})"


def _run_hover(status: Any, error: Any) -> str:
    """A collection run's hover: its status, and its error when it has one (a stored run without one
    has NaN, which read "succeeded: nan")."""
    if is_missing(error) or not str(error).strip():
        return str(status)
    return f"{status}: {error}"[:200]


PLOT_WIDTH_PX = 850      # a chart's plotting area on a 1366-pixel screen with the sidebar open
LABEL_CHAR_PX = 5.5      # one character of a 10-pixel annotation
MIN_LABEL_CHARS = 10     # a label cut shorter than this names nothing
RUN_STATUS_COLORS = {"succeeded": "#2e9d5b", "partial": "#ff9f1c", "failed": "#d62728", "running": "#1f77b4"}
MIN_TIME_SPAN = pd.Timedelta(hours=1)


# ---------------------------------------------------------------- time series

def _partial_bands(head: pd.Timestamp | None, tail: pd.Timestamp | None, start: Any, until: Any,
                   bucket_s: int | None) -> list[dict[str, Any]]:
    """The window's partial first and last buckets as shaded spans, each labelled inside its outer edge (the
    last one's label from its right edge: from its left it ran past the chart's end, "partia")."""
    bands = []
    if head is not None and start is not None and bucket_s:
        bands.append({"start": start, "end": head + pd.Timedelta(seconds=bucket_s), "at": start, "align": "left"})
    if tail is not None and until is not None:
        bands.append({"start": tail, "end": until, "at": until, "align": "right"})
    return bands


def _band_layers(bands: Sequence[dict[str, Any]], *, x: dict[str, Any], colour: str = BAND_GREY,
                 label: str = "partial", labels: Sequence[str | None] | None = None) -> list[Chart]:
    """Shaded spans of time (partial buckets, storm windows) and their labels, as layers under the data."""
    if not bands:
        return []
    rows = records({"start": b["start"], "end": b["end"], "at": b.get("at", b["start"]),
                    "label": safe(labels[i]) if labels is not None and labels[i] else
                    (label if labels is None else None), "align": b.get("align", "left")}
                   for i, b in enumerate(bands))
    out: list[Chart] = [{"data": {"values": rows}, "mark": {"type": "rect", "color": colour, "opacity": 0.18},
                         "encoding": {"x": {**x, "field": "start"}, "x2": {"field": "end"}}}]
    for align in ("left", "right"):
        part = [r for r in rows if r["label"] and r["align"] == align]
        if part:
            out.append({"data": {"values": part},
                        "mark": {"type": "text", "align": align, "baseline": "top", "dx": 3 if align == "left" else -3,
                                 "dy": 3, "fontSize": 10, "color": NOTE_GREY},
                        "encoding": {"x": {**x, "field": "at"}, "y": {"value": 0},
                                     "text": {"field": "label", "type": "nominal"}}})
    return out


def _value_text(value: Any, *, money: bool, percent: bool, integer: bool, unit: str | None) -> str:
    """A point's value as its tooltip reads it (the tables' formats)."""
    if is_missing(value):
        return "—"
    if money:
        return fmt_usd(value)
    if percent:
        return fmt_pct(value)
    if integer:
        return fmt_count(value)
    if unit:
        return f"{float(value):,.3g} {unit}"
    return f"{float(value):,.4g}"


def _pieces(part: pd.DataFrame, flags: np.ndarray) -> list[tuple[str, pd.DataFrame]]:
    """A line's rows cut where its partial first and last buckets begin: ("whole", the full buckets) and
    ("head" / "tail", each partial end with the full bucket next to it, so the dotted piece joins the line)."""
    if not flags.any() or flags.all():
        return [("whole" if not flags.any() else "tail", part)]
    whole = [i for i, p in enumerate(flags) if not p]
    lo, hi = whole[0], whole[-1]
    out = [("whole", part.iloc[lo:hi + 1])]
    if lo > 0:
        out.append(("head", part.iloc[:lo + 1]))
    if hi < len(part) - 1:
        out.append(("tail", part.iloc[hi:]))
    return out


def _y_axis(y_title: str | None, *, money: bool, percent: bool, integer: bool, unit: str | None,
            top: Any = None) -> dict[str, Any]:
    """A value axis in the measure's own terms: dollars, percent, whole counts (`top`: the largest drawn) or one
    duration unit."""
    axis: dict[str, Any] = {"title": y_title}
    if money:
        axis["format"] = "$" + MONEY_TICKS
    elif percent:
        axis["format"] = SHARE_TICKS
    elif integer:
        axis.update(integer_axis(top))
    elif unit:
        axis["labelExpr"] = f"format(datum.value, ',~g') + ' {unit}'"
    return axis


def _series_rows(frame: pd.DataFrame, names: pd.Series, legend: dict[str, str], order: list[str], *, x: str, y: str,
                 kind: str, partial: tuple[pd.Timestamp | None, pd.Timestamp | None], bucket_s: int | None,
                 value_text: Any) -> list[dict[str, Any]]:
    """Each series' points, flagged partial in the window's partial first and last buckets; a line's or an
    area's rows cut into pieces (`_pieces`) so its partial ends draw apart (dotted, paler)."""
    head, tail = partial
    rows: list[dict[str, Any]] = []
    for name in order:
        part = frame[names == name].sort_values(x)
        at = pd.to_datetime(part[x], utc=True)
        flags = np.zeros(len(part), dtype=bool)
        if head is not None:
            flags |= (at == head).to_numpy()
        if tail is not None:
            flags |= (at >= tail).to_numpy()
        for piece, rows_of in ([("bar", part)] if kind == "bar" else _pieces(part, flags)):
            for moment, value, is_partial in zip(rows_of[x], rows_of[y],
                                                 flags[part.index.get_indexer(rows_of.index)], strict=True):
                end = utc_stamp(moment) + pd.Timedelta(seconds=bucket_s) if bucket_s else None
                rows.append({"x": moment, "x2": end,
                             "y": value, "series": safe(legend[name]), "name": safe(name),
                             "piece": "bar" if piece == "bar" else "whole" if piece == "whole" else "partial",
                             "group": f"{name} {piece}", "end": piece, "partial": bool(is_partial),
                             "when": when(moment), "value": value_text(value)})
    return rows


def _stack(rows: list[dict[str, Any]]) -> None:
    """Each row's band of a stack (`y0` to `y1`), the series on one another in the rows' order at each moment.
    Stacked here, not by Vega: its stack of bars spanning a bucket (x to x2) drew them as thin strips, and a
    line's partial pieces stacked with the whole ones they share a moment with."""
    tops: dict[tuple[bool, Any], float] = {}
    for row in rows:
        at = (row["piece"] == "partial", row["x"])
        base = tops.get(at, 0.0)
        value = row["y"]
        row["y0"], row["y1"] = base, base + (0.0 if value is None or is_missing(value) else float(value))
        tops[at] = row["y1"]


def _data_layers(rows: list[dict[str, Any]], encoding: dict[str, Any], kind: str, bucketed: bool) -> list[Chart]:
    """The series drawn: stacked bars spanning their buckets (partial ones paler), or lines and stacked areas
    whose partial pieces are dotted and pale, stacked apart from the whole ones (in the series' own area a
    partial last bucket read as a drop at the window's end)."""
    if kind == "bar":
        bars = {**encoding, "opacity": {"condition": {"test": "datum.partial", "value": 0.4}, "value": 1}}
        if bucketed:
            bars["x2"] = {"field": "x2"}
        return [{"data": {"values": records(rows)}, "mark": {"type": "bar", "clip": True}, "encoding": bars}]
    out: list[Chart] = []
    for end in ("whole", "head", "tail"):      # a layer each: an area's edge line joined a head piece to a tail one
        dotted = end != "whole"
        piece_rows = [r for r in rows if r["end"] == end]
        if not piece_rows:
            continue
        style: dict[str, Any] = {"type": "area" if kind == "area" else "line", "clip": True, "strokeWidth": 2}
        if kind == "area":
            style.update(opacity=0.35 if dotted else 0.85, line={"strokeDash": [2, 3]} if dotted else True)
        elif dotted:
            style.update(strokeDash=[2, 3], opacity=0.6, point=True)
        out.append({"data": {"values": records(piece_rows)}, "mark": style,
                    "encoding": {**encoding, "detail": {"field": "group", "type": "nominal"}}})
    return out


def lines(frame: pd.DataFrame, *, x: str, y: str, color: str | None = None, title: str | None = None,
          y_title: str | None = None, kind: str = "line", money: bool = False,
          percent: bool = False, integer: bool = False, until: dt.datetime | None = None,
          bucket_s: int | None = None, duration: bool = False, since: dt.datetime | None = None,
          empty: str = "No data in this window", begins: dt.datetime | None = None) -> Chart:
    """One series per value of `color` (clouds get their brand colour); kind: line | area (stacked) | bar
    (stacked, each bar spanning its bucket). `empty` is what a frame without rows says: a chart of failed runs
    only says "no failed run", not that the window holds no data.
    With `bucket_s`, a first bucket the window (`since`) begins inside and a last one it ends inside
    (`until`) are shaded and labelled "partial", their bars paler and their lines dotted; so is the bucket the
    store's data `begins` inside, when it begins after the window does (a 90-day window over 30 days of data
    started with a low bucket, read as a dip). `duration`: `y` holds milliseconds, drawn in one unit picked
    from the data (ms, s, min, h, d)."""
    if frame is None or frame.empty:
        return empty_chart(empty, title=title)
    frame, unit, y_title = in_duration_unit(frame, y, y_title) if duration else (frame, None, y_title)
    start = data_start(since, begins)
    partial = partial_buckets(frame[x], start, until, bucket_s)
    names = frame[color].astype(str) if color else pd.Series(y, index=frame.index)
    legend = shorts(names, LEGEND_CHARS)
    order = sorted(legend)
    rows = _series_rows(frame, names, legend, order, x=x, y=y, kind=kind, partial=partial, bucket_s=bucket_s,
                        value_text=lambda v: _value_text(v, money=money, percent=percent, integer=integer,
                                                         unit=unit))
    stacked = kind in ("bar", "area")
    if stacked:
        _stack(rows)
    domain = window_span(since, until, bucket_s, "line") if since is not None and until is not None and bucket_s \
        else None
    encoding: dict[str, Any] = {
        "x": time_x("x", domain=domain),
        "y": {"field": "y1" if stacked else "y", "type": "quantitative", "stack": None,
              "axis": _y_axis(y_title, money=money, percent=percent, integer=integer, unit=unit,
                              top=(frame.groupby(x)[y].sum().max() if stacked else frame[y].max()) if integer
                              else None)},
        "color": {"field": "series", "type": "nominal", **({} if color else {"legend": None}),
                  "scale": {"domain": [safe(legend[n]) for n in order],
                            "range": [color_for(n, i) for i, n in enumerate(order)]}},
        "tooltip": [{"field": "name", "title": color or "series"},
                    {"field": "when", "title": "bucket" if bucket_s else x}, {"field": "value", "title": y_title or y}]}
    if stacked:
        encoding["y2"] = {"field": "y0"}
    bands = _partial_bands(*partial, start, until, bucket_s)
    return spec(title, layer=one_domain([*_band_layers(bands, x=encoding["x"]),
                                         *_data_layers(rows, encoding, kind, bool(bucket_s))]))


KPI_TRENDS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("executions", "executions", "Executions", {"kind": "bar", "integer": True}),
    ("failure_rate", "failure_rate", "Failure rate", {"percent": True}),
    ("retries", "retries", "Retries", {"kind": "bar", "integer": True}),
    ("cost", "cost_usd", "Cost", {"kind": "area", "money": True}),
)
"""The Overview's trend charts, (key, column of `tables.overview_and_trend`'s trend, title, how it is drawn): the
dashboard's and the report's (`report/vega.py`) alike. Its failure_rate is the headline's (failed / finished),
computed by the query."""


def kpi_trends(trend: pd.DataFrame, *, until: dt.datetime | None = None, bucket_s: int | None = None,
               since: dt.datetime | None = None, begins: dt.datetime | None = None) -> dict[str, Chart]:
    """The Overview's trend charts (`KPI_TRENDS`) by cloud."""
    if trend is None or trend.empty:
        return {key: empty_chart(title=title) for key, _y, title, _how in KPI_TRENDS}
    return {key: lines(trend, x="bucket", y=y, color=C.cloud, title=title, until=until, bucket_s=bucket_s,
                       since=since, begins=begins, **how) for key, y, title, how in KPI_TRENDS}


def storm_timeline(retries: pd.DataFrame, storms: Sequence[dict[str, Any]] = (), *,
                   title: str = "Retries over time (storm windows shaded)", until: dt.datetime | None = None,
                   bucket_s: int | None = None, since: dt.datetime | None = None,
                   begins: dt.datetime | None = None) -> Chart:
    """Retries over time by cloud, with each storm window shaded (labelled when there are few). Buckets of
    tries without a retry draw no bar: a window of them says it has no retries, never an empty grid."""
    if retries is None or retries.empty or not pd.to_numeric(retries["retries"], errors="coerce").fillna(0).any():
        return empty_chart("No retries in this window", title=title)
    chart = lines(retries, x="bucket", y="retries", color=C.cloud, title=title, kind="bar", integer=True,
                  until=until, bucket_s=bucket_s, since=since, begins=begins)
    spans = merge_windows(storms)
    ends = [pd.Timestamp(v) for v in (retries["bucket"].min(), retries["bucket"].max(), until) if not is_missing(v)]
    labels = span_labels(spans, min(ends), max([*ends, *(s["window_end"] for s in spans)])) \
        if len(spans) <= 4 else [None] * len(spans)
    shaded = [{"start": s["window_start"], "end": s["window_end"]} for s in spans]
    x = chart["layer"][-1]["encoding"]["x"]
    chart["layer"] = one_domain([*_band_layers(shaded, x=x, colour=STATUS_COLORS[Status.FAILED.value],
                                               labels=labels), *chart["layer"]])
    return chart


# ---------------------------------------------------------------- bars

def _bar_height(n: int, per: int, extra: int) -> int:
    return max(HEIGHT, per * n + extra)


def hbar(frame: pd.DataFrame, *, x: str, y: str, title: str | None = None, color: str | None = None,
         money: bool = False, text: str | None = None, text_format: str | None = None, limit: int = 15) -> Chart:
    """Horizontal bars, largest on top (top drivers, amplification, failing steps); `text` labels each bar with
    another column, in `text_format` (`str.format`: "{:.2f}×" for a ratio, which read as a bare number). Names
    are cut on the axis (`shorts`) and whole in the tooltip."""
    if frame is None or frame.empty:
        return empty_chart(title=title)
    part = frame.nlargest(limit, x)
    labels = shorts(part[y])
    values = pd.to_numeric(part[x], errors="coerce")
    integer = not money and pd.api.types.is_integer_dtype(part[x])
    rows = []
    for i, (name, value, key) in enumerate(zip(part[y], part[x], part[color] if color else [None] * len(part),
                                               strict=True)):
        label = None
        if text:
            v = part[text].iloc[i]
            label = text_format.format(v) if text_format else fmt_usd(v) if text.endswith("_usd") \
                else f"{v:,.2f}" if isinstance(v, float) else f"{v:,}"
        rows.append({"label": safe(labels["" if name is None else str(name)]), "name": safe(name), "x": value,
                     "colour": color_for(key, i) if color else PALETTE[0], "text": label,
                     "value": _value_text(value, money=money, percent=False, integer=integer, unit=None)})
    order = [r["label"] for r in rows]
    x_axis: dict[str, Any] = {"title": None}
    if money:
        x_axis["format"] = "$" + MONEY_TICKS
    elif integer:
        x_axis.update(integer_axis(values.max()))
    # Bars of amounts never below zero: an axis of zeros (a plan's built-in steps, $0) read "$-1 ... $1".
    scale = {"domainMin": 0} if (values.fillna(0) >= 0).all() else {}
    encoding = {"y": {"field": "label", "type": "nominal", "sort": order, "title": None},
                "x": {"field": "x", "type": "quantitative", "axis": x_axis, "scale": scale},
                "tooltip": [{"field": "name", "title": y}, {"field": "value", "title": x}]}
    layer: list[Chart] = [{"mark": {"type": "bar"}, "encoding": {**encoding, "color": {"field": "colour",
                                                                                       "type": "nominal",
                                                                                       "scale": None}}}]
    if text:
        layer.append({"mark": {"type": "text", "align": "left", "dx": 3, "fontSize": 11},
                      "encoding": {**encoding, "text": {"field": "text", "type": "nominal"}}})
    return spec(title, _bar_height(len(part), 28, 60), data={"values": records(rows)}, layer=layer)


def histogram(values: pd.Series, *, title: str, x_title: str, bins: int = 40, duration: bool = False) -> Chart:
    """A histogram of `values`; with duration=True they are milliseconds, drawn in one unit picked from
    the data (ms, s, min, h, d) named on the axis ("delay (s)"). Its bins are numpy's, counted here, so the
    count axis ticks whole retries (a few samples read "0 1 1 2 2 3 3" with ticks every half retry)."""
    if values is None or len(values) == 0:
        return empty_chart(title=title)
    unit = None
    if duration:
        unit, size = readable.duration_unit(values)
        values, x_title = values / size, f"{x_title} ({unit})"
    present = pd.to_numeric(pd.Series(values), errors="coerce").dropna()
    counts, edges = np.histogram(present, bins=bins) if len(present) else (np.zeros(1, dtype=int), np.array([0.0, 1.0]))
    suffix = f" {unit}" if unit else ""
    rows = [{"start": float(lo), "end": float(hi), "count": int(n),
             "range": f"{lo:,.4g}{suffix} to {hi:,.4g}{suffix}", "n": fmt_count(int(n))}
            for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True) if n]
    return spec(title, data={"values": records(rows)},
                mark={"type": "bar", "color": PALETTE[0], "binSpacing": 1},
                encoding={"x": {"field": "start", "type": "quantitative", "title": x_title,
                                "scale": {"domain": [float(edges[0]), float(edges[-1])]}},
                          "x2": {"field": "end"},
                          "y": {"field": "count", "type": "quantitative", "title": "retries",
                                "axis": integer_axis(counts.max())},
                          "y2": {"datum": 0},
                          "tooltip": [{"field": "range", "title": x_title}, {"field": "n", "title": "retries"}]})


def _log_ticks(low: float, high: float, size: float) -> tuple[list[float], str]:
    """A log duration axis' tick values (in the axis' unit) and the expression labelling them in words."""
    ladder = [(ms, text) for ms, text in LOG_DURATION_TICKS if low / 3 <= ms <= high * 3]
    values = [ms / size for ms, _ in ladder]
    expr = " : ".join(f"datum.value == {v!r} ? '{text}'" for v, (_ms, text) in zip(values, ladder, strict=True))
    return values, (expr + " : ''") if expr else "''"


def percentile_bars(frame: pd.DataFrame, *, label: str, title: str = "Duration percentiles",
                    limit: int = 15) -> Chart:
    """p50 / p95 / p99 per step (or workflow), grouped bars, log scale when spread is wide; the axis in
    one unit picked from the data (ms, s, min, h, d), the tooltip in words ("5 min 12 s")."""
    if frame is None or frame.empty:
        return empty_chart(title=title)
    part = frame.nlargest(limit, "p95_ms")
    columns = [c for c in ("p50_ms", "p95_ms", "p99_ms") if c in part]
    unit, size = readable.duration_unit(part[columns].stack())
    labels = shorts(part[label])
    rows = [{"label": safe(labels[str(name)]), "name": safe(name), "p": col.removesuffix("_ms"), "x": ms / size,
             "took": fmt_duration(ms)}
            for name, (_, r) in zip(part[label], part.iterrows(), strict=True) for col in columns
            for ms in [r[col]] if not is_missing(ms)]
    order = list(dict.fromkeys(r["label"] for r in rows))
    spread = part["p99_ms" if "p99_ms" in part else "p95_ms"].max() / max(part["p50_ms"].min(), 1)
    x: dict[str, Any] = {"field": "x", "type": "quantitative", "stack": None}
    if spread > 100:    # a log axis ticks at durations in words: d3's own read "1000 s", "10k s" (2.8 h)
        values = part[columns].stack()
        ticks, expr = _log_ticks(float(values[values > 0].min()), float(values.max()), size)
        x.update(title="duration", scale={"type": "log"}, axis={"values": ticks, "labelExpr": expr})
    else:
        x.update(title=f"duration ({unit})", axis={"labelExpr": f"format(datum.value, ',~g') + ' {unit}'"})
    names = [c.removesuffix("_ms") for c in columns]
    return spec(title, _bar_height(len(part), 30, 80), data={"values": records(rows)}, mark={"type": "bar"},
                encoding={"y": {"field": "label", "type": "nominal", "sort": order, "title": None},
                          "yOffset": {"field": "p", "type": "nominal", "sort": names},
                          "x": x,
                          "color": {"field": "p", "type": "nominal", "sort": names,
                                    "scale": {"domain": names, "range": PALETTE[:len(names)]}},
                          "tooltip": [{"field": "name", "title": label}, {"field": "p", "title": "percentile"},
                                      {"field": "took", "title": "duration"}]})


def severity_counts(findings: pd.DataFrame) -> Chart:
    """How many findings of each severity, most severe first."""
    if findings is None or findings.empty:
        return empty_chart("No findings", title="Findings by severity")
    counts = findings.groupby("severity").size()
    order = [s for s in SEVERITY_COLORS if s in counts.index]
    rows = [{"severity": s, "count": int(counts[s]), "n": fmt_count(int(counts[s]))} for s in order]
    return spec("Findings by severity", 220, data={"values": rows}, mark={"type": "bar"},
                encoding={"x": {"field": "severity", "type": "nominal", "sort": order, "title": None,
                                "axis": {"labelAngle": 0}},
                          "y": {"field": "count", "type": "quantitative", "title": None,
                                "axis": integer_axis(counts.max())},
                          "color": {"field": "severity", "type": "nominal", "legend": None,
                                    "scale": {"domain": order, "range": [SEVERITY_COLORS[s] for s in order]}},
                          "tooltip": [{"field": "severity"}, {"field": "n", "title": "findings"}]})


# ---------------------------------------------------------------- collection runs

def collection_timeline(runs: pd.DataFrame, title: str = "Collection runs by scope") -> Chart:
    """One row per scope, a point per run coloured by its status (failed runs a larger cross)."""
    if runs is None or runs.empty:
        return empty_chart("No collection runs recorded", title=title)
    rows = [{"at": at, "scope": safe(scope), "status": safe(status), "when": when(at),
             "what": safe(_run_hover(status, error))}
            for at, scope, status, error in zip(runs[C.started_at], runs[C.scope], runs[C.status], runs[C.error],
                                                strict=True)]
    statuses = sorted({r["status"] for r in rows})
    times = pd.to_datetime(runs[C.started_at], utc=True).dropna()
    domain = None
    if len(times) and times.max() - times.min() < MIN_TIME_SPAN:
        # Runs within moments of each other (every scope synced at once): an axis of their own span
        # would tick in fractions of a millisecond; one hour around them reads as a time of day.
        middle = times.min() + (times.max() - times.min()) / 2
        domain = [middle - MIN_TIME_SPAN / 2, middle + MIN_TIME_SPAN / 2]
    return spec(title, max(220, 40 * runs[C.scope].nunique() + 100), data={"values": records(rows)},
                mark={"type": "point", "filled": True, "opacity": 1},
                encoding={"x": time_x("at", domain=domain),
                          "y": {"field": "scope", "type": "nominal", "title": None},
                          "color": {"field": "status", "type": "nominal",
                                    "scale": {"domain": statuses,
                                              "range": [RUN_STATUS_COLORS.get(s, "#999999") for s in statuses]}},
                          "shape": {"field": "status", "type": "nominal",
                                    "scale": {"domain": statuses,
                                              "range": ["cross" if s == "failed" else "circle" for s in statuses]}},
                          "size": {"condition": {"test": "datum.status == 'failed'", "value": 150}, "value": 80},
                          "tooltip": [{"field": "what", "title": "run"}, {"field": "when", "title": "started"}]})
