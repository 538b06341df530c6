"""Shared page pieces: the page guard (helpful states instead of tracebacks), CSV-downloadable
tables, KPI rows and links between pages."""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
import functools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import wait
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from flowscope.analysis.tables import Filters
from flowscope.format import BLANK, NOT_PRICED, fmt_monthly, fmt_usd, fmt_usd_change, is_change
from flowscope.model import C
from flowscope.textsafety import csv_safe_frame
from flowscope.textsafety import markdown_text as md
from flowscope.ui import data, filters, readable
from flowscope.ui.app_main import PAGES as NAVIGATION
from flowscope.ui.app_main import page_file
from flowscope.ui.charts import Chart

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

PAGES = {"overview": "Overview", "workflows": "Workflows", "executions": "Executions", "failures": "Failures",
         "retries": "Retries", "cost": "Cost", "latency": "Latency", "collection_health": "Collection health"}
DEFAULT_PAGE = NAVIGATION[0][0]
"""The page Streamlit serves at "/" (its url path is not served)."""


class Context:
    """What a page needs: the filters, the store's summary and where the window ends (the one time
    rule, filters.time_window: also whether the previous window has data to compare against)."""

    def __init__(self, f: Filters, summary: dict[str, Any], window: filters.TimeWindow | None = None) -> None:
        self.filters = f
        self.summary = summary
        self.window = window or filters.current_window()

    @property
    def compare(self) -> bool:
        """Show deltas against the previous window: only when that window has data."""
        return self.window.previous_has_data


def page(title: str, *, need_data: bool = True, need_window: bool = True, findings: bool = False) -> Context:
    """Header, then a helpful state (and st.stop) when the store is unreadable, empty or the
    window holds nothing; returns the page's Context otherwise.

    `findings`: the page shows findings (`with_findings`), so their analyses are asked for now, before
    the page's own queries: they start at once (giving way to the page, at a lower priority, in their
    own process) instead of after the page's charts, and interrupt a window computed ahead of time."""
    f = filters.render()
    st.title(title)
    try:
        summary = data.summary()
    except data.StoreUnavailable as exc:
        st.error(f"**The store cannot be read.** {exc}")   # ours: the path the operator gave, and how to make a store
        st.info("Point the dashboard at a store with `flowscope dashboard --store DIR`, the `FLOWSCOPE_STORE` "
                "environment variable or `store = \"...\"` in flowscope.toml. `flowscope demo` builds one.")
        st.stop()
    except Exception as exc:  # noqa: BLE001 - a store being written may briefly fail a read
        st.warning(f"**The store is being updated; reading it failed this time** ({type(exc).__name__}: "
                   f"{md(str(exc)[:300])}). Reload the page in a few seconds.")
        st.stop()
    span = filters.current_window()
    # escaped, not a code span: a folder name may hold a backtick, which would end the span and let the
    # rest of the path be read as Markdown
    st.caption(f"Store {md(data.store_path())} · {filters.describe(f, span.ends_at_data)}")
    note = filters.data_end_note(span)
    if note:
        st.caption(note)
    for dropped in filters.notes():
        st.warning(dropped)
    step = focus_step()
    if step:
        # The workflow filter only when one applies: a link whose `wf=` was left out filters nothing.
        scope = "the page is filtered to its workflow (the sidebar's filter), and " if f.workflows else ""
        st.info(f"**From a finding:** {scope}step **{md(step)}** comes first in its step tables.")
    ctx = Context(f, summary, span)
    if findings and summary["executions"]:
        _findings_job(f)
    if need_data and summary["executions"] == 0:
        st.info("**No executions in this store yet.** Run `flowscope demo` for a simulated three-cloud store, "
                "`flowscope sync` to collect from your clouds, or `flowscope import FILE...` for exported "
                "histories. A sync that is running will show up here as soon as it commits.")
        if summary["collection_runs"]:
            st.page_link(str(page_file("collection_health")), label="See collection health",
                         icon=":material/monitor_heart:")
        st.stop()
    if need_data and need_window and not data.has_executions(f):
        last = summary.get("last")
        hint = f" The newest execution in the store started {last:%Y-%m-%d %H:%M} UTC." if last else ""
        st.warning(f"**No executions match the filters in this window.**{hint} Widen the time window "
                   "or clear the cloud and workflow filters in the sidebar.")
        st.stop()
    return ctx


TOP_FINDINGS = 20
"""How many findings, most severe first, Overview's table lists (it says so when there are more)."""


PIN_WIDTH = {"title": "large"}
"""Width of a pinned name column (others "medium"): wide enough to read, narrow enough that the money
columns after it stay in view on a 1366-pixel screen with the sidebar open."""


def _given(config: dict[str, Any], column: str) -> dict[str, Any]:
    value = config.get(column)
    return dict(value) if isinstance(value, dict) else {"label": value} if isinstance(value, str) else {}


def table_config(shown: pd.DataFrame, formats: dict[str, readable.Shown],
                 column_config: dict[str, Any] | None = None) -> tuple[list[str], dict[str, Any]]:
    """(column order, st.column_config) of a table: readable's number formats as NumberColumns (the
    page's label, width and help kept), the columns naming a row first and pinned, money next."""
    config = dict(column_config or {})
    for column, shown_as in formats.items():
        given = _given(config, column)
        width, help_text = given.get("width") or shown_as.width, given.get("help")
        if shown_as.kind == readable.DATETIME:
            config[column] = st.column_config.DatetimeColumn(shown_as.label, format=shown_as.format, timezone="UTC",
                                                             width=width, help=help_text)
        elif shown_as.kind == readable.SIGNED:      # no format: the grid draws the Styler's text (`_styled`)
            config[column] = st.column_config.NumberColumn(shown_as.label, width=width, help=help_text)
        elif shown_as.kind == readable.TEXT:
            config[column] = st.column_config.Column(shown_as.label, width=width, help=help_text,
                                                     alignment=shown_as.align)   # type: ignore[arg-type]
        else:
            config[column] = st.column_config.NumberColumn(shown_as.label, format=shown_as.format, width=width,
                                                           help=help_text)
    # A step's parent, its error and cause as wide as their longest cell (the grid sized them by their header:
    # "BadGate…", "For_each…"), unless the page gave a width or hid the column.
    for column in shown.columns:
        name = str(column)
        if name in config and config[name] is None:
            continue
        given = _given(config, name)
        width = None if given.get("width") else readable.text_width(name, shown[column], str(
            given.get("label") or (formats[name].label if name in formats else name)))
        if width is not None:
            config[name] = {**(config[name] if isinstance(config.get(name), dict) else given), "width": width}
    order, pinned = readable.layout(list(shown.columns))
    for column in pinned:
        if column in config and config[column] is None:
            continue    # hidden by the page
        given = _given(config, column) or dict(st.column_config.Column())
        given["pinned"] = True
        given["width"] = given.get("width") or PIN_WIDTH.get(column, "medium")
        config[column] = given
    return order, config


FOCUS_STEP = "step"
"""The query parameter of a finding's evidence link naming its step (Overview's "evidence: open")."""


EVIDENCE_PAGES = {"failing_step": "failures", "retry_storm": "retries", "synchronized_retries": "retries",
                  "costly_step": "cost", "polling_loop": "cost", "express_candidate": "cost", "plan_what_if": "cost",
                  "slow_step": "latency", "latency_drift": "latency", "stuck_execution": "executions",
                  "history_limit_risk": "executions", "map_failure_budget": "failures",
                  "collection_gap": "collection_health"}
"""The page holding each finding kind's evidence."""

UNFILTERED_PAGES = frozenset({"collection_health"})
"""Pages the workflow filter does not apply to: an evidence link to one names no workflow (a collection
gap's "workflow id" is its scope, which the sidebar would read as a workflow not in the store)."""


def finding_dollars_column(**config: Any) -> Any:
    """A findings table's `monthly_usd` column: a month's cost, saving or spend, except for the kinds whose
    dollars are what an episode cost, once (`checks.Dollars.ONCE`; "$3.20 once" in the CLI and reports)."""
    from flowscope.analysis import checks

    once = ", ".join(k.replace("_", " ") for k in checks.kinds_where(dollars=checks.Dollars.ONCE))
    return st.column_config.NumberColumn("$", help=f"Dollars a month (a cost, a saving or a step's spend); for a "
                                                   f"{once}: what the episode cost, once; {BLANK}: no cost "
                                                   f"measured (the finding prices nothing)", **config)


def finding_dollars(found: pd.DataFrame) -> pd.DataFrame:
    """Findings with the dollars of those that price nothing (none, or 0: `format.fmt_monthly` reads both
    as NOT_PRICED, as the CLI and reports say them) missing, so the table draws the placeholder: a failing
    step's finding read "$0.00", as if there were nothing to lose."""
    if "monthly_usd" not in found.columns:
        return found
    priced = [fmt_monthly(v) != NOT_PRICED for v in found["monthly_usd"]]
    return found.assign(monthly_usd=pd.to_numeric(found["monthly_usd"], errors="coerce").where(priced))


def evidence_link(f: Filters, kind: str, workflow_id: Any, step: Any, sample_ids: Sequence[str] = ()) -> str:
    """A finding's "evidence: open" link: a run's page opens its first sample run (without one, the
    finding's workflow's runs); any other opens filtered to the finding's workflow (the sidebar's
    filter, which every page reads), with its step named (`FOCUS_STEP`, put first in its step tables)."""
    page_name = EVIDENCE_PAGES.get(kind, "overview")
    wid = workflow_id if isinstance(workflow_id, str) and workflow_id and page_name not in UNFILTERED_PAGES else None
    if page_name == "executions" and len(sample_ids):
        return link("executions", f, exec=sample_ids[0])
    return link(page_name, dataclasses.replace(f, workflows=(wid,)) if wid else f,
                **{FOCUS_STEP: step if isinstance(step, str) and step else None})


def focus_step() -> str | None:
    """The step a finding's evidence link asks the page to put first (None without one)."""
    return st.query_params.get(FOCUS_STEP) or None


def _focused_first(frame: pd.DataFrame) -> pd.DataFrame:
    """A table's rows of `focus_step()` first (in their order), the rest after."""
    step = focus_step()
    if not step or "step" not in frame.columns:
        return frame
    mine = frame["step"].astype(str) == step
    return pd.concat([frame[mine], frame[~mine]]) if mine.any() else frame


def table(frame: pd.DataFrame, name: str, *, column_config: dict[str, Any] | None = None,
          height: int | None = None, hide: Sequence[str] = (), key: str | None = None) -> None:
    """A dataframe made readable by its column names (readable.display_frame: numbers stay numbers, so
    headers sort by value, shown with units, money precision and integer counts; no None/nan cells;
    evidence as sentences; a signed column's no change "0 s", not "+0.000 s", drawn over its number:
    `readable.unsigned_zeros`, `_styled`), its name and money columns first, the name pinned; with a CSV
    download of its rows as raw numbers (hidden id columns included)."""
    if frame is None or frame.empty:
        st.caption("Nothing to show.")
        return
    frame = _focused_first(frame)
    step = focus_step()
    if step and "step" in frame.columns and not (frame["step"].astype(str) == step).any():
        st.caption(f"Step **{md(step)}**, which the link names, has no row in this table (in this window and "
                   "filters): the rows below are other steps.")
    shown, formats = readable.display_frame(frame.drop(columns=[c for c in hide if c in frame.columns]),
                                            column_config)
    if shown.size <= pd.get_option("styler.render.max_elements"):   # the most cells Streamlit styles (`_styled`)
        for column, shown_as in list(formats.items()):  # "B − A" of a step that took as long: "0 s", not "+0.000 s"
            formats[column] = readable.unsigned_zeros(shown[column], shown_as) or shown_as
    order, config = table_config(shown, formats, column_config)
    # A missing number stays a null (numbers sort by value); the grid would draw it as "None".
    kwargs: dict[str, Any] = {"hide_index": True, "width": "stretch", "placeholder": BLANK}
    if height:
        kwargs["height"] = height
    st.dataframe(_styled(shown[order], formats), column_config=config, **kwargs)
    # The CSV is made when the button is clicked (on its own thread), not on every page run, and the
    # click does not rerun the page.
    st.download_button(f"Download {name}.csv", lambda: csv_bytes(frame), file_name=f"flowscope-{name}.csv",
                       mime="text/csv", key=_keyed(key or f"dl-{name}"), icon=":material/download:",
                       on_click="ignore")


def _styled(frame: pd.DataFrame, formats: dict[str, readable.Shown]) -> pd.DataFrame | Styler:
    """`frame`, or, when a column of it is `readable.SIGNED`, a pandas Styler of it drawing that column's cells
    as `readable.signed_text` writes them ("0 s" where the grid's printf wrote "+0.000 s"). The grid keeps the
    frame's numbers as the cells' values, which a click on the header sorts by, and draws the Styler's text
    over them in a NumberColumn without a format (`table_config`: a format would take precedence). It draws
    the Styler's text of any other column without a format too: a text column's is its text, a missing cell
    `BLANK` as the placeholder (the number columns of Compare's table all have a format: `display_frame`)."""
    signed = {c: s.format for c, s in formats.items() if s.kind == readable.SIGNED and c in frame.columns}
    if not signed:
        return frame
    styler = frame.reset_index(drop=True).style.format(na_rep=BLANK)
    for column, template in signed.items():
        styler = styler.format(functools.partial(readable.signed_text, template=template), subset=[column])
    return styler


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The CSV a download writes: nested values as JSON, and every text cell defused, since workflow,
    step and error names come from other people's clouds and a spreadsheet would run `=...` as a formula."""
    out = frame.copy()
    for col in out.columns:
        if out[col].map(lambda v: isinstance(v, (dict, list))).any():
            import json

            out[col] = out[col].map(lambda v: json.dumps(v, default=str) if isinstance(v, (dict, list)) else v)
    return csv_safe_frame(out).to_csv(index=False).encode()


def plot(chart: Chart, key: str | None = None) -> None:
    """A chart (`charts.Chart`, a Vega-Lite spec with its rows) across the page's width. Its key travels in
    the spec's `usermeta` (Vega ignores it), where tests and the bench find a chart: Streamlit gives a chart
    without selections no element id."""
    keyed = _keyed(key)
    st.vega_lite_chart(spec={**chart, "usermeta": {"key": keyed}} if keyed else chart, key=keyed, width="stretch")


_KEY_PHASE: contextvars.ContextVar[str] = contextvars.ContextVar("flowscope_key_phase", default="")
"""A suffix for element keys when a findings part is drawn the second time in one run (first without
its findings, then with them): Streamlit refuses two elements with one key. The first drawing keeps
the usual keys, so it replaces the page's previous charts in place instead of leaving them stale."""


def _keyed(key: str | None) -> str | None:
    return None if key is None else key + _KEY_PHASE.get()


def link(page_name: str, f: Filters | None = None, **params: Any) -> str:
    """A relative URL to a page with the global filters (the window's end too, when it ends now by
    choice) and page parameters in the query string."""
    query: list[tuple[str, str]] = []
    if f is not None:
        span = next((k for k, v in filters.WINDOWS.items() if abs(v - f.days) < 1e-6), filters.DEFAULT_WINDOW)
        query.append((filters.PARAM_WINDOW, span))
        query += [(filters.PARAM_CLOUD, c) for c in f.clouds]
        query += [(filters.PARAM_WF, w) for w in f.workflows]
        if filters.ends_now():
            query.append((filters.PARAM_END, "now"))
    query += [(k, str(v)) for k, v in params.items() if v is not None and v != ""]
    # The default page lives at "/": Streamlit answers "/overview" with "Page not found".
    path = "/" if page_name == DEFAULT_PAGE else f"/{page_name}"
    return path + (f"?{urlencode(query)}" if query else "")


def keep_in_url(**params: str) -> None:
    """Write a page's own inputs to its address (an empty one leaves it), so the address names what the
    page shows and a copied link opens the same view; only when they changed (no rerun otherwise)."""
    for key, value in params.items():
        if value and st.query_params.get(key) != value:
            st.query_params[key] = value
        elif not value and key in st.query_params:
            del st.query_params[key]


def failed_scopes_banner(health: pd.DataFrame, clouds: Sequence[str] = (), *, link: bool = True) -> None:
    """Scopes whose latest collection failed: impossible to miss (not one a later sync superseded, as the
    analyses' coverage says: `tables.collection_health`'s `superseded`). With `clouds` (the sidebar's
    cloud filter) only theirs: a GCP scope's failure does not make an AWS-only view's numbers incomplete.
    `link`: end with a link to Collection health (not on that page itself, which it would reload). Every page
    of numbers shows it, as a failed collection leaves its executions out of each of them: shown on Overview
    alone, Failures read "0 failed executions" beside a scope that could not be read."""
    if health is None or health.empty:
        return
    if clouds:
        health = health[health[C.cloud].isin(list(clouds))]
    bad = health[(health[C.status].isin(["failed", "partial"]) & health["superseded"].isna())
                 | health["interrupted"].notna()]
    if bad.empty:
        return

    def why(r: Any) -> str:
        if isinstance(r.interrupted, str):
            return f"- **{md(r.scope)}** (interrupted): still recorded as running, but {md(r.interrupted)}"
        if r.status == "failed":
            return f"- {md(failed_collection_note(r.scope, r.last_sync_ended, r.error))}"
        return f"- **{md(r.scope)}** ({r.status}): {md(str(r.error or 'see details')[:200])}"

    lines = "\n".join(why(r) for r in bad.itertuples(index=False))
    st.error(f"**Collection failed for {len(bad)} scope(s).** Their executions are missing from every number "
             f"below, so *no failures* there means *unknown*, not *healthy*.\n\n{lines}", icon=":material/error:")
    if link:
        st.page_link(str(page_file("collection_health")), label="Open collection health",
                     icon=":material/monitor_heart:")


def failed_collection_note(scope: Any, ended_at: Any, error: Any) -> str:
    """`run.failed_collection_note` (what `flowscope analyze`, the notebook and the reports say) of a
    Collection health row, whose missing values are pandas' NaN/NaT. Plain text: the caller escapes it."""
    from flowscope.analysis.run import failed_collection_note as note

    missing = error is None or (not isinstance(error, str) and pd.isna(error))
    return note(str(scope), None if pd.isna(ended_at) else pd.Timestamp(ended_at).to_pydatetime(),
                None if missing else str(error))


METRICS_PER_ROW = 5
"""The most metrics side by side: six left ~150 px each at 1366 px with the sidebar open, and Collection
health's "Max lag" read "27 min…"."""


def metric_row(items: Sequence[tuple]) -> None:
    """(label, value, delta[, delta_color]) per column; delta_color 'inverse' where up is bad; a delta that
    says no change (`format.is_change`) is grey without an arrow. More than
    METRICS_PER_ROW wrap onto rows of (nearly) equal length."""
    if not items:
        return
    rows = -(-len(items) // METRICS_PER_ROW)
    per_row = -(-len(items) // max(rows, 1))
    for start in range(0, len(items), per_row):
        part = items[start:start + per_row]
        for col, item in zip(st.columns(per_row), part, strict=False):
            label, value, delta = item[:3]
            if delta is not None and not is_change(delta):     # "0", "$0": no arrow, no colour of better or worse
                col.metric(label, value, delta, delta_color="off", delta_arrow="off")
            else:
                col.metric(label, value, delta, delta_color=item[3] if len(item) > 3 else "normal")


def tile_usd(value: Any) -> str:
    """Dollars in a metric tile, as the tables beside it say them (`format.CENT`: "$0.66", where the
    general rule wrote "$0.6550" beside a table's "$0.66"): the one place the dashboard's tiles pick it."""
    return fmt_usd(value, cents=True)


def tile_usd_change(now: Any, before: Any) -> str | None:
    """A money tile's change against the previous window, at `tile_usd`'s precision."""
    return fmt_usd_change(now, before, cents=True)


def run_duration(run: dict[str, Any], until: Any) -> str:
    """A run's duration as the run page and Compare runs show it: a run still running reads "running
    5 d" (its time to when it was last collected in the window ending at `until`, `runs.seen_running`), a
    finished run without one "not recorded", never "n/a"."""
    from flowscope.analysis import runs
    from flowscope.format import fmt_duration

    as_of = runs.last_seen_running(run, until)
    if as_of is not None and pd.isna(run.get(C.duration_ms)):
        return f"running {fmt_duration(runs.since(run.get(C.started_at), as_of))}"
    return fmt_duration(run.get(C.duration_ms), missing="not recorded")


def ago(ts: Any, now: dt.datetime | None = None) -> str:
    if ts is None or pd.isna(ts):
        return "never"
    now = now or dt.datetime.now(dt.timezone.utc)
    minutes = (now - pd.Timestamp(ts).to_pydatetime()).total_seconds() / 60
    if minutes < 1:
        return "just now"
    if minutes < 120:
        return f"{minutes:.0f} min ago"
    if minutes < 48 * 60:
        return f"{minutes / 60:.0f} h ago"
    return f"{minutes / 1440:.0f} days ago"


FINDINGS_POLL_S = 0.25
"""How often a part waiting for the analyses checks on them (each check is also where a newer run of
the page, after a sidebar change, stops the wait)."""


def with_findings(f: Filters, draw: Callable[[pd.DataFrame | None], None],
                  kinds: Sequence[str] | None = None) -> None:
    """Draw the part of a page that shows findings, never making the rest of the page wait for them.

    `draw(found)` draws the part: `found` holds the findings of the filters (only `kinds`, when
    given), or is None when there are none to show yet (still running, or failed: draw the part
    without them). Analyses already done are drawn in line. Running ones: the part is drawn without
    them, with a note, in a parallel fragment that waits for them while the rest of the page draws,
    then redraws only itself. The analyses of the sidebar's other windows are queued behind them."""
    job = _findings_job(f)
    if job.done():
        _draw_findings(job, draw, kinds)
        return

    @st.fragment(parallel=True)
    def part() -> None:
        box = st.empty()
        with box.container():
            note = st.empty()
            draw(None)
        started = time.monotonic()
        while not job.done():
            note.info(f"The analyses are still running on this window ({time.monotonic() - started:.0f} s so far); "
                      "their findings appear here when they finish (nothing else on the page waits for them).",
                      icon=":material/hourglass_top:")
            wait([job.future], timeout=FINDINGS_POLL_S)
        note.empty()    # a part drawn without elements would leave the note in place
        found = _KEY_PHASE.set("-found")
        try:
            with box.container():
                _draw_findings(job, draw, kinds)
        finally:
            _KEY_PHASE.reset(found)

    part()


def _findings_job(f: Filters) -> data.FindingsJob:
    """The analyses of `f`'s window, with the sidebar's other windows queued behind them (the one way a
    page asks for them: `page(findings=True)` early, `with_findings` when it draws them)."""
    return data.findings_job(f, prefetch=filters.other_windows(f, data.summary()["first"]))


def _draw_findings(job: data.FindingsJob, draw: Callable[[pd.DataFrame | None], None],
                   kinds: Sequence[str] | None) -> None:
    frame, error = job.result()
    if error:
        st.warning(f"The analyses could not run on this window ({md(error[:300])}): no findings can be shown, "
                   "which does not mean there are none. The numbers on this page do not depend on them.")
        draw(None)
        return
    if kinds:
        frame = frame[frame["kind"].isin(list(kinds))]
    draw(frame.reset_index(drop=True))
