"""Failures: failed runs over time, top errors and failing steps."""

import pandas as pd
import streamlit as st

from flowscope.analysis.tables import bucket_seconds
from flowscope.format import fmt_pct
from flowscope.ui import charts, data
from flowscope.ui import components as ui

ctx = ui.page("Failures", findings=True)
f = ctx.filters
ui.failed_scopes_banner(data.collection_health(), f.clouds)
total = data.overview(f).iloc[-1]
errors = data.top_errors(f)
counted = data.error_totals(f)
ui.metric_row([("Failed executions", f"{int(total['failed']):,}", None),
               ("Failure rate", fmt_pct(total["failure_rate"]), None),
               ("Caught step failures", f"{counted['caught']:,}", None),
               ("Distinct errors", f"{counted['distinct_errors']:,}", None)])
over = data.failures_over_time(f)
ui.plot(charts.lines(over[over["failed"] > 0], x="bucket", y="failed", color="workflow",
                     title="Failed executions by workflow", kind="bar", integer=True, until=f.until,
                     bucket_s=bucket_seconds(f), since=f.since, empty="No failed executions in this window",
                     begins=data.summary()["first"]),
        key="fail-time")
st.subheader("Top errors", divider="gray")
if counted["distinct_errors"] > len(errors):
    st.caption(f"The {len(errors):,} commonest of {counted['distinct_errors']:,} distinct errors.")
if not errors.empty:
    errors["sample"] = [ui.link("executions", f, exec=e) for e in errors["sample_execution_id"]]
ui.table(errors, "top-errors", hide=["workflow_id", "sample_execution_id"], column_config={
    "sample": st.column_config.LinkColumn("sample run", display_text="open"),
    "sample_cause": st.column_config.TextColumn("cause", width="large")})
st.subheader("Failing steps", divider="gray")
steps = data.failing_steps(f)
if len(steps) >= data.FAILING_STEPS:       # more than read: said, never read as every failing step
    st.caption(f"The {len(steps):,} steps with the most failed visits; filter to fewer workflows to see the rest.")
if not steps.empty:
    steps["label"] = steps["workflow"] + " / " + steps["step"]
ui.plot(charts.hbar(steps, x="failures", y="label", title="Failed visits by step") if not steps.empty
        else charts.empty_chart("No failed steps"), key="fail-steps")
ui.table(steps.drop(columns=["label"], errors="ignore"), "failing-steps", hide=["workflow_id"],
         column_config={"failure_rate": st.column_config.NumberColumn("failure rate", format="percent")})


def failure_findings(found: pd.DataFrame | None) -> None:
    if found is not None and found.empty:    # ran and found none: said, never a blank (as while they run)
        st.caption("The failure analyses found no failing step or Map failure budget above their thresholds "
                   "in this window.")
    if found is not None and not found.empty:
        st.subheader("Findings", divider="gray")
        ui.table(found[["severity", "cloud", "workflow", "step", "title", "recommendation", "executions_affected"]],
                 "failure-findings")


ui.with_findings(f, failure_findings, ["failing_step", "map_failure_budget"])
