"""Overview: per cloud and in total, executions, run failure rate, retries, spend and its projection;
trends; top findings and the potential savings they add up to (counted once, never added to spend)."""

import pandas as pd
import streamlit as st

from flowscope.analysis import measures, runs
from flowscope.analysis.tables import bucket_seconds
from flowscope.format import fmt_count_change, fmt_evidence, fmt_pct, fmt_pt_change
from flowscope.textsafety import markdown_text as md
from flowscope.ui import charts, data, readable
from flowscope.ui import components as ui

ctx = ui.page("Overview", findings=True)
f = ctx.filters
ui.failed_scopes_banner(data.collection_health(), f.clouds)

# Deltas only against a previous window that has data (filters.time_window), never against nothing.
now, before, trend = data.overview_and_trend(f, with_previous=ctx.compare)
prev = {r.cloud: r for r in before.itertuples(index=False) if r.executions > 0} if before is not None else {}
# A cloud that ran in the previous window and not in this one has no row: said, never left out in silence
# (its section vanished and only the total's delta hinted at it).
silent = sorted(c for c in prev if c != "total" and c not in set(now["cloud"]))
for row in now.itertuples(index=False):
    p = prev.get(row.cloud)
    if row.cloud == "total":
        for cloud in silent:
            st.subheader(ui.filters.CLOUD_LABELS.get(cloud, cloud), divider="gray")
            st.warning(f"**No executions in this window**, against {prev[cloud].executions:,} in the previous one. "
                       "Check Collection health (a sync that stopped or fails) before reading it as quiet.",
                       icon=":material/warning:")
    label = "All clouds" if row.cloud == "total" else ui.filters.CLOUD_LABELS.get(row.cloud, row.cloud)
    st.subheader(label, divider="gray" if row.cloud != "total" else "blue")
    ui.metric_row([
        ("Executions", f"{row.executions:,}", fmt_count_change(row.executions, p.executions) if p else None),
        ("Run failure rate", fmt_pct(row.failure_rate),
         fmt_pt_change(row.failure_rate, p.failure_rate) if p else None, "inverse"),
        ("Retries", f"{row.retries:,}", fmt_count_change(row.retries, p.retries) if p else None, "inverse"),
        ("Spend in window", ui.tile_usd(row.cost_usd), None),
        ("Projected monthly spend", ui.tile_usd(row.monthly_usd),
         ui.tile_usd_change(row.monthly_usd, p.monthly_usd) if p else None, "inverse"),
    ])
    if row.cloud == "total" and len(now) == 2:
        st.caption(f"Only {now.iloc[0]['cloud']} data in this view.")
if not ctx.compare:
    st.caption("No change against the previous window is shown: the store holds no data for (most of) it.")

st.subheader("Trends", divider="gray")
figs = charts.kpi_trends(trend, until=f.until, bucket_s=bucket_seconds(f), since=f.since,
                         begins=data.summary()["first"])
left, right = st.columns(2)
with left:
    ui.plot(figs["executions"], key="t-exec")
    ui.plot(figs["retries"], key="t-retries")
with right:
    ui.plot(figs["failure_rate"], key="t-fail")
    ui.plot(figs["cost"], key="t-cost")

st.subheader("Top findings", divider="gray")


def top_findings(found: pd.DataFrame | None) -> None:
    """The findings, most severe first, each with a link to its evidence (nothing while they run)."""
    if found is None:
        return
    if found.empty:
        st.success("No findings in this window.")
        return
    shown = found.head(ui.TOP_FINDINGS).copy()
    if len(found) > len(shown):     # the table (and its CSV) is not every finding: said, not left to guess
        st.caption(f"The {len(shown):,} most severe of {len(found):,} findings; each page lists its own kinds "
                   "in full, and `flowscope analyze` every one.")
    shown["evidence_link"] = [
        ui.evidence_link(f, k, wid, step, ids)
        for k, wid, step, ids in zip(shown["kind"], shown["workflow_id"], shown["step"],
                                     shown["sample_execution_ids"], strict=True)]
    c1, c2 = st.columns([1, 3])
    with c1:
        ui.plot(charts.severity_counts(found), key="sev")
        st.metric("Findings", f"{len(found):,}")
        st.metric("Potential savings per month",
                  ui.tile_usd(measures.potential_savings(found.to_dict("records"))),
                  help="What the findings that price a change (a callback for a polling loop, Express, "
                       "the other Logic Apps plan) say it would save, each saving counted once; not part of "
                       "spend or its projection. A costly step's $/month is its spend, and a what-if on an "
                       "assumed plan fee is listed: neither is counted.")
    with c2:
        columns = ["severity", "kind", "cloud", "workflow", "step", "title", "monthly_usd", "executions_affected",
                   "evidence_link", "recommendation", "evidence", "id"]
        ui.table(ui.finding_dollars(shown)[columns],
                 "findings", hide=["evidence", "id"], column_config={
                     "monthly_usd": ui.finding_dollars_column(format="$%.2f"),
                     "evidence_link": st.column_config.LinkColumn("evidence", display_text="open"),
                     "title": st.column_config.TextColumn(width="large"),
                 })
    pick = st.selectbox("Evidence of finding", shown.index,
                        format_func=lambda i: readable.plain(shown.loc[i, "title"])[:120])
    chosen = shown.loc[pick]
    st.markdown(f"**{md(chosen['title'])}** — {md(chosen['recommendation'])}")
    st.markdown(f"Evidence: {md(fmt_evidence(chosen['evidence']))}")
    # Each run by the end of its id, as the Executions page's run column reads it: whole ids (an ARN, a resource
    # path) took two lines each and differed only at their ends. The link opens the whole id.
    for eid in list(chosen["sample_execution_ids"])[:5]:
        st.markdown(f"- [{md(runs.short_id(eid))}]({ui.link('executions', f, exec=eid)})")


ui.with_findings(f, top_findings)

with st.expander("Per-cloud numbers"):
    ui.table(now, "overview-by-cloud")
