"""Cost: by cloud, workflow, step and edge over time; top drivers; what-if savings."""

import pandas as pd
import streamlit as st

from flowscope.analysis import measures
from flowscope.analysis.tables import bucket_seconds, retry_spend
from flowscope.format import BLANK, fmt_pct
from flowscope.ui import charts, data
from flowscope.ui import components as ui

ctx = ui.page("Cost", findings=True)
f = ctx.filters
ui.failed_scopes_banner(data.collection_health(), f.clouds)
total = data.overview(f).iloc[-1]
drivers = data.cost_drivers(f)
retries = retry_spend(drivers, data.configured(f))
ui.metric_row([("Spend in window", ui.tile_usd(total["cost_usd"]), None),
               ("Projected monthly spend", ui.tile_usd(total["monthly_usd"]), None),
               ("Spent on retries", ui.tile_usd(retries.usd), None),
               ("Cost per execution",
                ui.tile_usd(measures.per_execution(total["cost_usd"], total["executions"])), None)])
st.caption("List prices (analysis/pricing.py) times billed quantities; monthly free tiers are account-wide "
           "and not subtracted here.")
by = st.radio("Break down by", ["cloud", "workflow", "step", "meter"], horizontal=True, key="cost-by")
ui.plot(charts.lines(data.cost_over_time(f, by), x="bucket", y="cost_usd", color="key",
                     title=f"Cost by {by}", kind="area", money=True, since=f.since, until=f.until,
                     bucket_s=bucket_seconds(f), begins=data.summary()["first"]),
        key="cost-time")

st.subheader("Top drivers", divider="gray")
if not drivers.empty:
    drivers["label"] = drivers["workflow"] + " / " + drivers["step"]
left, right = st.columns([1, 1])
with left:
    ui.plot(charts.hbar(drivers, x="monthly_usd", y="label", title="Projected $/month by step", money=True)
            if not drivers.empty else charts.empty_chart(), key="drivers")
with right:
    # Transitions need each visit's previous step (a join of steps with itself): computed on demand.
    by_edge = st.toggle("By transition (previous step → step)", key="cost-edges",
                        help="Cost of entering each step, by the step it came from. Computed when switched on "
                             "(it joins every step visit to the one before it, slower on large stores).")
    edges = data.edge_cost(f) if by_edge else None
    if edges is not None and not edges.empty:
        edges["label"] = edges["workflow"] + ": " + edges["source"] + " → " + edges["target"]
    if edges is not None:
        ui.plot(charts.hbar(edges, x="monthly_usd", y="label", title="Projected $/month by transition", money=True)
                if not edges.empty else charts.empty_chart(), key="edges")
    else:
        ui.plot(charts.hbar(retries.by_step, x="monthly_usd", y="label",
                            title="Projected $/month spent on retries (top drivers)", money=True)
                if not retries.by_step.empty else charts.empty_chart("No retries among the top drivers"),
                key="retry-drivers")
if len(drivers) >= data.COST_DRIVERS:      # more rows than read: said, never read as every step's spend
    st.caption(f"The {len(drivers):,} dearest steps (by meter), {fmt_pct(drivers['share'].sum())} of the "
               "window's spend; filter to fewer workflows in the sidebar to see the rest.")
ui.table(data.cost_driver_table(f), "cost-drivers", hide=["workflow_id", "total_retry_usd"],
         column_config={
    "cost_usd": st.column_config.NumberColumn("cost"),
    "retry_usd": st.column_config.NumberColumn("of which retries"),
    "monthly_usd": st.column_config.NumberColumn("$/month"),
    "share": st.column_config.NumberColumn(format="percent")})
if edges is not None:
    if len(edges) >= data.EDGE_ROWS:        # more transitions than read: said, never read as every one
        st.caption(f"The {len(edges):,} dearest transitions; filter to fewer workflows in the sidebar to see the rest.")
    ui.table(edges.drop(columns=["label"], errors="ignore"), "cost-by-edge", hide=["workflow_id"])

st.subheader("What if", divider="gray")
cut = st.slider("Cut retries by", 0, 100, 50, step=10, format="%d%%", key="cost-cut")
st.metric("Monthly saving from fewer retries", ui.tile_usd(retries.saving(cut)))


def cost_findings(found: pd.DataFrame | None) -> None:
    if found is None:
        return
    if found.empty:
        st.caption("The cost analyses found no saving above their thresholds in this window.")
        return
    saving = ui.tile_usd(measures.potential_savings(found.to_dict('records')))
    st.metric("Savings the analyses found", f"{saving}/month",
              help="Each saving counted once: the largest per step, and a workflow-level what-if replaces "
                   "(not adds to) that workflow's step savings. A costly step's $/month is its spend (what "
                   "a change saves of it depends on the change) and a what-if on an assumed plan fee is "
                   "listed: neither is counted.")
    columns = ["severity", "kind", "cloud", "workflow", "step", "title", "monthly_usd", "recommendation", "evidence"]
    ui.table(ui.finding_dollars(found)[columns], "cost-what-if", column_config={
        "monthly_usd": st.column_config.NumberColumn("$/month", help=f"{BLANK}: no cost measured")})


ui.with_findings(f, cost_findings, ["costly_step", "polling_loop", "express_candidate", "plan_what_if"])
