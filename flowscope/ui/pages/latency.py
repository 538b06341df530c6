"""Latency: percentiles and drift per step, p95 over time."""

import pandas as pd
import streamlit as st

from flowscope.analysis.tables import bucket_seconds, slower_steps, slowest_p95
from flowscope.format import fmt_duration
from flowscope.ui import charts, data, readable
from flowscope.ui import components as ui

ctx = ui.page("Latency", findings=True)
f = ctx.filters
ui.failed_scopes_banner(data.collection_health(), f.clouds)
steps = data.latency_by_step(f, compare=ctx.compare)
runs = data.execution_latency(f)
if not steps.empty:
    steps["label"] = (steps["workflow"] + " / " + steps["step"]).map(readable.plain)     # the picker's options
ratio = data.thresholds().latency_drift_ratio      # the analyses' knob: the page and latency_drift agree
drifting = slower_steps(steps, ratio)
cut = len(steps) >= data.LATENCY_STEPS      # more steps than measured: said, never read as all of them
ui.metric_row([("Steps measured", f"{len(steps):,}" + ("+" if cut else ""), None),
               (f"Steps slower than last window (≥{ratio:g}× p95)", f"{len(drifting):,}" if ctx.compare else "—",
                None),
               ("Slowest workflow p95", fmt_duration(slowest) if (slowest := slowest_p95(runs)) is not None else "—",
                None)])
if cut:
    st.caption(f"Only the {len(steps):,} most visited steps are measured (and counted as slower) here: a step "
               "visited less is left out. Filter to fewer workflows in the sidebar to see them all.")
left, right = st.columns(2)
with left:
    ui.plot(charts.percentile_bars(runs, label="workflow", title="Execution duration by workflow"), key="lat-wf")
with right:
    ui.plot(charts.percentile_bars(steps, label="label", title="Step duration (slowest p95)"), key="lat-steps")
st.subheader("Drift per step" if ctx.compare else "Percentiles per step", divider="gray")
st.caption("drift = p95 in this window ÷ p95 in the previous window of the same length"
           + ("." if ctx.compare else "; the store holds no data for (most of) the previous window, so drift "
              "is not measured."))
# Drift and the two p95s it divides first after the names: last, they were off a 1366-pixel screen.
first = ["cloud", "workflow", "workflow_id", "step", *(["drift", "p95_ms", "prev_p95_ms"] if ctx.compare else [])]
ui.table(readable.leading(steps, first, drop=["label"]),
         "latency-by-step",
         hide=["workflow_id", *([] if ctx.compare else ["drift", "prev_p95_ms", "prev_visits"])], column_config={
    "drift": st.column_config.NumberColumn(format="%.2f×"),
    "prev_p95_ms": st.column_config.NumberColumn("previous p95"),
    "prev_visits": st.column_config.NumberColumn("previous visits")})
if not steps.empty:
    # The steps that slowed most; without a previous window to measure drift by, the slowest (p95).
    ranked = steps.sort_values(["drift", "p95_ms"], ascending=False, na_position="last")
    default = list(ranked["label"].head(3))
    # Picks out of view (the sidebar changed) are dropped; none left, the view's slowest are picked: kept
    # as they were, a filter to another workflow emptied them and the chart drew nothing.
    options = list(steps["label"])
    kept = [p for p in st.session_state.get("lat-pick", default) if p in set(options)]
    st.session_state["lat-pick"] = kept or default
    picked = st.multiselect("p95 over time for", options, key="lat-pick")
    chosen = tuple((r.cloud, r.workflow_id, r.step) for r in steps[steps["label"].isin(picked)].itertuples())
    over = data.latency_over_time(f, chosen)
    if not over.empty:
        keys = zip(steps["cloud"], steps["workflow_id"], steps["step"], strict=True)
        names = dict(zip(keys, steps["label"], strict=True))
        over["label"] = [names.get(k, k[2]) for k in zip(over["cloud"], over["workflow_id"], over["step"], strict=True)]
    ui.plot(charts.lines(over, x="bucket", y="p95_ms", color="label", title="p95 per step", until=f.until,
                         bucket_s=bucket_seconds(f), duration=True, since=f.since,
                         begins=data.summary()["first"]), key="lat-time")


def latency_findings(found: pd.DataFrame | None) -> None:
    st.subheader("Latency findings", divider="gray")
    if found is not None and found.empty:
        st.caption("The analyses found no slow step, latency drift or stuck run in this window.")
    if found is not None and not found.empty:
        ui.table(found[["severity", "kind", "cloud", "workflow", "step", "title", "recommendation"]],
                 "latency-findings")


ui.with_findings(f, latency_findings, ["slow_step", "latency_drift", "stuck_execution"])
st.subheader("Execution duration per workflow", divider="gray")
ui.table(runs, "execution-latency", hide=["workflow_id"], column_config={
    "runs": st.column_config.NumberColumn("finished runs", help="Runs with a duration: a run still running has "
                                          "none yet, so this can be fewer than the Workflows page's runs")})
