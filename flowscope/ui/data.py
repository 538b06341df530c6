"""The dashboard's one data module: the store, its snapshot connection and every query, cached.

- `st.cache_resource` holds the `Store` per path and one DuckDB connection per store version
  (each query runs on its own cursor of it, so concurrent sessions never share a cursor).
- `st.cache_data(ttl=...)` holds query results keyed by store path, store version and filters:
  a sync that commits a new version is picked up within `VERSION_TTL_S` seconds; results of an
  unchanged version live for `RESULT_TTL_S`.
All aggregation happens in DuckDB (`flowscope.analysis.tables`); only small frames reach Streamlit.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from typing import Any

import pandas as pd
import streamlit as st

from flowscope.analysis import runs
from flowscope.analysis import tables as q
from flowscope.analysis.tables import Filters
from flowscope.model import TABLES

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


@st.cache_resource(show_spinner=False)
def _store(path: str) -> Any:
    """The store, opened as a reader: a path that holds none raises NotAStoreError (never created)."""
    from flowscope.store import Store

    return Store.open(path)


@st.cache_data(ttl=VERSION_TTL_S, show_spinner=False)
def _version(path: str) -> str:
    return json.dumps(_store(path).version(), sort_keys=True)


DUCKDB_MEMORY = os.environ.get("FLOWSCOPE_UI_DUCKDB_MEMORY", "1GB")
"""DuckDB's memory limit for the dashboard's connection (it spills to disk past it): keeps the
dashboard process within its 2 GB budget on large stores."""


@st.cache_resource(max_entries=2, show_spinner=False)
def _connection(path: str, version: str) -> Any:
    con = _store(path).connect()
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
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
        return getattr(QUERY_MODULES[module], name)(cursor, *args, **dict(kwargs))
    finally:
        cursor.close()


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
    args = tuple(configured(a) if isinstance(a, Filters) else a for a in args)
    path = store_path()
    snapshot = version()
    try:
        return _cached(path, snapshot, module, name, args, tuple(sorted(kwargs.items())))
    except StoreUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001
        if _is_missing_file(exc):
            # A compaction removed files of an older snapshot under us: take the new one once.
            _version.clear()
            snapshot = version()
            return _cached(path, snapshot, module, name, args, tuple(sorted(kwargs.items())))
        raise


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


def trend(f: Filters) -> pd.DataFrame:
    return call("trend", f)


def collection_health() -> pd.DataFrame:
    return call("collection_health")


def collection_runs() -> pd.DataFrame:
    return call("collection_runs")


def workflow_table(f: Filters) -> pd.DataFrame:
    return call("workflow_table", f)


def workflow_definition(cloud: str, workflow_id: str) -> dict[str, Any] | None:
    return call("workflow_definition", cloud, workflow_id)


def step_metrics(f: Filters, cloud: str, workflow_id: str) -> pd.DataFrame:
    return call("step_metrics", f, cloud, workflow_id)


def edge_counts(f: Filters, cloud: str, workflow_id: str) -> pd.DataFrame:
    return call("edge_counts", f, cloud, workflow_id)


def execution_count(f: Filters) -> int:
    return call("execution_count", f)


def execution_detail(cloud: str, execution_id: str) -> dict[str, pd.DataFrame] | None:
    return call("execution_detail", cloud, execution_id)


def find_execution(execution_id: str) -> tuple[str, str] | None:
    return call("find_execution", execution_id)


def failures_over_time(f: Filters) -> pd.DataFrame:
    return call("failures_over_time", f)


def top_errors(f: Filters) -> pd.DataFrame:
    return call("top_errors", f)


def failing_steps(f: Filters) -> pd.DataFrame:
    return call("failing_steps", f)


def retries_over_time(f: Filters) -> pd.DataFrame:
    return call("retries_over_time", f)


def amplification(f: Filters) -> pd.DataFrame:
    return call("amplification", f)


def retry_delays(f: Filters) -> pd.DataFrame:
    """Retry delays per step, with `lockstep` ticked by the synchronized-retries thresholds."""
    return q.mark_lockstep(call("retry_delays", f), thresholds())


def step_retry_delays(f: Filters, cloud: str, workflow_id: str, step: str) -> pd.DataFrame:
    return call("step_retry_delays", f, cloud, workflow_id, step)


def cost_over_time(f: Filters, by: str) -> pd.DataFrame:
    return call("cost_over_time", f, by)


def cost_drivers(f: Filters) -> pd.DataFrame:
    return call("cost_drivers", f)


def edge_cost(f: Filters) -> pd.DataFrame:
    return call("edge_cost", f)


def latency_by_step(f: Filters) -> pd.DataFrame:
    return call("latency_by_step", f)


def latency_over_time(f: Filters, steps: tuple[tuple[str, str, str], ...]) -> pd.DataFrame:
    return call("latency_over_time", f, list(steps))


def execution_latency(f: Filters) -> pd.DataFrame:
    return call("execution_latency", f)


def search_executions(f: Filters, **kwargs: Any) -> tuple[pd.DataFrame, int]:
    """One page of the executions search and the number of matches (analysis/runs.py), cached."""
    result: tuple[pd.DataFrame, int] = call_in("runs", "search_executions", f, **kwargs)
    return result


# ---------------------------------------------------------------- findings (the analyses)
#
# The analyses can take longer than a page may (seconds to minutes on a large store), so they
# run in a background thread shared by every session; a page waits at most ANALYSES_WAIT_S for
# them and otherwise shows the raw numbers with a note, and polls until the findings are ready.

ANALYSES_WAIT_S = float(os.environ.get("FLOWSCOPE_UI_ANALYSES_WAIT", "1.5"))
ANALYSES_WINDOW_S = 15 * 60
"""Findings are computed for windows ending on a 15-minute boundary, so they are reused for
15 minutes instead of being recomputed every minute as the window slides."""


def analysis_filters(f: Filters) -> Filters:
    import datetime as dt
    import math

    step = ANALYSES_WINDOW_S
    until = dt.datetime.fromtimestamp(math.ceil(f.until.timestamp() / step) * step, tz=f.until.tzinfo)
    return dataclasses.replace(f, since=f.since + (until - f.until), until=until)


def _compute_findings(path: str, f: Filters) -> tuple[pd.DataFrame, str | None]:
    try:
        from flowscope.analysis import analyze

        thresholds = _thresholds() or None
        store = _store(path)
        tables = {name: store.table(name) for name in TABLES}
        frame = analyze(tables, since=f.since, until=f.until, clouds=list(f.clouds) or None,
                        workflows=list(f.workflows) or None, thresholds=thresholds)
        return frame, None
    except Exception as exc:  # noqa: BLE001 - the pages still show the raw numbers
        return pd.DataFrame(), f"{type(exc).__name__}: {exc}"


@st.cache_resource(show_spinner=False)
def _jobs() -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    return {"lock": threading.Lock(), "futures": {}, "pool": ThreadPoolExecutor(1, "flowscope-analyses")}


def findings(f: Filters, wait_s: float | None = None) -> tuple[pd.DataFrame | None, str | None]:
    """Findings of every analysis over the filters (None while they are still running), and an
    error message if they could not run."""
    import concurrent.futures

    if os.environ.get("FLOWSCOPE_UI_ANALYSES", "on").lower() in ("off", "0", "false", "no"):
        return None, None          # benchmarks time the pages alone
    path, snapshot, af = store_path(), version(), analysis_filters(f)
    jobs = _jobs()
    key = (path, snapshot, af)
    with jobs["lock"]:
        future = jobs["futures"].get(key)
        if future is None:
            future = jobs["pool"].submit(_compute_findings, path, af)
            jobs["futures"][key] = future
            while len(jobs["futures"]) > 24:
                oldest = next(iter(jobs["futures"]))
                jobs["futures"].pop(oldest).cancel()
    try:
        return future.result(timeout=ANALYSES_WAIT_S if wait_s is None else wait_s)
    except concurrent.futures.TimeoutError:
        return None, None
    except concurrent.futures.CancelledError:
        return None, None
