"""Workflows: one row per workflow; the selected workflow's state graph with metrics painted."""

import streamlit as st

from flowscope.analysis.tables import billed_per_execution, workflow_totals, workflow_trend_seconds
from flowscope.format import fmt_usd
from flowscope.textsafety import markdown_text as md
from flowscope.ui import charts, data, graph, readable
from flowscope.ui import components as ui

ctx = ui.page("Workflows")
f = ctx.filters
ui.failed_scopes_banner(data.collection_health(), f.clouds)
table = data.workflow_table(f)
per = "day" if workflow_trend_seconds(f) == 86400 else "hour"
totals = workflow_totals(table)
ui.metric_row([("Workflows", f"{totals.workflows:,}", None), ("Runs", f"{totals.runs:,}", None),
               ("Workflows with failures", f"{totals.with_failures:,}", None),
               ("Spend in window", ui.tile_usd(totals.cost_usd), None)])
ui.table(table[["cloud", "workflow", "kind", "runs", "failure_pct", "p95_ms", "cost_usd", "monthly_usd", "trend",
                "last_run", "workflow_id"]], "workflows", column_config={
    "failure_pct": st.column_config.NumberColumn("runs failed %", format="%.1f%%",
                                                 help="Failed runs / finished runs (a caught step failure "
                                                      "does not fail its run)."),
    "p95_ms": st.column_config.NumberColumn("p95"),
    "cost_usd": st.column_config.NumberColumn("cost"),
    "monthly_usd": st.column_config.NumberColumn("$/month"),
    "trend": st.column_config.LineChartColumn(
        "runs trend", y_min=0, help=f"Runs per {per}, whole ones only: the {per} the window ends inside is "
                                    "left out, so it never reads as a drop."),
})

st.subheader("State graph", divider="gray")
keys = [(r.cloud, r.workflow_id) for r in table.itertuples(index=False)]
named = readable.workflow_labels(data.workflow_options(), with_cloud=True)     # as the sidebar names them
labels = {k: named.get(k, readable.plain(f"{r.workflow} ({r.cloud})"))
          for k, r in zip(keys, table.itertuples(index=False), strict=True)}
focus = st.query_params.get("focus")
linked = next((i for i, k in enumerate(keys) if k[1] == focus), None)
if focus and linked is None:      # said, not replaced by the default workflow in silence
    st.info(f"The link's workflow “{md(focus)}” has no run in this window and filters, so the graph opens on "
            "the workflow that needs attention most.")
default = graph.default_workflow(table) if linked is None else linked
left, right = st.columns([2, 1])
chosen = left.selectbox("Workflow", keys, index=default, format_func=lambda k: labels[k], key="wf-graph")
metric = right.radio("Paint", list(graph.METRICS), format_func=lambda m: graph.METRICS[m][0], horizontal=True,
                     key="wf-metric")
cloud, workflow_id = chosen
steps = data.step_metrics(f, cloud, workflow_id)
# A workflow billed per execution (Express: requests and GB-seconds) has no cost per step: its steps read
# "—" (graph, table), not $0.00 each beside the workflow's spend, and the cost chart says why it has no bars.
billed = float(table.loc[(table["cloud"] == cloud) & (table["workflow_id"] == workflow_id), "cost_usd"].sum())
per_run = billed_per_execution(steps, billed)
if per_run:
    steps = steps.assign(cost_usd=float("nan"))
edges = data.edge_counts(f, cloud, workflow_id)
definition = data.workflow_definition(cloud, workflow_id)
try:
    if definition is None:
        raise graph.DefinitionError("no definition was collected for this workflow")
    g = graph.parse(definition["definition"], definition.get("definition_format"))
    source = f"definition revision {definition.get('revision')}"
except graph.DefinitionError as exc:
    st.info(f"Drawing from observed transitions only: {md(exc)}.")
    g = graph.Graph()
    source = "observed transitions"
g = graph.with_observed(g, edges)
if not g.nodes:
    st.info("No steps were recorded for this workflow in the window.")
else:
    unpriced = " · billed per execution, no step has a cost" if per_run and metric == "cost_usd" else ""
    ui.plot(graph.figure(g, steps, edges, metric=metric, title=f"{charts.short(labels[chosen])} — {source}{unpriced}",
                         unpriced="billed per execution, not per step" if per_run else None), key="graph")
    st.caption("Opens on the workflow with the most failed runs (then the highest spend). "
               "Edge labels: transitions observed in the window. Red arrows: error handlers (Catch, runAfter "
               "Failed, except); purple: transitions seen in executions but not in the definition (calls into "
               "subworkflows are in it); grey: never taken in the window.")
ui.table(steps, "workflow-steps", column_config={
    "failure_rate": st.column_config.NumberColumn("visits failed", format="percent",
                                                  help="Failed visits (caught included) / visits: the rate "
                                                       "the failing_step finding reports."),
    "cost_usd": st.column_config.NumberColumn("cost")})
ui.plot(charts.empty_chart(f"Billed per execution, not per step: {fmt_usd(billed)} in this window",
                            title="Cost by step") if per_run
        else charts.hbar(steps, x="cost_usd", y="step", title="Cost by step", money=True), key="wf-cost")
