"""Executions: search runs; one run's timeline (steps, tries, Map/Parallel nesting, waits), events, cost."""

import pandas as pd
import streamlit as st

from flowscope.format import fmt_ms, fmt_usd
from flowscope.model import Status
from flowscope.ui import charts, data
from flowscope.ui import components as ui

ctx = ui.page("Executions")
f = ctx.filters
c1, c2, c3 = st.columns([2, 2, 2])
statuses = c1.multiselect("Status", [s.value for s in Status], key="ex-status", placeholder="Any status")
error_text = c2.text_input("Error text contains", key="ex-error")
wanted_id = c3.text_input("Execution id contains", key="ex-id", value=st.query_params.get("exec", ""))
runs = data.executions(f, statuses=tuple(statuses), error_text=error_text.strip(), execution_id=wanted_id.strip())
st.caption(f"{len(runs):,} execution(s) shown (newest first, at most 500).")
ui.table(runs, "executions", hide=["workflow_id", "kind"], height=300, column_config={
    "duration_ms": st.column_config.NumberColumn("duration (ms)", format="%d"),
    "cause": st.column_config.TextColumn(width="medium")})

target = None
exact = st.query_params.get("exec")
if exact:
    target = data.find_execution(exact)
if not runs.empty:
    keys = [(r.cloud, r.execution_id) for r in runs.itertuples(index=False)]
    index = keys.index(target) if target in keys else 0
    target = st.selectbox("Execution", keys, index=index, key="ex-pick",
                          format_func=lambda k: f"{k[1]}")
if target is None:
    st.info("No execution matches: change the search above or the sidebar filters.")
    st.stop()
detail = data.execution_detail(*target)
if detail is None:
    st.warning(f"Execution {target[1]} is not in the store (it may have been replaced by a newer sync).")
    st.stop()
run = detail["execution"].iloc[0].to_dict()
steps, attempts, usage = detail["steps"], detail["attempts"], detail["usage"]
st.subheader(f"{run['workflow_name']} · {run['status']}", divider="gray")
ui.metric_row([("Duration", fmt_ms(run.get("duration_ms")), None),
               ("Steps", f"{len(steps):,}", None),
               ("Retries", f"{int((steps['attempts'] - 1).clip(lower=0).sum()) if not steps.empty else 0:,}", None),
               ("Cost", fmt_usd(usage["usd"].sum() if not usage.empty else 0.0), None)])
if run.get("error"):
    st.error(f"**{run['error']}**: {run.get('cause') or ''}")
ui.plot(charts.gantt(run, steps, attempts), key="gantt")
st.subheader("Events", divider="gray")
events = []
for r in steps.itertuples(index=False):
    events.append({"time": r.started_at, "event": "step entered", "step": r.name, "type": r.type,
                   "status": r.status, "detail": ""})
    if not pd.isna(r.ended_at):
        events.append({"time": r.ended_at, "event": "step exited", "step": r.name, "type": r.type,
                       "status": r.status, "detail": f"{r.error or ''} {r.cause or ''}".strip()})
names = dict(zip(steps["step_key"], steps["name"], strict=True)) if not steps.empty else {}
for a in attempts.itertuples(index=False):
    if a.attempt > 1 or a.status != Status.SUCCEEDED.value:
        events.append({"time": a.started_at, "event": f"try {a.attempt}", "step": names.get(a.step_key, a.step_key),
                       "type": "attempt", "status": a.status, "detail": f"{a.error or ''} {a.cause or ''}".strip()})
frame = pd.DataFrame(events)
if not frame.empty:
    frame = frame.sort_values("time", kind="stable").reset_index(drop=True)
    frame["time"] = pd.to_datetime(frame["time"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S.%f").str[:-3]
ui.table(frame, "execution-events", height=320)
st.subheader("Cost", divider="gray")
if not usage.empty:
    usage = usage.assign(step=usage["step_key"].map(names).fillna("(per execution)"))
    ui.table(usage[["step", "meter", "quantity", "usd", "step_key"]], "execution-cost",
             column_config={"usd": st.column_config.NumberColumn("cost", format="$%.6f")})
else:
    st.caption("No billable usage recorded for this execution.")
with st.expander("Raw execution record"):
    st.json({k: (str(v) if not isinstance(v, (int, float, str, type(None))) else v) for k, v in run.items()},
            expanded=False)
