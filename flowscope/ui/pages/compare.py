"""Compare two runs side by side: per-step durations, path differences, errors and retries.

Opens on the newest failed run in the window against the newest successful run of the same
workflow (what changed when it broke); `?a=<id>&b=<id>` or the inputs pick any two runs."""

import dataclasses

import streamlit as st

from flowscope.analysis import runs
from flowscope.format import fmt_ms
from flowscope.model import Status
from flowscope.ui import components as ui
from flowscope.ui import data

ctx = ui.page("Compare runs")
f = ctx.filters


def newest(statuses: tuple[str, ...], cloud: str | None = None, workflow_id: str | None = None) -> dict | None:
    """The newest run in the window with one of `statuses` (of one workflow when given)."""
    scope = dataclasses.replace(f, clouds=(cloud,), workflows=(workflow_id,)) if cloud and workflow_id else f
    rows, _ = data.search_executions(scope, statuses=statuses, page=0, page_size=1)
    return None if rows.empty else rows.iloc[0].to_dict()


default_a = st.query_params.get("a") or ""
default_b = st.query_params.get("b") or ""
if not default_a:
    failed = newest(tuple(runs.RUN_FAILED))
    default_a = failed["execution_id"] if failed else ""
if default_a and not default_b:
    picked = data.find_execution(default_a)
    detail_a = data.execution_detail(*picked) if picked else None
    if detail_a is not None:
        row = detail_a["execution"].iloc[0]
        ok = newest((Status.SUCCEEDED.value,), row["cloud"], row["workflow_id"])
        default_b = ok["execution_id"] if ok else ""
left, right = st.columns(2)
id_a = left.text_input("Run A (execution id)", value=default_a, key="cmp-a").strip()
id_b = right.text_input("Run B (execution id)", value=default_b, key="cmp-b").strip()
found = {label: data.find_execution(eid) if eid else None for label, eid in (("A", id_a), ("B", id_b))}
details = {label: data.execution_detail(*key) if key else None for label, key in found.items()}
missing = [label for label, d in details.items() if d is None]
if missing:
    st.info(f"Enter the execution id of run {' and '.join(missing)} (exact id, as the Executions page shows it).")
    st.stop()

cols = st.columns(2)
for col, (label, d) in zip(cols, details.items(), strict=True):
    assert d is not None
    run, steps = d["execution"].iloc[0].to_dict(), d["steps"]
    col.subheader(f"{label}: {run['workflow_name']} · {run['status']}", divider="gray")
    col.caption(str(run["execution_id"]))
    col.metric("Duration", fmt_ms(run.get("duration_ms")))
    col.metric("Retries", f"{int((steps['attempts'] - 1).clip(lower=0).sum()) if not steps.empty else 0:,}")
    failing = runs.failing_step(steps)
    if failing is not None:
        col.error(f"Failed at {failing['name']}: {failing.get('error') or 'no error recorded'}",
                  icon=":material/error:")
    url = runs.console_url(run)
    if url:
        col.link_button("Open in its console", url, icon=":material/open_in_new:")

steps_of = {label: d["steps"] for label, d in details.items() if d is not None}
table = runs.compare_runs(steps_of["A"], steps_of["B"])
only_a = table.loc[table["path"] == "only A", "step"].tolist()
only_b = table.loc[table["path"] == "only B", "step"].tolist()
st.subheader("Step by step, differences first", divider="gray")
if only_a or only_b:
    st.warning(f"The paths differ. Only in A: {', '.join(only_a) or 'none'}. Only in B: {', '.join(only_b) or 'none'}.")
else:
    st.caption("Both runs took the same path.")
ui.table(table, "compare-runs", column_config={
    "a_ms": st.column_config.NumberColumn("A total (ms)", format="%d"),
    "b_ms": st.column_config.NumberColumn("B total (ms)", format="%d"),
    "delta_ms": st.column_config.NumberColumn("B − A (ms)", format="%+d")})
