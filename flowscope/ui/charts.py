"""Chart builders: pure functions from small DataFrames to plotly figures.

No Streamlit here (unit-tested without it). Every builder accepts an empty frame and returns a
figure that says so, rather than raising. Every text a builder draws that may come from a cloud
(workflow, step and error names, titles made of them) goes through `safe` (`textsafety.plotly_text`):
plotly.js reads HTML in text, so a step named `<a href=...>` would draw a live link.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from flowscope.analysis import measures
from flowscope.format import fmt_duration, fmt_usd, is_missing
from flowscope.model import C, Status, StepType
from flowscope.textsafety import plotly_text as safe
from flowscope.ui import readable

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
REPORT_TEMPLATE = "plotly_white"
"""The plotly template figures get outside the dashboard (reports), where no Streamlit theme applies."""


def _base(title: str | None = None, height: int = HEIGHT) -> go.Figure:
    """An empty figure with the common layout. No plotly template: the dashboard draws with Streamlit's
    theme, and reports set theirs when they export (`REPORT_TEMPLATE`); a template set here was copied
    into every figure, ~45 ms each, on every page run."""
    return go.Figure(layout=dict(title=safe(title) if title else None, height=height,
                                 margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                                 legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1),
                                 hovermode="x unified"))


LABEL_CHARS = 60
"""The most characters of a name an axis label shows (`short`): a 150-character workflow
name took the whole width of a bar chart's axis, its bars a sliver, and a legend of three such names
wrapped over the chart's title."""

LEGEND_CHARS = 40
"""The most characters of a legend entry: entries sit in a row beside the chart's title, which longer ones
wrapped over."""


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


def _short_categories(fig: go.Figure, names: Iterable[Any]) -> None:
    """The y axis's category labels cut to `LABEL_CHARS` (`shorts`); the categories themselves, which tell
    bars apart and which the hover shows, keep the whole names (`safe`)."""
    labels = shorts(names)
    if any(label != n for n, label in labels.items()):
        fig.update_yaxes(tickmode="array", tickvals=[safe(n) for n in labels],
                         ticktext=[safe(label) for label in labels.values()])


def empty_figure(message: str = "No data in this window", title: str | None = None) -> go.Figure:
    fig = _base(title, height=200)
    fig.add_annotation(text=safe(message), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font=dict(size=14, color="#777"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


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
    return (head if head is not None and head != _utc(since) else None,
            tail if tail is not None and tail != _utc(until) else None)


def data_start(since: dt.datetime | None, begins: dt.datetime | None) -> dt.datetime | None:
    """Where a chart's rows can begin: the window's start, or the store's first data when it comes later."""
    if begins is None or is_missing(begins) or since is None:
        return since
    return max(_utc(since), _utc(begins)).to_pydatetime()


def _utc(moment: Any) -> pd.Timestamp:
    at = pd.Timestamp(moment)
    return at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")


def _bucket_start(moment: Any, seconds: int) -> pd.Timestamp:
    """The start of the bucket of `seconds` (a whole multiple of them since the epoch) holding `moment`."""
    return _utc(moment).floor(pd.Timedelta(seconds=seconds))


def window_span(since: dt.datetime, until: dt.datetime, seconds: int, kind: str) -> list[pd.Timestamp]:
    """The time axis of a bucketed chart: the whole window, from its first bucket to its end, whatever rows
    the chart holds (a bar, drawn about its bucket's start, keeps half a bucket each side). A chart of
    failures drew only the buckets that had one, so its axis stopped at the last failure."""
    pad = pd.Timedelta(seconds=seconds) / 2 if kind == "bar" else pd.Timedelta(0)
    last = _bucket_start(_utc(until) - pd.Timedelta(microseconds=1), seconds)
    return [_bucket_start(since, seconds) - pad, max(_utc(until), last + pad)]


MONEY_TICKS = ",.6~f"
"""Money axis ticks (d3-format) in decimals, to the millionth, no trailing zeros: "$0.00005", "$1,250"; plotly's
default read "$50µ" for a retry costing $0.00005 a month."""


SHARE_TICKS = ".2~%"
"""Percent axis ticks (d3-format) to two decimals, no trailing zeros: "0.1%", "0.25%", "12%"; whole percents
read "0% 0% 0% 0% 0% 1% 1%" up a healthy cloud's failure-rate trend."""


def integer_axis(fig: go.Figure, top: Any, axis: str = "y") -> None:
    """Counts on whole-number ticks (no 0.5 executions)."""
    small = top is not None and not pd.isna(top) and float(top) <= 10
    settings: dict[str, Any] = {"tickformat": ",d", "rangemode": "tozero"}
    if small:
        settings["dtick"] = 1
    (fig.update_yaxes if axis == "y" else fig.update_xaxes)(**settings)


def _partial_marks(start: pd.Timestamp, end: pd.Timestamp | dt.datetime,
                   label_at: str = "left") -> tuple[dict[str, Any], dict[str, Any]]:
    """A partial bucket's time inside the window shaded and labelled: the shape and annotation `add_vrect`
    makes (its placement logic took 4.5-7.6 ms a chart), which `lines` gives the layout at once (one by one,
    `add_shape` and `add_annotation` copied and validated what came before: 2.6 ms a mark). The label sits
    inside the band's `label_at` edge: the last bucket's is "right", where a label from its left edge ran
    past the chart's end ("partia")."""
    return (dict(type="rect", xref="x", yref="y domain", x0=start, x1=pd.Timestamp(end), y0=0, y1=1,
                 fillcolor="#bbbbbb", opacity=0.18, line_width=0),
            dict(x=start if label_at == "left" else pd.Timestamp(end), y=1, xref="x", yref="y domain",
                 text="partial", showarrow=False, xanchor=label_at, yanchor="top", font=dict(size=10, color="#777")))


def _trace(fig: go.Figure, part: pd.DataFrame, *, x: str, y: str, name: str, col: str, kind: str,
           partial: tuple[pd.Timestamp | None, pd.Timestamp | None]) -> None:
    """One series; its partial first and last buckets lighter (bars) or dotted (lines)."""
    head, tail = partial
    is_partial: pd.Series | None = None
    if head is not None or tail is not None:
        at = pd.to_datetime(part[x], utc=True)
        is_partial = pd.Series(False, index=part.index)
        if head is not None:
            is_partial |= at == head
        if tail is not None:
            is_partial |= at >= tail
    if kind == "bar":
        opacity = [0.4 if p else 1.0 for p in is_partial] if is_partial is not None else 1.0
        fig.add_trace(go.Bar(x=part[x], y=part[y], name=name, marker_color=col, marker_opacity=opacity))
        return
    stack = "one" if kind == "area" else None
    if is_partial is None or not is_partial.any() or is_partial.all():
        fig.add_trace(go.Scatter(x=part[x], y=part[y], name=name, mode="lines", line=dict(color=col, width=2),
                                 stackgroup=stack))
        return
    flags = is_partial.to_numpy()
    whole = [i for i, p in enumerate(flags) if not p]
    lo, hi = whole[0], whole[-1]
    fig.add_trace(go.Scatter(x=part[x].iloc[lo:hi + 1], y=part[y].iloc[lo:hi + 1], name=name, mode="lines",
                             line=dict(color=col, width=2), legendgroup=name, stackgroup=stack))
    # A stacked area's partial pieces stack in groups of their own (every series' first piece on the others'),
    # dotted and pale as a line's: drawn in the series' area they read as a drop at the window's end.
    for end, piece in (("head", part.iloc[:lo + 1] if lo > 0 else None),
                       ("tail", part.iloc[hi:] if hi < len(part) - 1 else None)):
        if piece is not None:
            fig.add_trace(go.Scatter(x=piece[x], y=piece[y], name=f"{name} (partial)", mode="lines+markers",
                                     line=dict(color=col, width=2, dash="dot"), opacity=0.6, legendgroup=name,
                                     showlegend=False, stackgroup=f"partial-{end}" if stack else None))


def lines(frame: pd.DataFrame, *, x: str, y: str, color: str | None = None, title: str | None = None,
          y_title: str | None = None, kind: str = "line", money: bool = False,
          percent: bool = False, integer: bool = False, until: dt.datetime | None = None,
          bucket_s: int | None = None, duration: bool = False, since: dt.datetime | None = None,
          empty: str = "No data in this window", begins: dt.datetime | None = None) -> go.Figure:
    """One trace per value of `color` (clouds get their brand colour); kind: line | area | bar.
    `empty` is what a frame without rows says: a chart of failed runs only says "no failed run", not
    that the window holds no data.
    With `bucket_s`, a first bucket the window (`since`) begins inside and a last one it ends inside
    (`until`) are marked partial; so is the bucket the store's data `begins` inside, when it begins after
    the window does (a 90-day window over 30 days of data started with a low bucket, read as a dip). `duration`:
    `y` holds milliseconds, drawn in one unit picked from the data (ms, s, min, h, d)."""
    if frame is None or frame.empty:
        return empty_figure(empty, title=title)
    suffix = None
    if duration:
        unit, size = readable.duration_unit(frame[y])
        frame = frame.assign(**{y: frame[y] / size})
        suffix, y_title = f" {unit}", y_title or f"duration ({unit})"
    fig = _base(title)
    start = data_start(since, begins)
    partial = partial_buckets(frame[x], start, until, bucket_s)
    groups: Iterable[tuple[Any, pd.DataFrame]] = frame.groupby(color, sort=True) if color else [(y, frame)]
    legend = shorts(frame[color].astype(str), LEGEND_CHARS) if color else {}
    for index, (key, part) in enumerate(groups):
        name = str(key[0] if isinstance(key, tuple) else key)
        _trace(fig, part.sort_values(x), x=x, y=y, name=safe(legend.get(name, name)), col=color_for(name, index),
               kind=kind, partial=partial)
    if kind == "bar":
        fig.update_layout(barmode="stack")
    fig.update_yaxes(title=y_title, rangemode="tozero", tickprefix="$" if money else None,
                     tickformat=MONEY_TICKS if money else SHARE_TICKS if percent else None, ticksuffix=suffix)
    if integer:
        stacked = frame.groupby(x)[y].sum() if kind in ("bar", "area") else frame[y]
        integer_axis(fig, stacked.max())
    head, tail = partial
    marks = []
    if head is not None and start is not None and bucket_s:
        marks.append(_partial_marks(pd.Timestamp(start), head + pd.Timedelta(seconds=bucket_s)))
    if tail is not None and until is not None:
        marks.append(_partial_marks(tail, until, label_at="right"))
    if marks:
        fig.update_layout(shapes=[*fig.layout.shapes, *(shape for shape, _ in marks)],
                          annotations=[*fig.layout.annotations, *(label for _, label in marks)])
    if since is not None and until is not None and bucket_s:
        fig.update_xaxes(range=window_span(since, until, bucket_s, kind))
    return fig


def kpi_trends(trend: pd.DataFrame, *, until: dt.datetime | None = None, bucket_s: int | None = None,
               since: dt.datetime | None = None, begins: dt.datetime | None = None) -> dict[str, go.Figure]:
    """The Overview's trend charts from `tables.overview_and_trend`: executions, failure rate, retries, cost."""
    if trend is None or trend.empty:
        return {k: empty_figure(title=t) for k, t in (("executions", "Executions"), ("failure_rate", "Failure rate"),
                                                      ("retries", "Retries"), ("cost", "Cost"))}
    frame = trend      # its failure_rate is the headline's (failed / finished), computed by the query
    return {
        "executions": lines(frame, x="bucket", y="executions", color=C.cloud, title="Executions", kind="bar",
                            integer=True, until=until, bucket_s=bucket_s, since=since, begins=begins),
        "failure_rate": lines(frame, x="bucket", y="failure_rate", color=C.cloud, title="Failure rate",
                              percent=True, until=until, bucket_s=bucket_s, since=since, begins=begins),
        "retries": lines(frame, x="bucket", y="retries", color=C.cloud, title="Retries", kind="bar", integer=True,
                         until=until, bucket_s=bucket_s, since=since, begins=begins),
        "cost": lines(frame, x="bucket", y="cost_usd", color=C.cloud, title="Cost", kind="area", money=True,
                      until=until, bucket_s=bucket_s, since=since, begins=begins),
    }


def hbar(frame: pd.DataFrame, *, x: str, y: str, title: str | None = None, color: str | None = None,
         money: bool = False, text: str | None = None, text_format: str | None = None, limit: int = 15) -> go.Figure:
    """Horizontal bars, largest on top (top drivers, amplification, failing steps); `text` labels each bar with
    another column, in `text_format` (`str.format`: "{:.2f}×" for a ratio, which read as a bare number)."""
    if frame is None or frame.empty:
        return empty_figure(title=title)
    part = frame.nlargest(limit, x).iloc[::-1]
    colors = [color_for(v, i) for i, v in enumerate(part[color])] if color else PALETTE[0]
    fig = _base(title, height=max(HEIGHT, 28 * len(part) + 60))
    labels = None
    if text:
        labels = [text_format.format(v) if text_format else fmt_usd(v) if text.endswith("_usd")
                  else f"{v:,.2f}" if isinstance(v, float) else f"{v:,}" for v in part[text]]
    fig.add_trace(go.Bar(x=part[x], y=part[y].map(safe), orientation="h", marker_color=colors,
                         text=labels, textposition="auto"))
    _short_categories(fig, part[y])
    fig.update_layout(hovermode="closest", showlegend=False)
    # Bars of amounts never below zero: an axis of zeros (a plan's built-in steps, $0) read "$-1 ... $1".
    fig.update_xaxes(tickprefix="$" if money else None, tickformat=MONEY_TICKS if money else None,
                     rangemode="nonnegative" if (pd.to_numeric(part[x], errors="coerce") >= 0).all() else "normal")
    if not money and pd.api.types.is_integer_dtype(part[x]):
        integer_axis(fig, part[x].max(), axis="x")
    return fig


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


PLOT_WIDTH_PX = 850      # a chart's plotting area on a 1366-pixel screen with the sidebar open
LABEL_CHAR_PX = 5.5      # one character of a 10-pixel annotation
MIN_LABEL_CHARS = 10     # a label cut shorter than this names nothing


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


def storm_timeline(retries: pd.DataFrame, storms: Sequence[dict[str, Any]] = (), *,
                   title: str = "Retries over time (storm windows shaded)", until: dt.datetime | None = None,
                   bucket_s: int | None = None, since: dt.datetime | None = None,
                   begins: dt.datetime | None = None) -> go.Figure:
    """Retries over time by cloud, with each storm window shaded (labelled when there are few). Buckets of
    tries without a retry draw no bar: a window of them says it has no retries, never an empty grid."""
    if retries is None or retries.empty or not pd.to_numeric(retries["retries"], errors="coerce").fillna(0).any():
        return empty_figure("No retries in this window", title=title)
    fig = lines(retries, x="bucket", y="retries", color=C.cloud, title=title, kind="bar", integer=True,
                until=until, bucket_s=bucket_s, since=since, begins=begins)
    spans = merge_windows(storms)
    ends = [pd.Timestamp(v) for v in (retries["bucket"].min(), retries["bucket"].max(), until) if not is_missing(v)]
    labels = span_labels(spans, min(ends), max([*ends, *(s["window_end"] for s in spans)])) \
        if len(spans) <= 4 else [None] * len(spans)
    for span, label in zip(spans, labels, strict=True):
        # Only pass annotation_* when labelling: plotly adds a "new text" annotation for any of them.
        note = ({"annotation_text": safe(label), "annotation_position": "top left", "annotation_font_size": 10}
                if label else {})
        fig.add_vrect(x0=span["window_start"], x1=span["window_end"], fillcolor="#d62728", opacity=0.18,
                      line_width=0, **note)
    fig.update_layout(bargap=0)
    return fig


def histogram(values: pd.Series, *, title: str, x_title: str, bins: int = 40, duration: bool = False) -> go.Figure:
    """A histogram of `values`; with duration=True they are milliseconds, drawn in one unit picked from
    the data (ms, s, min, h, d) named on the axis ("delay (s)"). Its `bins` are set here, not by plotly, so
    the tallest bar is known and the count axis ticks whole retries (`integer_axis`): a few samples read
    "0 1 1 2 2 3 3", ticks every half retry printed as whole numbers."""
    if values is None or len(values) == 0:
        return empty_figure(title=title)
    if duration:
        unit, size = readable.duration_unit(values)
        values, x_title = values / size, f"{x_title} ({unit})"
    present = pd.to_numeric(pd.Series(values), errors="coerce").dropna()
    counts, edges = np.histogram(present, bins=bins) if len(present) else (np.zeros(1), np.array([0.0, 1.0]))
    width = float(edges[1] - edges[0])
    fig = _base(title)
    # A bin is [start, start + size): the last one ends a bin past numpy's, which holds its right edge.
    fig.add_trace(go.Histogram(x=values, xbins=dict(start=float(edges[0]), end=float(edges[-1]) + width, size=width),
                               marker_color=PALETTE[0]))
    fig.update_layout(hovermode="closest", showlegend=False, bargap=0.05)
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title="retries")
    integer_axis(fig, int(counts.max()))     # plotly's bins hold no more: numpy's last one holds its right edge too
    return fig


def percentile_bars(frame: pd.DataFrame, *, label: str, title: str = "Duration percentiles",
                    limit: int = 15) -> go.Figure:
    """p50 / p95 / p99 per step (or workflow), grouped bars, log scale when spread is wide; the axis in
    one unit picked from the data (ms, s, min, h, d), the hover in words ("5 min 12 s")."""
    if frame is None or frame.empty:
        return empty_figure(title=title)
    part = frame.nlargest(limit, "p95_ms").iloc[::-1]
    columns = [c for c in ("p50_ms", "p95_ms", "p99_ms") if c in part]
    unit, size = readable.duration_unit(part[columns].stack())
    fig = _base(title, height=max(HEIGHT, 30 * len(part) + 80))
    for i, col in enumerate(columns):
        fig.add_trace(go.Bar(y=part[label].map(safe), x=part[col] / size, name=col.removesuffix("_ms"),
                             orientation="h", marker_color=PALETTE[i],
                             hovertext=[fmt_duration(v) for v in part[col]], hoverinfo="text+name+y"))
    _short_categories(fig, part[label])
    fig.update_layout(barmode="group", hovermode="closest")
    spread = part["p99_ms" if "p99_ms" in part else "p95_ms"].max() / max(part["p50_ms"].min(), 1)
    if spread > 100:    # a log axis ticks at durations in words: plotly's own read "1000 s", "10k s" (2.8 h)
        values = part[columns].stack()
        low, high = float(values[values > 0].min()), float(values.max())
        ladder = [(ms, text) for ms, text in LOG_DURATION_TICKS if low / 3 <= ms <= high * 3]
        fig.update_xaxes(title="duration", type="log", tickmode="array",
                         tickvals=[ms / size for ms, _ in ladder], ticktext=[text for _, text in ladder])
    else:
        fig.update_xaxes(title=f"duration ({unit})", ticksuffix=f" {unit}", type="linear")
    return fig


LOG_DURATION_TICKS = ((1, "1 ms"), (10, "10 ms"), (100, "100 ms"), (1_000, "1 s"), (10_000, "10 s"),
                      (60_000, "1 min"), (600_000, "10 min"), (3_600_000, "1 h"), (21_600_000, "6 h"),
                      (86_400_000, "1 d"), (604_800_000, "7 d"), (2_592_000_000, "30 d"))
"""(ms, label) where a log duration axis ticks."""


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


def compare_steps(table: pd.DataFrame, *, title: str = "Time per step, run A against run B",
                  limit: int = 30, running: Sequence[str] = ()) -> go.Figure:
    """Two runs' per-step durations side by side (`runs.compare_runs`: one row per step, differences
    first): grouped horizontal bars in one unit picked from the data, a failed or retried step marked on
    its bar in words and outlined red, a step only one run took shown with "not run" for the other, or
    "not yet" when that run is still running (`running`: "a", "b")."""
    if table is None or table.empty:
        return empty_figure("No steps to compare", title=title)
    part = table.head(limit)
    names = [_compare_label(r) for r in part.itertuples(index=False)]
    labels = [safe(n) for n in names]
    unit, size = readable.duration_unit(pd.concat([part["a_ms"], part["b_ms"]]))
    fig = _base(title, height=max(HEIGHT, 44 * len(part) + 90))
    for run, colour in (("a", PALETTE[0]), ("b", PALETTE[1])):
        errors, retries, visits = part[f"{run}_error"], part[f"{run}_retries"], part[f"{run}_visits"]
        marks = [_compare_mark(e, r, v, run in running) for e, r, v in zip(errors, retries, visits, strict=True)]
        failed = [m.startswith("failed") for m in marks]
        # A step this run did not take hovers "not run", as its bar is marked (it read "n/a, 0 visit(s)").
        hover = [f"{lab}<br>run {run.upper()}: {'not yet (still running)' if run in running else 'not run'}"
                 if not int(v or 0) else
                 f"{lab}<br>run {run.upper()}: {fmt_duration(ms, 'no duration recorded')}, {int(v or 0)} visit(s)"
                 + (f", {int(r)} retries" if r else "")
                 + (f"<br>{safe(str(e)[:120])}" if isinstance(e, str) and e else "")
                 for lab, ms, v, r, e in zip(labels, part[f"{run}_ms"], visits, retries, errors, strict=True)]
        fig.add_trace(go.Bar(
            y=labels, x=(part[f"{run}_ms"] / size).fillna(0), name=f"run {run.upper()}", orientation="h",
            marker=dict(color=colour, line=dict(color=[STATUS_COLORS[Status.FAILED.value] if f else colour
                                                       for f in failed], width=[3 if f else 0 for f in failed])),
            text=marks, textposition="outside", cliponaxis=False, hovertext=hover, hoverinfo="text"))
    fig.update_layout(barmode="group", hovermode="closest")
    fig.update_yaxes(autorange="reversed", type="category")
    _short_categories(fig, names)
    fig.update_xaxes(title=f"time in step ({unit})", ticksuffix=f" {unit}", rangemode="tozero")
    return fig


def severity_counts(findings: pd.DataFrame) -> go.Figure:
    if findings is None or findings.empty:
        return empty_figure("No findings", title="Findings by severity")
    counts = findings.groupby("severity").size()
    order = [s for s in SEVERITY_COLORS if s in counts.index]
    fig = _base("Findings by severity", height=220)
    fig.add_trace(go.Bar(x=order, y=[counts[s] for s in order], marker_color=[SEVERITY_COLORS[s] for s in order]))
    fig.update_layout(hovermode="closest", showlegend=False)
    integer_axis(fig, counts.max())
    return fig


RUN_STATUS_COLORS = {"succeeded": "#2e9d5b", "partial": "#ff9f1c", "failed": "#d62728", "running": "#1f77b4"}


def collection_timeline(runs: pd.DataFrame, title: str = "Collection runs by scope") -> go.Figure:
    """One row per scope, a marker per run coloured by its status (failed runs stand out)."""
    if runs is None or runs.empty:
        return empty_figure("No collection runs recorded", title=title)
    fig = _base(title, height=max(220, 40 * runs[C.scope].nunique() + 100))
    for status, part in runs.groupby(C.status):
        fig.add_trace(go.Scatter(
            x=part[C.started_at], y=part[C.scope].map(safe), mode="markers", name=safe(status),
            marker=dict(color=RUN_STATUS_COLORS.get(str(status), "#999"), size=12 if status == "failed" else 9,
                        symbol="x" if status == "failed" else "circle"),
            hovertext=[safe(_run_hover(s, e)) for s, e in zip(part[C.status], part[C.error], strict=True)],
            hoverinfo="text+x"))
    fig.update_layout(hovermode="closest")
    times = pd.to_datetime(runs[C.started_at], utc=True).dropna()
    if len(times) and times.max() - times.min() < MIN_TIME_SPAN:
        # Runs within moments of each other (every scope synced at once): an axis of their own span
        # would tick in fractions of a millisecond; one hour around them reads as a time of day.
        middle = times.min() + (times.max() - times.min()) / 2
        fig.update_xaxes(range=[middle - MIN_TIME_SPAN / 2, middle + MIN_TIME_SPAN / 2])
    return fig


MIN_TIME_SPAN = pd.Timedelta(hours=1)


def _run_hover(status: Any, error: Any) -> str:
    """A collection run's hover: its status, and its error when it has one (a stored run without one
    has NaN, which read "succeeded: nan")."""
    if is_missing(error) or not str(error).strip():
        return str(status)
    return f"{status}: {error}"[:200]


# ---------------------------------------------------------------- one execution's timeline

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
    ends now."""
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
    took = "running" if running else fmt_duration(getattr(row, C.duration_ms))
    hover = (f"{safe(getattr(row, C.name))}{suffix} ({safe(step_type)})<br>status {safe(getattr(row, C.status))}"
             f"<br>{took}, {attempts_n} tr{'y' if attempts_n == 1 else 'ies'}")
    error = _text_or_none(getattr(row, C.error))
    if error:       # a stored row without one has NaN, which read "nan: nan"
        cause = _text_or_none(getattr(row, C.cause))
        hover += f"<br>{safe(error)}" + (f": {safe(cause[:120])}" if cause else "")
    return {"label": label, "start": start, "end": end, "status": getattr(row, C.status),
            "kind": "wait" if step_type == StepType.WAIT.value else "step", "hover": hover}


def _lane_label(depth: int, name: str, visits: list[Any]) -> str:
    """The lane's name, indented under its container, with its visits and failed ones when several."""
    failed = sum(1 for v in visits if getattr(v, C.status) in measures.STEP_FAILED)
    count = f" ×{len(visits)}" if len(visits) > 1 else ""
    return (f"{'   ' * depth}{'└ ' if depth else ''}{safe(short(name))}{count}"
            + (f" ({failed} failed)" if failed and count else ""))


def _try_bars(tries: pd.DataFrame | None, label: str) -> list[dict[str, Any]]:
    """Thinner bars on the lane under a retried step, one per try that started."""
    bars: list[dict[str, Any]] = []
    for t in (tries if tries is not None else pd.DataFrame()).itertuples(index=False):
        t_start, t_end = getattr(t, C.started_at), getattr(t, C.ended_at)
        if t_start is None or pd.isna(t_start):
            continue
        t_end = t_start if t_end is None or pd.isna(t_end) else t_end
        bars.append({"label": label, "start": t_start, "end": t_end, "status": getattr(t, C.status), "kind": "try",
                     "hover": safe(f"try {getattr(t, C.attempt)}: {getattr(t, C.status)} "
                                   f"{_text_or_none(getattr(t, C.error)) or ''}".rstrip())})
    return bars


def gantt(execution: dict[str, Any], steps: pd.DataFrame, attempts: pd.DataFrame | None = None, *,
          max_rows: int = 400, now: dt.datetime | None = None) -> go.Figure:
    """One execution: a lane per step (nested under Map/Parallel/loop containers) holding a bar per
    visit, so iterations and revisits share it, with their count and failures in its label; a lane of
    thinner bars for the tries of a retried step, waits hatched, status colours; the run itself on top."""
    if steps is None or steps.empty:
        return empty_figure("No step details were collected for this execution", title="Timeline")
    now = now or dt.datetime.now(dt.timezone.utc)
    tries: dict[str, pd.DataFrame] = {}
    if attempts is not None and not attempts.empty:
        for key, part in attempts.groupby(C.step_key):
            if len(part) > 1:
                tries[str(key)] = part.sort_values(C.attempt)
    rows: list[dict[str, Any]] = []
    run_start = execution.get(C.started_at)
    run_end = execution.get(C.ended_at)
    if run_start is not None and not pd.isna(run_start):
        rows.append({"label": f"run: {safe(short(execution.get(C.workflow_name) or 'execution'))}", "start": run_start,
                     "end": run_end if run_end is not None and not pd.isna(run_end) else now,
                     "status": execution.get(C.status), "kind": "run", "hover": safe(execution.get(C.execution_id)),
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
        return empty_figure("No step of this execution has a start time", title="Timeline")
    frame = pd.DataFrame(rows)
    frame["start"] = pd.to_datetime(frame["start"], utc=True)
    frame["end"] = pd.to_datetime(frame["end"], utc=True)
    frame["ms"] = ((frame["end"] - frame["start"]).dt.total_seconds() * 1000).clip(lower=1)
    frame["y"] = pd.factorize(frame["lane"], sort=True)[0]
    shown = int(frame["y"].max()) + 1
    height = max(260, min(22 * shown + 90, 2400))
    title = "Timeline" + (f" (first {max_rows} lanes)" if lanes >= max_rows else "")
    fig = _base(title, height=height)
    for kind, width, pattern in (("run", 0.8, ""), ("step", 0.7, ""), ("wait", 0.7, "/"), ("try", 0.4, "")):
        part = frame[frame["kind"] == kind]
        if part.empty:
            continue
        fig.add_trace(go.Bar(
            y=part["y"], x=part["ms"], base=part["start"], orientation="h", width=width,
            marker=dict(color=[STATUS_COLORS.get(s, "#999") for s in part["status"]],
                        pattern=dict(shape=pattern), line=dict(width=0)),
            opacity=0.55 if kind == "run" else 1.0, name=kind, hovertext=part["hover"], hoverinfo="text",
            showlegend=False))
    ticks = frame.drop_duplicates("y")
    fig.update_yaxes(tickvals=ticks["y"], ticktext=ticks["label"], autorange="reversed", tickfont=dict(size=11,
                                                                                                      family="monospace"))
    fig.update_xaxes(type="date")
    fig.update_layout(hovermode="closest", bargap=0.2)
    for status, colour in STATUS_COLORS.items():
        if status in set(frame["status"]):
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=status,
                                     marker=dict(color=colour, size=10, symbol="square")))
    return fig
