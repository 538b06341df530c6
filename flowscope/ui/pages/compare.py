"""Compare two runs side by side: per-step durations (a chart and a table), path differences, errors
and retries.

Opens on the newest failed run in the window against the newest successful run of the same
workflow (what changed when it broke; without a failed run, the two newest successful runs of one
workflow); `?a=<id>&b=<id>` or the inputs pick any two runs."""

import dataclasses
import datetime as dt

import streamlit as st

from flowscope.analysis import runs
from flowscope.analysis.tables import Filters, RunKey
from flowscope.model import Status
from flowscope.textsafety import markdown_text as md
from flowscope.ui import components as ui
from flowscope.ui import data, readable, run_charts

ctx = ui.page("Compare runs")
f = ctx.filters
days: dict[str, dt.date | None] = {}       # the start day of each run a search here listed: read from its day first
picked: dict[str, RunKey | None] = {}      # each id's run as found here (None: not stored), so none is read twice


def searched(scope: Filters, statuses: tuple[str, ...], size: int) -> list[dict]:
    """The newest `size` runs in `scope` with one of `statuses`, their start days noted in `days`."""
    rows, _ = data.search_executions(scope, statuses=statuses, page=0, page_size=size)
    listed = rows.to_dict("records")
    days.update({str(r["execution_id"]): runs.run_day(r["started_at"]) for r in listed})
    return listed


def newest(statuses: tuple[str, ...]) -> dict | None:
    """The newest run in the window with one of `statuses`."""
    return next(iter(searched(f, statuses, 1)), None)


def find(*run_ids: str) -> None:
    """The runs of the ids not found here yet, into `picked`: read together, so a link's two ids with no day
    (`?a=&b=`) cost one read of every file, not two; each from its start day first when known (`days`)."""
    wanted = tuple(dict.fromkeys(i for i in run_ids if i and i not in picked))
    if wanted:
        picked.update(data.find_executions(wanted, tuple(days.get(i) for i in wanted)))


def detail_of(run_id: str) -> tuple[RunKey | None, dict | None]:
    """The run of an id and its frames (None, None when not stored), found from its start day if a search gave it."""
    find(run_id)
    key = picked[run_id]
    return key, data.execution_detail(*key.key, key.start_date) if key else None


def other_run(run_id: str) -> str:
    """The newest successful run of run_id's workflow other than run_id itself ("" when none)."""
    _, detail = detail_of(run_id)
    if detail is None:
        return ""
    row = detail["execution"].iloc[0]
    scope = dataclasses.replace(f, clouds=(row["cloud"],), workflows=(row["workflow_id"],))
    return next((str(r["execution_id"]) for r in searched(scope, (Status.SUCCEEDED.value,), 2)
                 if r["execution_id"] != run_id), "")


default_a = st.query_params.get("a") or ""
default_b = st.query_params.get("b") or ""
# A link's start day of each run (the run page's link, this page's own address): read from it first; a wrong one
# costs a second read.
days.update({run_id: day for run_id, day in ((default_a, runs.day_in_text(st.query_params.get("a_day"))),
                                             (default_b, runs.day_in_text(st.query_params.get("b_day"))))
             if run_id and day})
if not default_a:
    # The newest failed run (what changed when it broke); without one, the newest successful run.
    first = newest(tuple(runs.RUN_FAILED)) or newest((Status.SUCCEEDED.value,))
    default_a = first["execution_id"] if first else ""
unpaired = bool(default_a and not default_b)
if unpaired:
    default_b = other_run(default_a)
unpaired = unpaired and not default_b         # run A's workflow has no other successful run in the window
left, right = st.columns(2)
id_a = left.text_input("Run A (execution id)", value=default_a, key="cmp-a").strip()
id_b = right.text_input("Run B (execution id)", value=default_b, key="cmp-b").strip()
find(id_a, id_b)
# The address names the two runs shown and their start days, so a copied link opens them, each read from its
# day's files (a link with ids alone reads every file of the store to find them).
ui.keep_in_url(a=id_a, b=id_b, a_day=runs.day_text(picked.get(id_a)), b_day=runs.day_text(picked.get(id_b)))
read = {label: detail_of(eid) if eid else (None, None) for label, eid in (("A", id_a), ("B", id_b))}
found = {label: key for label, (key, _) in read.items()}
details = {label: detail for label, (_, detail) in read.items()}
typed = {"A": id_a, "B": id_b}
# Where the Executions page shows a run's whole id: its pinned run column shows a Logic Apps run's end only. (A
# comment: a page's bare string, docstring-like under a constant, is drawn on the page by Streamlit's magic.)
WHOLE_ID = "execution id column"
unknown = [label for label, d in details.items() if d is None and typed[label]]
empty = [label for label, d in details.items() if d is None and not typed[label]]
for label in unknown:
    st.warning(f"No run {label} with id {md(typed[label])} in the store: give the whole id, as the Executions "
               f"page's {WHOLE_ID} shows it (its run column shows the end of some; its search finds a run by part "
               "of its id).")
if empty == ["B"] and unpaired and details["A"] is not None:
    name = details["A"]["execution"].iloc[0]["workflow_name"]
    st.info(f"**No other successful run of {md(name)} in this window** to set against run A: enter the "
            f"execution id of run B (the whole id, as the Executions page's {WHOLE_ID} shows it), or widen "
            "the time window.")
elif empty:
    st.info(f"Enter the execution id of run {' and '.join(empty)} (the whole id, as the Executions page's "
            f"{WHOLE_ID} shows it).")
if unknown or empty:
    st.stop()

record = {label: d["execution"].iloc[0].to_dict() for label, d in details.items() if d is not None}
if found["A"] == found["B"]:
    st.info("**Run A and run B are the same run**, so every difference below is nil: give another id in one "
            "of the two boxes.")
elif (record["A"]["cloud"], record["A"]["workflow_id"]) != (record["B"]["cloud"], record["B"]["workflow_id"]):
    st.info(f"**Runs of two workflows** ({md(record['A']['workflow_name'])} and "
            f"{md(record['B']['workflow_name'])}): their steps line up by name only, so most of them are in one "
            "run alone.")
cols = st.columns(2)
for col, (label, d) in zip(cols, details.items(), strict=True):
    assert d is not None
    run, steps = record[label], d["steps"]
    col.subheader(f"{label}: {md(run['workflow_name'])} · {run['status']}", divider="gray")
    col.caption(md(run["execution_id"]))
    col.metric("Duration", ui.run_duration(run, f.until))
    col.metric("Retries", f"{runs.run_retries(steps):,}")
    failing = runs.failing_step(steps)
    if failing is not None:
        said = f"{md(failing['name'])}: {md(failing.get('error') or 'no error recorded')}"
        if runs.was_caught(failing):
            col.warning(f"Caught a failure at {said}", icon=":material/warning:")
        else:
            col.error(f"Failed at {said}", icon=":material/error:")
    url = runs.console_url(run)
    if url:
        what = "" if runs.console_opens_run(run) else " its workflow's run history"
        col.link_button(f"Open{what} in its console", url, icon=":material/open_in_new:")

steps_of = {label: d["steps"] for label, d in details.items() if d is not None}
as_of = {label: runs.last_seen_running(record[label], f.until) for label in ("A", "B")}
table = runs.compare_runs(steps_of["A"], steps_of["B"], as_of["A"], as_of["B"])
# Each step once: a loop's row and its iterations' row share its name ("For_each, For_each" read as two steps).
only_a = list(dict.fromkeys(table.loc[table["path"] == "only A", "step"]))
only_b = list(dict.fromkeys(table.loc[table["path"] == "only B", "step"]))
# A run still running has not taken the steps it has not reached: "the paths differ" read them as another path.
running = [label for label, seen in as_of.items() if seen is not None]
so_far = (f"run {' and run '.join(running)} {'is' if len(running) == 1 else 'are'} still running, so a step only "
          f"in the other run may be one {'it has' if len(running) == 1 else 'they have'} not reached yet"
          if running else "")
st.subheader("Step by step, differences first", divider="gray")
if only_a or only_b:
    st.warning((f"**The paths differ so far:** {so_far}. " if running else "The paths differ. ")
               + f"Only in A: {md(', '.join(only_a) or 'none')}. Only in B: {md(', '.join(only_b) or 'none')}.")
else:
    st.caption("Both runs took the same path" + (f" so far ({so_far})." if running else "."))
ui.plot(run_charts.compare_steps(table, running=tuple(label.lower() for label in running)), key="cmp-steps")
# The times and errors beside the step's name, its visits and retries after them: at 1366 px "A error" was off
# the right edge.
ui.table(readable.leading(table, ["step", "parent", "a_ms", "b_ms", "delta_ms", "a_error", "b_error"]),
         "compare-runs", column_config={
    "a_visits": st.column_config.NumberColumn("A visits"), "b_visits": st.column_config.NumberColumn("B visits"),
    "a_retries": st.column_config.NumberColumn("A retries"), "b_retries": st.column_config.NumberColumn("B retries"),
    "a_ms": st.column_config.NumberColumn("A total"),
    "b_ms": st.column_config.NumberColumn("B total"),
    "delta_ms": st.column_config.NumberColumn("B − A", format="%+d", help="Run B's time in the step minus run A's: "
                                              "B took longer where it is positive, less where it is negative"),
    "a_error": st.column_config.TextColumn("A error"), "b_error": st.column_config.TextColumn("B error")})
