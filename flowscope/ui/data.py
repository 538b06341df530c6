"""The dashboard's one data module: the store, its snapshot connection and every query, cached.

- `st.cache_resource` holds the `Store` per path and one DuckDB connection per store version
  (each query runs on its own cursor of it, so concurrent sessions never share a cursor).
- `st.cache_data(ttl=...)` holds query results keyed by store path, store version and filters:
  a sync that commits a new version is picked up within `VERSION_TTL_S` seconds; results of an
  unchanged version live for `RESULT_TTL_S`.
All aggregation happens in DuckDB (`flowscope.analysis.tables`); only small frames reach Streamlit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import CancelledError, Future
from typing import Any

import pandas as pd
import streamlit as st

from flowscope.analysis import measures, runs
from flowscope.analysis import tables as q
from flowscope.analysis.tables import Filters
from flowscope.ui import readable
from flowscope.ui.jobs import PREFETCH, URGENT, Jobs, Preempted, current_priority

VERSION_TTL_S = 10
RESULT_TTL_S = 600


class StoreUnavailable(RuntimeError):
    """The store cannot be opened or read (path, permissions, a broken table)."""


def store_path() -> str:
    """FLOWSCOPE_STORE, else the settings (flowscope.toml), else ~/.flowscope."""
    env = os.environ.get("FLOWSCOPE_STORE")
    if env:
        return env
    from flowscope.settings import load_settings

    return load_settings().store_path


def config_problem() -> str | None:
    """Why the config file (FLOWSCOPE_CONFIG or ./flowscope.toml) cannot be used, naming the file and the
    line as the commands do; None when it can. Under `streamlit run app.py` nothing checked it before:
    a syntax error read "the store is being updated, reload in a few seconds" for ever, and bad
    [thresholds] were replaced by the defaults without a word (`flowscope dashboard` refuses both)."""
    from flowscope.analysis.base import Thresholds
    from flowscope.settings import ConfigError, in_config_file, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        return str(exc)
    try:
        Thresholds.from_mapping(settings.thresholds)
    except (TypeError, ValueError) as exc:
        return in_config_file(str(exc), settings.config_path)
    return None


@st.cache_resource(show_spinner=False)
def _store(path: str) -> Any:
    """The store, opened as a reader: a path that holds none raises NotAStoreError (never created)."""
    from flowscope.store import Store

    return Store.open(path)


@st.cache_data(ttl=VERSION_TTL_S, show_spinner=False)
def _version(path: str) -> str:
    return str(_store(path).snapshot_key())


def duckdb_memory() -> str:
    """DuckDB's memory limit for the dashboard's connection (it spills to disk past it): keeps the
    dashboard process within its 2 GB budget on large stores. Read when a connection opens, not at
    import (`flowscope dashboard` checks the variable's form before the server starts)."""
    return os.environ.get("FLOWSCOPE_UI_DUCKDB_MEMORY", "1GB")


@st.cache_resource(max_entries=2, show_spinner=False)
def _connection(path: str, version: str) -> Any:
    con = _store(path).connect()
    con.execute(f"SET memory_limit = '{duckdb_memory()}'")
    return con


def version() -> str:
    """The store's current snapshot version (a cache key); raises StoreUnavailable."""
    from flowscope.store import NotAStoreError

    path = store_path()
    try:
        return _version(path)
    except NotAStoreError as exc:     # its message names the path and how a store is made
        raise StoreUnavailable(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - any failure to open becomes a readable state
        raise StoreUnavailable(f"cannot open the store at {path}: {exc}") from exc


QUERY_MODULES = {"tables": q, "runs": runs}
"""The analysis modules whose queries pages read through `call` (the dashboard's measures, the
run page's search and comparison)."""


@st.cache_data(ttl=RESULT_TTL_S, max_entries=512, show_spinner=False)
def _cached(path: str, snapshot: str, module: str, name: str, args: tuple, kwargs: tuple) -> Any:
    cursor = q.prepare(_connection(path, snapshot).cursor())
    try:
        result = getattr(QUERY_MODULES[module], name)(cursor, *args, **dict(kwargs))
        if name in UNNAMED_QUERIES:
            return result
        return _named(result, _labels(path, snapshot))
    finally:
        cursor.close()


@st.cache_resource(max_entries=2, show_spinner=False)
def _labels(path: str, snapshot: str) -> dict[readable.WorkflowKey, str]:
    """`readable.workflow_labels` of the snapshot's workflows, made once per snapshot: every query a page reads
    names its workflows by them, and each made them again from the workflow list (~4 ms a query)."""
    cursor = q.prepare(_connection(path, snapshot).cursor())
    try:
        return readable.workflow_labels(q.workflow_options(cursor))
    finally:
        cursor.close()


UNNAMED_QUERIES = frozenset({"workflow_options", "store_summary", "has_executions", "find_execution",
                             "find_executions"})
"""Queries whose results name no workflow (`_named` would read the workflow list for nothing)."""


def _named(result: Any, labels: dict[readable.WorkflowKey, str]) -> Any:
    """A query's result with the `workflow` names of workflows that share their name with another told
    apart (`readable.workflow_labels`): frames, and frames inside a tuple or a dict."""
    if not labels:
        return result
    if isinstance(result, pd.DataFrame):
        return readable.with_workflow_labels(result, labels)
    if isinstance(result, tuple):
        return tuple(_named(item, labels) for item in result)
    if isinstance(result, dict):
        return {key: _named(value, labels) for key, value in result.items()}
    return result


@st.cache_data(ttl=VERSION_TTL_S, show_spinner=False)
def _thresholds() -> dict[str, Any]:
    """The [thresholds] of flowscope.toml ({} when the config cannot be read)."""
    from flowscope.settings import load_settings

    try:
        return dict(load_settings().thresholds or {})
    except Exception:  # noqa: BLE001 - a broken config must not hide the dashboard
        return {}


def thresholds() -> Any:
    """The analyses' `Thresholds` (flowscope.toml's, else the defaults): the pages use the same knobs."""
    from flowscope.analysis.base import Thresholds

    try:
        return Thresholds.from_mapping(_thresholds())
    except (TypeError, ValueError):
        return Thresholds()


def month_days() -> float:
    """Days in a projected month: the analyses' `monthly_days` setting, so pages and findings project alike."""
    return float(thresholds().monthly_days)


def configured(f: Filters) -> Filters:
    """The filters with the configured days per month (the one projection rule)."""
    days = month_days()
    return f if f.month_days == days else dataclasses.replace(f, month_days=days)


def monthly_factor(f: Filters) -> float:
    """Spend over the window x this = projected monthly spend (measures.monthly_factor)."""
    return configured(f).monthly_factor


def call(name: str, *args: Any, **kwargs: Any) -> Any:
    """Run `tables.<name>(cursor, *args, **kwargs)` through the cache (see `call_in`)."""
    return call_in("tables", name, *args, **kwargs)


def call_in(module: str, name: str, *args: Any, **kwargs: Any) -> Any:
    """Run `<module>.<name>(cursor, *args, **kwargs)` of `QUERY_MODULES` through the cache; raises
    StoreUnavailable. Filters arguments get the configured days per month."""
    _activity.touch()
    key = _call_key(module, name, args, kwargs)
    try:
        result = _cached(*key)
    except StoreUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001
        if not _is_missing_file(exc):
            _raise_if_damaged(exc)
            raise
        # A compaction removed files of an older snapshot under us: take the new one once.
        _version.clear()
        key = _call_key(module, name, args, kwargs)
        try:
            result = _cached(*key)
        except Exception as again:  # noqa: BLE001
            _raise_if_damaged(again)
            raise
    _read.note(key)
    return result


def _raise_if_damaged(exc: Exception) -> None:
    """A damaged store (a file of its snapshot gone or cut short, in the newest snapshot too) raised as
    StoreUnavailable, which pages say as such: taken for a passing failure it read "the store is being
    updated, reload in a few seconds" for ever. A store open finds a file gone or cut short, but not one damaged
    inside with its size kept (`reader.same_columns` reads a file's footer once while its size and time hold), so
    such a file fails the query that reads it: the store is asked which file that is (`Store.damaged_error`)."""
    from flowscope.store import StoreDamagedError

    if isinstance(exc, StoreDamagedError):
        raise StoreUnavailable(str(exc)) from exc
    damaged = _store(store_path()).damaged_error(exc)
    if damaged is not None:
        raise StoreUnavailable(str(damaged)) from exc


def _call_key(module: str, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """`_cached`'s arguments for a call: the store and its snapshot, the query, its arguments (Filters
    with the configured days per month)."""
    args = tuple(configured(a) if isinstance(a, Filters) else a for a in args)
    return (store_path(), version(), module, name, args, tuple(sorted(kwargs.items())))


class _Reads:
    """Which `call_in` results were read lately (so are in the cache): Streamlit's cache cannot be asked
    without computing. Kept no longer than the cache keeps a result, and bounded like it."""

    def __init__(self, ttl_s: float, size: int) -> None:
        self._at: dict[tuple[Any, ...], float] = {}
        self._ttl_s, self._size = ttl_s, size
        self._lock = threading.Lock()

    def note(self, key: tuple[Any, ...]) -> None:
        if not _hashable(key):          # a list argument (Streamlit's cache hashes it its own way)
            return
        with self._lock:
            self._at.pop(key, None)
            self._at[key] = time.monotonic()
            while len(self._at) > self._size:
                del self._at[next(iter(self._at))]      # the oldest

    def fresh(self, key: tuple[Any, ...]) -> bool:
        if not _hashable(key):
            return False
        with self._lock:
            at = self._at.get(key)
        return at is not None and time.monotonic() - at < self._ttl_s


def _hashable(key: tuple[Any, ...]) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


_read = _Reads(RESULT_TTL_S, 512)


def read_already(name: str, *args: Any, **kwargs: Any) -> bool:
    """Whether `call(name, *args, **kwargs)` was read lately on the current snapshot (its result cached)."""
    return _read.fresh(_call_key("tables", name, args, kwargs))


def _is_missing_file(exc: Exception) -> bool:
    text = str(exc).lower()
    return "no files found" in text or "no such file" in text or "cannot open file" in text


# ---------------------------------------------------------------- named queries

def summary() -> dict[str, Any]:
    return call("store_summary")


def workflow_options() -> pd.DataFrame:
    return call("workflow_options")


def overview(f: Filters) -> pd.DataFrame:
    return call("overview_by_cloud", f)


def overview_and_trend(f: Filters, with_previous: bool) -> q.Overview:
    """Overview's table (and the previous window's) and its trend, read together (`tables.overview_and_trend`).
    With clouds chosen (and no workflow) and the window's result for every cloud already read, they are
    that result narrowed (`tables.narrow_overview`, equal to the bit): a change of clouds reads nothing
    (Overview's charts after a change to one cloud on the 1M bench store: 0.82 to 0.64 s). Only then:
    reading every cloud of a window not yet read costs more than reading the clouds asked for (a change
    of window with one cloud chosen took 0.8-1.6 s instead of 0.7-0.8 s)."""
    every = dataclasses.replace(f, clouds=())
    if f.clouds and not f.workflows and read_already("overview_and_trend", every, with_previous=with_previous):
        return q.narrow_overview(call("overview_and_trend", every, with_previous=with_previous), configured(f))
    return call("overview_and_trend", f, with_previous=with_previous)


def collection_health() -> pd.DataFrame:
    return call("collection_health")


COLLECTION_RUNS = 2000
"""How many collection runs, newest first, Collection health's chart draws (it says when it is cut there)."""


def collection_runs() -> pd.DataFrame:
    return call("collection_runs", COLLECTION_RUNS)


def workflow_table(f: Filters) -> pd.DataFrame:
    return call("workflow_table", f)


def workflow_definition(cloud: str, workflow_id: str) -> dict[str, Any] | None:
    return call("workflow_definition", cloud, workflow_id)


def step_metrics(f: Filters, cloud: str, workflow_id: str) -> pd.DataFrame:
    return call("step_metrics", f, cloud, workflow_id)


def edge_counts(f: Filters, cloud: str, workflow_id: str) -> pd.DataFrame:
    return call("edge_counts", f, cloud, workflow_id)


def has_executions(f: Filters) -> bool:
    return call("has_executions", f)


def execution_detail(cloud: str, execution_id: str, day: dt.date | None = None) -> dict[str, pd.DataFrame] | None:
    """A run's frames (`tables.execution_detail`); `day`, its start date if the page knows it, is part of the
    cache's key but never changes the result."""
    return call("execution_detail", cloud, execution_id, day)


def find_execution(execution_id: str, day: dt.date | None = None) -> q.RunKey | None:
    return call("find_execution", execution_id, day)


def find_executions(ids: tuple[str, ...], days: tuple[dt.date | None, ...]) -> dict[str, q.RunKey | None]:
    """Several runs by their exact ids in one read (`tables.find_executions`): a page's runs named by a link."""
    return call("find_executions", ids, days)


def failures_over_time(f: Filters) -> pd.DataFrame:
    return call("failures_over_time", f)


def top_errors(f: Filters) -> pd.DataFrame:
    return call("top_errors", f)


def error_totals(f: Filters) -> dict[str, int]:
    return call("error_totals", f)


FAILING_STEPS = 2000
"""How many failing steps (most failures first) the Failures page reads: the query's default of 50 cut a
large estate's in silence."""


def failing_steps(f: Filters) -> pd.DataFrame:
    """Failing steps, the `FAILING_STEPS` with the most failed visits (the page says when it is cut there)."""
    return call("failing_steps", f, FAILING_STEPS)


def retries_over_time(f: Filters) -> pd.DataFrame:
    return call("retries_over_time", f)


RETRY_ROWS = 2000
"""How many rows (steps, and steps by retry number) the Retries page reads: the queries' default of 50
cut a large estate's in silence, and "Steps retrying in lockstep" counted only among the 50 with the most
retries."""


def amplification(f: Filters) -> pd.DataFrame:
    """Retries per step, the `RETRY_ROWS` steps with the most (the page says when it is cut there)."""
    return call("amplification", f, RETRY_ROWS)


def retry_delays(f: Filters) -> pd.DataFrame:
    """Retry delays per step, with `lockstep` ticked by the synchronized-retries thresholds (the
    `RETRY_ROWS` most sampled: the page says when it is cut there)."""
    return q.mark_lockstep(call("retry_delays", f, RETRY_ROWS), thresholds())


def step_retry_delays(f: Filters, cloud: str, workflow_id: str, step: str, retry: int | None = None) -> pd.DataFrame:
    return call("step_retry_delays", f, cloud, workflow_id, step, retry)


def cost_over_time(f: Filters, by: str) -> pd.DataFrame:
    """Cost per bucket and series (`key`): a workflow's or a step's series named by the workflow's told-apart
    name (`_named`), so two workflows sharing a name are two series, not one zigzag."""
    frame: pd.DataFrame = call("cost_over_time", f, by)
    if "workflow" not in frame.columns or frame.empty:
        return frame
    named = frame["workflow"] if by == "workflow" else frame["workflow"] + " / " + frame["step"]
    return frame.assign(key=named.where(frame["workflow"].notna(), frame["key"]))


COST_DRIVERS = 25
"""How many (workflow, step, meter) rows, dearest first, the Cost page's drivers read (the page says when it
is cut there, and what share of the spend it shows)."""


def cost_drivers(f: Filters) -> pd.DataFrame:
    """The top cost drivers' spend (`tables.cost_spend_drivers`, the `COST_DRIVERS` dearest): what the Cost
    page's charts need."""
    return call("cost_spend_drivers", f, COST_DRIVERS)


def cost_driver_table(f: Filters) -> pd.DataFrame:
    """The top cost drivers with their executions (`tables.cost_drivers`' figures), counted after the
    page's charts are drawn: the count is the dearest part of the page's read."""
    from flowscope.analysis.tables import driver_keys, with_executions

    drivers = cost_drivers(f)
    return with_executions(drivers, call("driver_executions", f, driver_keys(drivers)))


EDGE_ROWS = 25
"""How many transitions, dearest first, the Cost page's "By transition" reads (it says when it is cut there)."""


def edge_cost(f: Filters) -> pd.DataFrame:
    return call("edge_cost", f, EDGE_ROWS)


LATENCY_STEPS = 2000
"""How many steps (the most visited) the Latency page measures: the query's default of 200 cut a large
estate's steps in silence, so "Steps measured" read 200 and a drifting step past them was not counted."""


def latency_by_step(f: Filters, *, compare: bool) -> pd.DataFrame:
    """Per step latency and drift, the `LATENCY_STEPS` most visited (the page says when it is cut there)."""
    return call("latency_by_step", f, LATENCY_STEPS, compare=compare)


def latency_over_time(f: Filters, steps: tuple[tuple[str, str, str], ...]) -> pd.DataFrame:
    return call("latency_over_time", f, list(steps))


def execution_latency(f: Filters) -> pd.DataFrame:
    return call("execution_latency", f)


def child_runs(cloud: str, execution_id: str, since: dt.date | None = None) -> pd.DataFrame:
    """A run's child executions (a Distributed Map's items) per child workflow (analysis/runs.py), cached;
    `since`: the run's start date, which bounds the read."""
    result: pd.DataFrame = call_in("runs", "child_runs", cloud, execution_id, since)
    return result


def search_executions(f: Filters, **kwargs: Any) -> tuple[pd.DataFrame, int]:
    """One page of the executions search and the number of matches (analysis/runs.py), cached."""
    result: tuple[pd.DataFrame, int] = call_in("runs", "search_executions", f, **kwargs)
    return result


ANY_TIME = Filters(dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2200, 1, 1, tzinfo=dt.timezone.utc))
"""Every run of the store, whatever its start, cloud or workflow (`runs_with_id_in_store`)."""


def runs_with_id_in_store(text: str) -> int:
    """How many runs of the whole store (any time, cloud or workflow) have an id containing `text`: when
    none, no window or filter finds one, and the Executions page says so instead of advising a wider window."""
    return search_executions(ANY_TIME, execution_id=text, page=0, page_size=1)[1]


# ---------------------------------------------------------------- findings (the analyses)
#
# The analyses run once per (store version, window) over every cloud and workflow, in one
# background thread shared by every session (flowscope.ui.jobs); a page takes its clouds and
# workflows out of the window's findings with the engine's own rule (analysis.suite.select_findings)
# and never waits for them: components.with_findings draws the rest of the page first.


@dataclasses.dataclass(frozen=True)
class FindingsJob:
    """The analyses of one window, for one page's filters: done or still running."""

    future: Future[tuple[pd.DataFrame, str | None]]
    filters: Filters

    def done(self) -> bool:
        return self.future.done()

    def result(self, timeout: float | None = None) -> tuple[pd.DataFrame, str | None]:
        """The findings of the filters' clouds and workflows and, when the analyses failed, why
        (an empty frame then). Raises TimeoutError while they are still running."""
        from flowscope.analysis.suite import select_findings

        try:
            frame, error = self.future.result(timeout)
        except CancelledError:   # a newer store version was asked for before these ran
            return pd.DataFrame(), "the store was updated while they waited their turn: reload the page"
        if error:
            return frame, error
        found = select_findings(frame, clouds=self.filters.clouds, workflow_ids=self.filters.workflows)
        if {"kind", "monthly_usd"} <= set(found.columns):     # a finding that prices nothing reads no dollars
            found = found.assign(monthly_usd=found["monthly_usd"].where(found["kind"].isin(measures.PRICED_KINDS)))
        return readable.with_workflow_labels(found, _labels(store_path(), version())), None


class _Activity:
    """When a page last asked for data: the analyses computed ahead of time wait for a quiet moment,
    unless their worker runs under SCHED_IDLE (`_may_work_ahead`)."""

    def __init__(self) -> None:
        self.last = 0.0

    def touch(self) -> None:
        self.last = time.monotonic()

    def quiet(self) -> bool:
        return time.monotonic() - self.last >= QUIET_S


_activity = _Activity()
QUIET_S = 1.0
"""Seconds without a page query before the analyses of other windows may start, where their worker
cannot run under SCHED_IDLE (nice 10 alone still takes about a tenth of the cores from a page)."""


def _may_work_ahead(analyses: Any) -> bool:
    """Whether the analyses of other windows may start now: at once when their worker runs under
    SCHED_IDLE (it only takes CPU the pages leave idle), else after QUIET_S without a page query.

    Waiting for a quiet moment under SCHED_IDLE cost the window change it prepares for: the bench's
    change to 30 days comes right after a cloud change, so the 30-day analyses never started ahead of
    it. Not waiting (1M store, Overview, 7 alternated rounds): findings after the change to 30 days
    3.20 s to 2.39 s median; the cloud change's charts meanwhile 0.77 s to 0.80 s."""
    return analyses.runs_idle() or _activity.quiet()


@st.cache_resource(show_spinner=False)
def _analyses() -> Any:
    """The process the analyses run in (`ui.analyses_process`): the one started with the server, else
    started on first use; killed at exit (by `_jobs`' exit hook)."""
    from flowscope.ui.analyses_process import AnalysesProcess

    return AnalysesProcess()


@st.cache_resource(show_spinner=False)
def _jobs() -> Jobs:
    import atexit

    # An urgent window interrupts a window computed ahead of time (issue 11): the page's window waited
    # up to 2.8 s for it on a 1M store.
    analyses = _analyses()
    jobs = Jobs(keep=24, name="flowscope-analyses", quiet=functools.partial(_may_work_ahead, analyses),
                preempt=analyses.preempt, pause=analyses.pause, resume=analyses.resume)
    # At exit (server stopped, tests done) cancel what waits and end the running job: its thread waits
    # on the analyses process, which is killed.
    atexit.register(jobs.close, 10.0, analyses.close)
    return jobs


@contextlib.contextmanager
def page_running(first: bool) -> Iterator[None]:
    """Around a page's run (`app_main.main`): the analyses stop while it runs (`Jobs.holding`), all of
    them after a change, those computed ahead of time only on a session's `first` run (its findings run
    beside it, or they would wait for its whole first draw). So a page never waits for findings inside its
    run: `components.with_findings` waits in a parallel fragment, which goes on after the run."""
    with _jobs().holding(PREFETCH if first else URGENT):
        yield


def _compute_findings(path: str, since: dt.datetime, until: dt.datetime,
                      thresholds: Mapping[str, Any]) -> tuple[pd.DataFrame, str | None]:
    """Every analysis over the window, all clouds and workflows, in the analyses process (an error
    message, not a raise: the pages still show their numbers). A window computed ahead of time (it
    started as PREFETCH) may be interrupted: `Preempted` is raised, not a failure to show or keep."""
    priority = current_priority()
    try:
        return _analyses().findings(path, since, until, thresholds,
                                    preemptible=priority is not None and priority > URGENT), None
    except Preempted:
        raise
    except Exception as exc:  # noqa: BLE001 - the pages still show the raw numbers
        return pd.DataFrame(), f"{type(exc).__name__}: {exc}"


def findings_job(f: Filters, prefetch: Sequence[tuple[dt.datetime, dt.datetime]] = (),
                 priority: int = URGENT) -> FindingsJob:
    """The analyses of `f`'s window (started now, first in line, unless already done or running),
    and the windows in `prefetch` queued behind them so a change of window finds them ready.
    `priority` LIKELY: `f` is a guess made before any page asked (`launch.warm_store`)."""
    path, snapshot = store_path(), version()
    thresholds = _thresholds()
    group = (path, snapshot, json.dumps(thresholds, sort_keys=True, default=str))
    jobs = _jobs()

    def submit(since: dt.datetime, until: dt.datetime, priority: int) -> Future[Any]:
        return jobs.submit((group, since, until), functools.partial(_compute_findings, path, since, until, thresholds),
                           priority=priority, group=group)

    future = submit(f.since, f.until, priority)
    for since, until in prefetch:
        submit(since, until, PREFETCH)
    return FindingsJob(future, f)
