"""The report's charts: plotly figures built from the same frames as the dashboard's charts.

A report is one file that opens offline (or a PDF printed from it), so its charts are plotly figures
drawn by plotly.js inlined in the page (`report/html.py`). The dashboard draws Vega-Lite instead
(`ui/charts.py`: its renderer is a sixth of plotly's, which a fresh browser compiles on every first
visit). What a chart shows is decided once, by the shared rules in `ui/charts.py` (partial buckets, the
window's span, labels cut to fit, colours, tick formats); this module only draws them with plotly.
Every text that may come from a cloud goes through `safe` (`textsafety.plotly_text`): plotly.js
reads HTML in text, so a step named `<a href=...>` would draw a live link.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from flowscope.format import fmt_duration, fmt_usd
from flowscope.model import C
from flowscope.textsafety import plotly_text as safe
from flowscope.ui import readable
from flowscope.ui.charts import (
    HEIGHT,
    KPI_TRENDS,
    LEGEND_CHARS,
    LOG_DURATION_TICKS,
    MONEY_TICKS,
    PALETTE,
    SEVERITY_COLORS,
    SHARE_TICKS,
    color_for,
    data_start,
    in_duration_unit,
    partial_buckets,
    shorts,
    window_span,
)

TEMPLATE = "plotly_white"
"""The plotly template a report's figures get: no Streamlit theme applies outside the dashboard."""


def _base(title: str | None = None, height: int = HEIGHT) -> go.Figure:
    """An empty figure with the common layout. No plotly template: the dashboard draws with Streamlit's
    theme, and reports set theirs when they export (`REPORT_TEMPLATE`); a template set here was copied
    into every figure, ~45 ms each, on every page run."""
    return go.Figure(layout=dict(title=safe(title) if title else None, height=height,
                                 margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                                 legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1),
                                 hovermode="x unified"))


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
        frame, unit, y_title = in_duration_unit(frame, y, y_title)
        suffix = f" {unit}"
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
    """The Overview's trend charts (`charts.KPI_TRENDS`) by cloud."""
    if trend is None or trend.empty:
        return {key: empty_figure(title=title) for key, _y, title, _how in KPI_TRENDS}
    return {key: lines(trend, x="bucket", y=y, color=C.cloud, title=title, until=until, bucket_s=bucket_s,
                       since=since, begins=begins, **how) for key, y, title, how in KPI_TRENDS}


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
