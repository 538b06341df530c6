"""Executions: search runs by id, status, error and step, paged through every match; one run read
failure first (the failing step's own error, loops collapsed, retries per step, its console link),
then its timeline, events and cost."""


import streamlit as st

from flowscope.analysis import runs
from flowscope.format import fmt_duration, is_missing
from flowscope.model import C, Status
from flowscope.textsafety import markdown_text as md
from flowscope.ui import components as ui
from flowscope.ui import data, readable, run_charts

CONSOLES = {"aws": "AWS console", "azure": "Azure portal", "gcp": "Google Cloud console"}


ctx = ui.page("Executions")
f = ctx.filters
ui.failed_scopes_banner(data.collection_health(), f.clouds)     # "0 matching" may be runs it could not read
# A link's run (`?exec=`), blank read as none: a template whose id was empty linked "?exec=%20", which "every
# run contains", and the page said "No run has the link's id “ ”: 300 run(s) contain it".
exact = (st.query_params.get("exec") or "").strip()
c1, c2, c3, c4 = st.columns(4)
search = {"statuses": tuple(c1.multiselect("Status", runs.SEARCH_STATUSES, key="ex-status",
                                           placeholder="Any status",
                                           format_func=lambda s: "CAUGHT (a step failure handled)"
                                           if s == Status.CAUGHT.value else s,
                                           help="A run's status; CAUGHT finds the runs in which a Catch, "
                                                "runAfter or except handled a step's failure.")),
          "error_text": c2.text_input("Error contains", key="ex-error").strip(),
          "step": c3.text_input("Step name contains", key="ex-step").strip(),
          "execution_id": c4.text_input("Execution id contains", key="ex-id",
                                        value=exact).strip()}
left, middle, right = st.columns([1, 1, 3])
sort = middle.selectbox("Order", list(runs.SORTS), key="ex-sort",
                        help="Over every match: a click on a column's header sorts only the page shown.")
signature = repr((sorted(search.items()), sort, round(f.days, 6), f.clouds, f.workflows))   # not the sliding end
if st.session_state.get("ex-search") != signature:     # a new search starts on its first page
    st.session_state["ex-search"] = signature
    st.session_state["ex-page"] = 1
page_no = int(st.session_state.get("ex-page") or 1)
found, total = data.search_executions(f, **search, page=page_no - 1, page_size=runs.PAGE_SIZE, sort=sort)
pages = runs.page_count(total)
if page_no > pages:
    st.session_state["ex-page"] = page_no = pages
first = (page_no - 1) * runs.PAGE_SIZE
# Each listed run's start day, by which its row, steps and children are read (not from every file of its cloud).
days = {(r.cloud, r.execution_id): runs.run_day(r.started_at) for r in found.itertuples(index=False)}
exact_day = next((d for (_, e), d in days.items() if e == exact), None)     # the link's run, when it is listed
left.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, step=1, key="ex-page")
linked = None
if total:
    right.caption(f"{total:,} matching execution(s), {sort}; showing {first + 1:,}–{first + len(found):,}.")
    ui.table(found, "executions", hide=["workflow_id", "kind"], height=300, column_config={
        "run": st.column_config.TextColumn("run", help="The end of the execution id, which tells runs apart; "
                                                       "the whole id is in the execution id column"),
        "duration_ms": st.column_config.NumberColumn("duration", help="A run still running: its time so far, "
                                                                       "to when it was last collected"),
        "cause": st.column_config.TextColumn(width="medium")})
else:
    asked = [f"status {' or '.join(search['statuses'])}" if search["statuses"] else "",
             f"error containing “{search['error_text']}”" if search["error_text"] else "",
             f"a step named like “{search['step']}”" if search["step"] else "",
             f"an id containing “{search['execution_id']}”" if search["execution_id"] else ""]
    said = ", ".join(md(a) for a in asked if a) or "the sidebar's filters"
    right.caption("0 matching executions.")
    linked_run = data.find_execution(str(search["execution_id"])) if search["execution_id"] else None
    linked = linked_run.key if linked_run is not None else None
    if linked_run is not None:      # a link's run (or a whole id typed) that started outside the window
        days[linked_run.key] = linked_run.start_date
        st.info(f"**The run {md(linked_run.execution_id)} started outside this window or the sidebar's "
                "filters**, so the search lists nothing; the run is shown below all the same.")
    elif search["execution_id"] and not data.runs_with_id_in_store(str(search["execution_id"])):
        # No window or filter would find it: "widen the time window" sent the reader of a stale link looking.
        typed = md(search["execution_id"])
        lead = (f"**The link's run “{typed}” is not in this store**: no run has an id containing it"
                if search["execution_id"] == exact
                else f"**No run in this store has an id containing “{typed}”**")
        st.warning(f"{lead}, in any window, cloud or workflow (a link from another store, or a run a newer sync "
                   "replaced?). Check the id, or search by status, error or step.")
    else:
        st.info(f"**No execution in this window matches** {said}. Check the spelling (text matches anywhere, "
                "any case), widen the time window or clear the sidebar's cloud and workflow filters.")

target = None
if exact:
    located = data.find_execution(exact, exact_day)
    target = located.key if located is not None else None
    if located is not None:
        days[located.key] = located.start_date
    if target is None and total and search["execution_id"] == exact:
        # A link's id that is no whole id (cut short, mistyped) opened the first run containing it as if
        # it were the one linked: said, before the list it searched.
        st.info(f"**No run has the link's id “{md(exact)}”**: {total:,} run(s) in this window contain it, and the "
                "first is shown below. Pick the one meant in the list, or give its whole id.")
target = target or linked
if not found.empty:
    keys = [(r.cloud, r.execution_id) for r in found.itertuples(index=False)]
    # Named as the table reads a run (workflow, the id's telling end, status, start): 100 whole ids of one
    # workflow differ only in their last characters, past where the box cuts them.
    labels = {(r.cloud, r.execution_id): readable.plain(f"{r.workflow} · {r.run} · {r.status} · "
                                                        f"{r.started_at:%Y-%m-%d %H:%M} UTC")
              for r in found.itertuples(index=False)}
    target = st.selectbox("Execution", keys, index=keys.index(target) if target in keys else 0, key="ex-pick",
                          format_func=lambda k: labels.get(k, k[1]))
if target is None:
    st.stop()           # said above: no match
if exact or (not found.empty and target != keys[0]):
    # A run picked (or linked) is named in the address, so a copied link opens it; the list's first run,
    # shown by default, is not: a reload would narrow the search to it (the id box starts from ?exec=).
    ui.keep_in_url(exec=target[1])
detail = data.execution_detail(*target, days.get(target))
if detail is None:
    st.warning(f"Execution {md(target[1])} is not in the store (it may have been replaced by a newer sync).")
    st.stop()
run = detail["execution"].iloc[0].to_dict()
started_on = runs.run_day(run[C.start_date])     # the day its rows are stored under: its children's reads, Compare's
steps, attempts, usage = detail["steps"], detail["attempts"], detail["usage"]
folded = runs.fold_own_work(steps)      # a GCP try's call in the try's place, as every table of this page reads it
st.subheader(f"{md(run['workflow_name'])} · {run['status']}", divider="gray")
failing = runs.failing_step(steps)
if failing is not None:
    where = f" (inside {md(failing['parent'])})" if failing.get("parent") else ""
    cause = runs.cause_text(failing.get("error"), failing.get("cause"))
    what = f"{where}: **{md(failing.get('error') or 'no error recorded')}**" + (f" {md(cause)}" if cause else "")
    if runs.was_caught(failing):
        st.warning(f"**Caught a failure at step {md(failing['name'])}**{what} (the run handled it and went on)")
    else:
        st.error(f"**Failed at step {md(failing['name'])}**{what}")
    if run.get("error") and run.get("error") != failing.get("error"):
        cause = runs.cause_text(run["error"], run.get("cause"))
        st.caption(f"The run itself reported {md(run['error'])}" + (f": {md(cause)}" if cause else ""))
elif run.get("error"):
    cause = runs.cause_text(run["error"], run.get("cause"))
    st.error(f"**{md(run['error'])}**" + (f": {md(cause)}" if cause else ""))
url = runs.console_url(run)
if url:
    what = "this run" if runs.console_opens_run(run) else "its workflow's run history"
    st.link_button(f"Open {what} in the {CONSOLES.get(run['cloud'], 'console')}", url, icon=":material/open_in_new:")
as_of = runs.last_seen_running(run, f.until)
age = runs.since(run.get("started_at"), as_of)
if as_of is not None:
    waiting = runs.running_step(steps)
    said = (f"**Still running** after {fmt_duration(age)} {runs.seen_running_when(run, f.until)} "
            f"({as_of:%Y-%m-%d %H:%M} UTC)")
    if waiting is not None:
        inside = f" (inside {md(waiting['parent'])})" if waiting.get("parent") else ""
        waited = runs.since(waiting.get("started_at"), as_of)
        said += f", waiting in step **{md(waiting['name'])}**{inside}" + (
            f" for {fmt_duration(waited)}" if waited is not None else "")
    else:
        said += "; no step was recorded as running"
    life = runs.current_life_start(run, steps)       # a redrive keeps the start date: say the life the stuck check ages
    if life is not None and life <= as_of:
        said += (f"; it was redriven: its current life has run {fmt_duration(runs.since(life, as_of))} "
                 f"(since {life:%Y-%m-%d %H:%M} UTC)")
    st.warning(said)
# A run still running reads "Running for 23 d 5 h": "Duration: running 23 d 5 h" was cut to "running 23 …" in a
# quarter of a 1366-pixel page (Compare runs, two runs side by side, has the room for it).
running_for = as_of is not None and is_missing(run.get(C.duration_ms))        # as `ui.run_duration` reads it
paid = runs.plan_paid(usage, run.get(C.kind))
ui.metric_row([("Running for", fmt_duration(age), None) if running_for
               else ("Duration", ui.run_duration(run, f.until), None),
               ("Step visits", f"{len(folded):,}", None),
               ("Retries", f"{runs.run_retries(steps):,}", None),
               # built-in operations of a Logic Apps Standard run are paid in plan hours: not "$0" as if free
               ("Cost", "in plan hours" if paid is runs.PlanPaid.ALL
                else ui.tile_usd(runs.run_usd(usage)), None)])
st.subheader("Steps, failures first", divider="gray")
st.caption("Loop and Map iterations are folded into one row per step and parent, with their count.")
# The failing step's error and cause beside its name, before its counts: at 1366 px the cause was off screen.
ui.table(readable.leading(runs.collapsed_steps(steps, as_of), ["step", "error", "cause", "parent"]),
         "execution-steps", height=300, column_config={
    "visits": st.column_config.NumberColumn("runs of step", format="%d"),
    "attempts": st.column_config.NumberColumn("tries", format="%d", help="Tries over all its runs"),
    "skipped": st.column_config.NumberColumn("skipped", format="%d",
                                             help="Runs of the step skipped, not run (a branch not taken, its "
                                                  "runAfter not met)"),
    "running": st.column_config.NumberColumn("still running", format="%d",
                                             help="Runs of the step still running when last collected"),
    "total_ms": st.column_config.NumberColumn("total", help="A running step's time so far, to when the run "
                                                            "was last collected")})
children = data.child_runs(*target, started_on)
if not children.empty:
    # A Distributed Map's items are child executions: its step above is one row and a generic
    # States.ExceedToleratedFailureThreshold, the items' own failures are theirs.
    st.subheader("Child runs (Distributed Map items)", divider="gray")
    st.caption("Executions this run started, per child workflow, failures first, with the first failed child's "
               "own error; open it to read it failure first.")
    ui.table(children.assign(first_failed=[ui.link("executions", f, exec=e) if isinstance(e, str) and e else None
                                           for e in children["first_failed"]]),
             "execution-children", hide=[C.workflow_id], column_config={
        "runs": st.column_config.NumberColumn("child runs", format="%d"),
        "running": st.column_config.NumberColumn("still running", format="%d"),
        "first_failed": st.column_config.LinkColumn("first failed run", display_text="open")})
ui.plot(run_charts.gantt(run, folded, attempts, now=as_of.to_pydatetime() if as_of is not None else None), key="gantt")
st.subheader("Events", divider="gray")
ui.table(runs.run_events(folded, attempts), "execution-events", height=320)
st.subheader("Cost", divider="gray")
if not usage.empty:
    st.caption("Per step and meter, loop and Map iterations folded into one row with their count."
               + (" A Logic Apps Standard workflow's built-in operations cost nothing per run ($0 here): its "
                  "plan is billed per hour (vCPU and memory), whatever runs." if paid is not runs.PlanPaid.NONE
                  else ""))
    ui.table(runs.run_cost(steps, usage), "execution-cost", column_config={
        "usd": st.column_config.NumberColumn("cost"),
        "visits": st.column_config.NumberColumn("runs of step", format="%d")})
else:
    st.caption("No billable usage recorded for this execution.")
# its day goes along, so Compare reads the run's row from that day's files, not every file of the cloud
st.markdown(f"[Compare this run with another]({ui.link('compare', f, a=target[1], a_day=started_on)})")
with st.expander("Raw execution record"):
    st.json({k: (str(v) if not isinstance(v, (int, float, str, type(None))) else v) for k, v in run.items()},
            expanded=False)
