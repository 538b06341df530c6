"""The measures every surface shows: pure functions of a DuckDB connection and the global filters.

Step and workflow statistics, spend and its projection, failures, latency, retries, collection
health: defined once here so the dashboard, reports and the CLI show the same figure for the same
filters. Every function aggregates in DuckDB and returns a small pandas DataFrame; none loads
every row of a table. No Streamlit here: `flowscope.ui.data` wraps these with caching, and the
tests and the benchmark call them directly.

SQL templates name columns through `{placeholders}` filled from `flowscope.model.C`, so a
renamed model column fails loudly (KeyError) the first time a query is built.

Here: the names other code, the tests and the docs use from `flowscope.analysis.tables`, re-exported
(`__all__`). Each group of measures has a module of its own: tables_overview.py (overview and trend),
tables_workflows.py (a workflow and its steps), tables_executions.py (one run's rows, found by id),
tables_failures.py, tables_retries.py, tables_cost.py, tables_latency.py, tables_collection.py (collection
health), tables_store.py (the store as a whole) and tables_headlines.py (page headlines summed from their
rows), over what they share: tables_shared.py (the SQL vocabulary, `Filters`, `run`, the snapshot's own
tables, workflow names) and tables_usage.py (usage priced in the engine, `prepare`). A test that replaces a
name replaces it in the module that looks it up (`tables_executions.run` for a run's reads).
"""

from __future__ import annotations

from flowscope.analysis.tables_collection import collection_health, collection_runs, parse_json
from flowscope.analysis.tables_cost import (
    COST_DIMENSIONS,
    RetrySpend,
    cost_drivers,
    cost_over_time,
    cost_spend_drivers,
    driver_executions,
    driver_keys,
    edge_cost,
    retry_spend,
    with_executions,
)
from flowscope.analysis.tables_executions import (
    RunKey,
    execution_detail,
    find_execution,
    find_executions,
    has_executions,
)
from flowscope.analysis.tables_failures import error_totals, failing_steps, failures_over_time, top_errors
from flowscope.analysis.tables_headlines import (
    CollectionTotals,
    WorkflowTotals,
    collection_totals,
    never_synced,
    slowest_p95,
    workflow_totals,
)
from flowscope.analysis.tables_latency import execution_latency, latency_by_step, latency_over_time, slower_steps
from flowscope.analysis.tables_overview import (
    OVERVIEW_COUNTS,
    Overview,
    narrow_overview,
    overview_and_trend,
    overview_by_cloud,
)
from flowscope.analysis.tables_retries import (
    RetryTotals,
    amplification,
    lockstep_steps,
    mark_lockstep,
    retries_over_time,
    retry_bucket_seconds,
    retry_delays,
    retry_totals,
    step_retry_delays,
)
from flowscope.analysis.tables_shared import (
    COLS,
    EXEC_FAILED,
    LIVE_CLOUDS,
    LIVE_DAYS,
    LIVE_DAYS_SQL,
    PCTS,
    PCTS3,
    RUN_DAYS,
    RUN_DAYS_SQL,
    RUN_PCTS,
    RUN_PCTS3,
    STEP_FAILED,
    TERMINAL,
    TIMED_RUN_SQL,
    WORK_TYPES,
    WORKFLOW_OPTIONS_SQL,
    WORKFLOWS_SEEN,
    Filters,
    bucket_seconds,
    first_live_date,
    q,
    quantiles_sql,
    run,
    run_days,
    workflow_options,
    workflows_seen,
)
from flowscope.analysis.tables_store import _ts, first_execution, store_summary, table_names
from flowscope.analysis.tables_usage import (
    KINDS_SQL,
    PRICE_KEYS,
    PRICES_ON_DAY,
    dated_price_frame,
    prepare,
    price_frame,
    priced_usage_sql,
    usage_cost_sql,
    usage_names_missing,
    usage_sql,
)
from flowscope.analysis.tables_workflows import (
    billed_per_execution,
    edge_counts,
    step_metrics,
    workflow_definition,
    workflow_table,
    workflow_trend_seconds,
)

__all__ = [
    # tables_shared.py
    "COLS", "EXEC_FAILED", "LIVE_CLOUDS", "LIVE_DAYS", "LIVE_DAYS_SQL", "PCTS", "PCTS3", "RUN_DAYS", "RUN_DAYS_SQL",
    "RUN_PCTS", "RUN_PCTS3", "STEP_FAILED", "TERMINAL", "TIMED_RUN_SQL", "WORK_TYPES", "WORKFLOW_OPTIONS_SQL",
    "WORKFLOWS_SEEN", "Filters", "bucket_seconds", "first_live_date", "q", "quantiles_sql", "run", "run_days",
    "workflow_options", "workflows_seen",
    # tables_usage.py
    "KINDS_SQL", "PRICE_KEYS", "PRICES_ON_DAY", "dated_price_frame", "prepare", "price_frame", "priced_usage_sql",
    "usage_cost_sql", "usage_names_missing", "usage_sql",
    # tables_store.py
    "_ts", "first_execution", "store_summary", "table_names",
    # tables_overview.py
    "OVERVIEW_COUNTS", "Overview", "narrow_overview", "overview_and_trend", "overview_by_cloud",
    # tables_collection.py
    "collection_health", "collection_runs", "parse_json",
    # tables_workflows.py
    "billed_per_execution", "edge_counts", "step_metrics", "workflow_definition", "workflow_table",
    "workflow_trend_seconds",
    # tables_executions.py
    "RunKey", "execution_detail", "find_execution", "find_executions", "has_executions",
    # tables_failures.py
    "error_totals", "failing_steps", "failures_over_time", "top_errors",
    # tables_retries.py
    "RetryTotals", "amplification", "lockstep_steps", "mark_lockstep", "retries_over_time", "retry_bucket_seconds",
    "retry_delays", "retry_totals", "step_retry_delays",
    # tables_cost.py
    "COST_DIMENSIONS", "RetrySpend", "cost_drivers", "cost_over_time", "cost_spend_drivers", "driver_executions",
    "driver_keys", "edge_cost", "retry_spend", "with_executions",
    # tables_latency.py
    "execution_latency", "latency_by_step", "latency_over_time", "slower_steps",
    # tables_headlines.py
    "CollectionTotals", "WorkflowTotals", "collection_totals", "never_synced", "slowest_p95", "workflow_totals",
]
