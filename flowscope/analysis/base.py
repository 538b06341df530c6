"""What every analysis shares: findings, severities, thresholds, the analysis context and helpers.

An analysis is a pure function ``run(ctx: Context) -> list[Finding]``. It builds Ibis
expressions over ``ctx``'s tables (already filtered to the clouds and workflows asked for),
lets the engine aggregate, and brings only small aggregated results to pandas.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import difflib
import functools
import hashlib
import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from flowscope.analysis import lanes, measures
from flowscope.analysis.checks import CHECKS, FindingKind
from flowscope.model import TABLES, UTC, C, StepType, empty
from flowscope.textsafety import ESCAPE_SEQUENCES
from flowscope.timewindow import EARLIEST, LATEST

if TYPE_CHECKING:
    from flowscope.store.reader import ColumnFacts

# ---------------------------------------------------------------- kinds and severities


# Kinds that describe an episode (a storm, a slowdown): their id includes the episode's start
# bucket, so two storms on the same step are two findings. Every other kind describes a standing
# condition of a workflow or step and keeps one id across runs and windows. (`checks.Check.episodic`)
EPISODIC_KINDS = frozenset(k for k, c in CHECKS.items() if c.episodic)


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3, Severity.INFO: 4}

FAILED_VALUES = list(measures.STEP_FAILED)             # one definition: analysis/measures.py
UNCAUGHT_FAILED_VALUES = list(measures.STEP_UNCAUGHT)
TERMINAL_VALUES = list(measures.TERMINAL)
CONTAINER_TYPES = [str(t) for t in (StepType.MAP, StepType.PARALLEL, StepType.LOOP, StepType.SCOPE)]
EXECUTION_STEP = "(per execution)"
"""The step of usage that belongs to a whole execution (Express requests and GB-seconds, a run's own
fee), in findings, the dashboard's tables and the run page alike."""
NOT_WORK = frozenset([*CONTAINER_TYPES, str(StepType.FAIL)])
"""Types whose visits do no work of their own: containers (their children do it) and Fail states. A
failing step is one of the others (the failing_step finding, the Failures page's table)."""
LOOP_TYPES = frozenset(str(t) for t in (StepType.MAP, StepType.LOOP))
"""Containers whose children run once per item: a step under one (at any depth) is in a loop. A Parallel's
branches and a Scope or try also give their children a parent (and a Parallel an `iteration`, its branch),
but run them once."""

THROTTLING_PATTERN = re.compile(
    r"throttl|toomanyrequests|too many requests|\b429\b|rate ?exceeded|ratelimit|rate limit|"
    r"resource_exhausted|quota",
    re.IGNORECASE,
)


def is_throttling(text: str | None) -> bool:
    return bool(text and THROTTLING_PATTERN.search(text))


# ---------------------------------------------------------------- thresholds


SHARE_THRESHOLDS = frozenset({"failure_rate", "costly_step_share", "retry_share_title_min", "slow_step_min_share",
                              "plan_what_if_margin", "history_limit_ratio", "map_failure_budget_ratio"})
"""Thresholds that are a share of one: `failure_rate = 5` (meant as 5%) is a rate no step can reach, so
its findings silently never came."""


@dataclass(frozen=True)
class Thresholds:
    """Every knob of every analysis, with its default. Set them in flowscope.toml's [thresholds]."""

    # failing_step
    failure_rate: float = 0.05              # failures / visits in the window
    failure_min_count: int = 5              # and at least this many failed visits
    failure_bucket_hours: float = 6.0       # failure episodes are found on buckets this wide
    episode_min_llr: float = 12.0           # scan statistic an episode (failures, slow visits) must reach
    # retry_storm
    retry_bucket_minutes: int = 15
    retry_baseline_days: float = 7.0        # trailing window of the median/MAD baseline
    retry_storm_z: float = 6.0              # bucket > median + z * max(1.4826 * MAD, 1): a sigma of 1 at least
    retry_storm_min_retries: int = 10       # in the window (1, 4 or 16 buckets) that storms
    retry_storm_merge_gap_buckets: int = 8  # storms this many buckets apart (2 h) merge into one
    # ... and beyond chance at the step's usual retry rate (Anscombe's Poisson test on retries in units of
    # the step's dispersion, docs/measures.md "Retry storm"): with none expected, 10 retries; 0 turns it off
    retry_storm_rate_z: float = 5.0
    # synchronized_retries
    sync_retry_max_cv: float = 0.1          # std/mean of retry delays below this: no jitter
    sync_retry_min_samples: int = 20
    sync_retry_min_executions: int = 5
    # cost
    costly_step_share: float = 0.5          # step's share of its workflow's cost
    costly_step_min_visits_per_execution: float = 5.0
    costly_step_min_monthly_usd: float = 0.1   # structural signal above; this only drops trivia
    polling_min_visits: int = 5             # same step visited this often in one execution
    polling_min_executions: int = 3
    express_max_duration_ms: int = 300_000  # Express runs at most 5 minutes
    express_memory_mb: int = 64             # assumed billed memory when the data has none
    express_min_monthly_executions: int = 1_000
    express_min_monthly_saving_usd: float = 1.0
    retry_share_title_min: float = 0.1      # retries' share of billable units a title mentions
    plan_what_if_margin: float = 0.2        # the other plan must be this much cheaper
    plan_what_if_min_monthly_saving_usd: float = 10.0
    logicapp_standard_plan_vcpu: float = 1.0   # WS1
    logicapp_standard_plan_memory_gb: float = 3.5
    # latency
    latency_bucket_hours: float = 6.0
    slow_step_ratio: float = 2.0            # bucket p95 / baseline p95
    slow_step_min_delta_ms: int = 1_000
    slow_step_min_visits: int = 10          # (unused since slow episodes are scanned; kept for configs)
    slow_step_min_slow_visits: int = 3      # slow visits an episode needs
    slow_step_min_share: float = 0.2        # share of an episode's visits that are slow
    slow_callback_ratio: float = 4.0        # a callback wait is slow beyond this x its usual p95
    latency_drift_ratio: float = 1.5        # window p95 / previous window p95
    latency_drift_min_executions: int = 20
    # stuck
    stuck_p99_multiple: float = 3.0
    stuck_min_age_minutes: float = 15.0
    stuck_no_baseline_hours: float = 24.0   # age that counts as stuck when a workflow has no history
    history_limit_ratio: float = 0.8        # of the 25,000-event limit
    map_failure_budget_ratio: float = 0.8   # of the tolerated failure percentage
    # reporting
    monthly_days: float = measures.DEFAULT_MONTH_DAYS

    def __post_init__(self) -> None:
        for name in POSITIVE_THRESHOLDS:
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"threshold {name} must be greater than 0, got {value!r}")
        for name, (unit, seconds) in TIME_SPAN_THRESHOLDS.items():
            value = getattr(self, name)
            if name in POSITIVE_THRESHOLDS and int(value * seconds) < 1:    # a bucket of 0 s divided by 0
                raise ValueError(f"threshold {name} must be at least 1 second ({1 / seconds:.6g} {unit}), "
                                 f"got {value!r}")
            if value * seconds > SUPPORTED_SPAN_S:      # past int64 in the engines, or before year 1
                raise ValueError(f"threshold {name} must be at most {SUPPORTED_SPAN_S / seconds:,.0f} {unit} "
                                 f"(the supported times, {EARLIEST.date()} to {LATEST.date()}), got {value!r}")
        if self.express_memory_mb > MAX_EXPRESS_MEMORY_MB:
            raise ValueError(f"threshold express_memory_mb must be at most {MAX_EXPRESS_MEMORY_MB:,} (1 TiB), got "
                             f"{self.express_memory_mb!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> Thresholds:
        """Thresholds from the config file's [thresholds] table; unknown keys are an error."""
        if not values:
            return cls()
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            # a typo's closest name first: the list of every threshold is 40 names long
            hints = [f"{name} (did you mean {close[0]}?)" if close else name
                     for name in unknown for close in [difflib.get_close_matches(name, known, n=1)]]
            raise ValueError(
                f"unknown threshold(s) {', '.join(hints)}; known thresholds: {', '.join(sorted(known))}"
            )
        converted: dict[str, Any] = {}
        for key, value in values.items():
            default = getattr(cls, key)
            try:
                if isinstance(default, bool) or isinstance(value, bool):
                    raise TypeError
                converted[key] = int(value) if isinstance(default, int) and float(value).is_integer() \
                    else float(value)
                if isinstance(default, int) and not float(value).is_integer():
                    raise TypeError
            except (TypeError, ValueError):
                raise ValueError(
                    f"threshold {key} must be a {'whole number' if isinstance(default, int) else 'number'},"
                    f" got {value!r}"
                ) from None
            if not math.isfinite(converted[key]):    # TOML's nan and inf compare false: findings silently gone
                raise ValueError(f"threshold {key} must be a finite number, got {value!r}")
            if converted[key] < 0:
                raise ValueError(f"threshold {key} must not be negative, got {value!r}")
            if key in SHARE_THRESHOLDS and converted[key] > 1:
                raise ValueError(f"threshold {key} is a share of one (0.05 for 5%), got {value!r}: above 1 "
                                 "nothing can reach it")
        return cls(**converted)


POSITIVE_THRESHOLDS = ("retry_bucket_minutes", "failure_bucket_hours", "latency_bucket_hours", "monthly_days")
"""Thresholds that must be above 0: the analyses' bucket widths (a width of 0 divided every start by 0 and
`flowscope analyze` failed with a DuckDB conversion error) and the projected month (0 days made every
projection, saving and monthly figure $0, said as if nothing cost anything)."""
TIME_SPAN_THRESHOLDS = {"retry_bucket_minutes": ("minutes", 60), "failure_bucket_hours": ("hours", 3600),
                        "latency_bucket_hours": ("hours", 3600), "retry_baseline_days": ("days", 86400)}
"""Thresholds that are spans of time (their unit and its seconds): a bucket width (those also in
`POSITIVE_THRESHOLDS`) is at least a second, since the analyses take it in whole seconds (0.0001 hours was a
ZeroDivisionError, exit 5), and no span is longer than the supported times (`timewindow.EARLIEST` ..
`LATEST`): 1e18 hours overflowed int64 inside Ibis, and a 1e6-day retry baseline started before year 1."""
SUPPORTED_SPAN_S = (LATEST - EARLIEST).total_seconds()
MAX_EXPRESS_MEMORY_MB = 1 << 20
"""The most `express_memory_mb` takes: an Express run's billed memory is 50 MB plus its definition and payloads
(at most 1 MB and 256 kB each), far below; 1e18 MB overflowed the billed units' int64 in the engine (exit 5)."""


# ---------------------------------------------------------------- findings

FINDING_COLUMNS = [
    "id", "kind", "severity", "cloud", "workflow", "workflow_id", "step", "window_start", "window_end",
    "title", "evidence", "recommendation", "monthly_usd", "executions_affected", "sample_execution_ids",
]


@dataclass
class Finding:
    kind: FindingKind
    severity: Severity
    cloud: str
    workflow: str | None
    workflow_id: str | None
    step: str | None
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    title: str
    evidence: dict[str, Any]
    recommendation: str
    monthly_usd: float = 0.0
    executions_affected: int = 0
    sample_execution_ids: list[str] = field(default_factory=list)
    id_bucket: dt.datetime | None = None   # episode start for EPISODIC_KINDS
    # What else tells two findings of one kind, step and bucket apart (a retry storm's error: storms of
    # two errors on one step from one bucket had one id, and the second was dropped as a duplicate).
    id_detail: str = ""

    @property
    def id(self) -> str:
        bucket = ""
        if self.kind in EPISODIC_KINDS and self.id_bucket is not None:
            bucket = utc(self.id_bucket).isoformat()
        parts = [str(self.kind), self.cloud or "", self.workflow_id or "", self.step or "", bucket]
        key = "|".join([*parts, self.id_detail] if self.id_detail else parts)
        return hashlib.sha1(key.encode()).hexdigest()[:16]

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": str(self.kind),
            "severity": str(self.severity),
            "cloud": self.cloud,
            "workflow": self.workflow,
            "workflow_id": self.workflow_id,
            "step": self.step,
            "window_start": to_utc(self.window_start),
            "window_end": to_utc(self.window_end),
            "title": self.title,
            "evidence": {k: clean_number(v) for k, v in self.evidence.items()},
            "recommendation": self.recommendation,
            "monthly_usd": round(float(self.monthly_usd or 0.0), 4),
            "executions_affected": int(self.executions_affected or 0),
            "sample_execution_ids": [str(x) for x in list(self.sample_execution_ids)[:5]],
        }


def clean_number(value: Any) -> Any:
    """Evidence values as plain JSON-able Python: numpy scalars unwrapped, NaN to None, floats rounded."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 6)
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return utc(value).isoformat()
    if isinstance(value, dict):
        return {str(k): clean_number(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_number(v) for v in value]
    return value


def utc_stamp(value: Any) -> pd.Timestamp:
    """A moment as a UTC timestamp: a naive one is read as UTC (the store's moments are), an aware one converted.
    The one rule `to_utc`, `utc` and the run page's times (`runs.seen_running`) apply; a missing moment is NaT."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)


def to_utc(value: Any) -> dt.datetime | None:
    """A datetime or timestamp as an aware UTC datetime (`utc_stamp`), for findings and literals; None for a
    missing one (None, NaN, NaT). Anything else is returned as it is."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, dt.datetime):
        return utc_stamp(value).to_pydatetime()
    return value


def utc(value: dt.datetime | pd.Timestamp) -> dt.datetime:
    """`to_utc` for a value that must be a timestamp: a missing one (NaT) is an error, not a None to pass on."""
    converted = to_utc(value)
    if converted is None:
        raise ValueError(f"expected a timestamp, got {value!r}")
    return converted


TEXT_FINDING_COLUMNS = ("id", "kind", "severity", "cloud", "workflow", "workflow_id", "step", "title",
                        "recommendation")
"""Columns of text, pandas' `str` in every findings frame: left to inference they were `object` when the
frame was empty or a column held only missing values (every finding a collection gap: no workflow)."""


def findings_frame(findings: Iterable[Finding]) -> pd.DataFrame:
    """Findings as the documented DataFrame: most severe first, then most expensive; one dtype per
    column whatever the findings (none included)."""
    rows = [f.row() for f in findings]
    if not rows:
        frame = pd.DataFrame({c: pd.Series(dtype="object") for c in FINDING_COLUMNS})
        frame["window_start"] = pd.Series(dtype="datetime64[us, UTC]")
        frame["window_end"] = pd.Series(dtype="datetime64[us, UTC]")
        frame["monthly_usd"] = pd.Series(dtype="float64")
        frame["executions_affected"] = pd.Series(dtype="int64")
        return frame.astype({c: "str" for c in TEXT_FINDING_COLUMNS})
    # One finding per id: the analyses never repeat one, but guard the contract anyway.
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(row["id"], row)
    rows = list(seen.values())
    rows.sort(key=lambda r: (Severity(r["severity"]).rank, -r["monthly_usd"], r["kind"], r["cloud"] or "",
                             r["workflow"] or "", r["step"] or "", r["id"]))
    frame = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    for col in ("window_start", "window_end"):
        frame[col] = pd.to_datetime(frame[col], utc=True).astype("datetime64[us, UTC]")
    frame["monthly_usd"] = frame["monthly_usd"].astype("float64")
    frame["executions_affected"] = frame["executions_affected"].astype("int64")
    return frame.astype({c: "str" for c in TEXT_FINDING_COLUMNS}).reset_index(drop=True)


# ---------------------------------------------------------------- the analysis context

EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


WindowRead = Callable[[str, dt.datetime, dt.datetime, bool], "ir.Table | None"]
"""(table name, start, end, unfiltered) -> that table of the context (before the workflow filter when
`unfiltered`) read from only the files that can hold rows started in [start, end); None: the table as it is."""


@dataclass
class Context:
    """The tables and window an analysis runs over.

    ``tables`` hold the model tables, already narrowed to the clouds and workflows asked for.
    The window is [since, until); the previous window is the span of the same length before it.
    """

    tables: dict[str, ir.Table]
    since: dt.datetime
    until: dt.datetime
    now: dt.datetime
    thresholds: Thresholds
    workflows: pd.DataFrame                  # cloud, workflow_id, workflow_name, kind, region
    runs: pd.DataFrame                       # suite.runs_per_workflow of the clouds asked for (coverage)
    memo: dict[str, Any] = field(default_factory=dict)
    collections_as_of: dt.datetime | None = None
    unfiltered: dict[str, ir.Table] | None = None
    """Under a workflow filter, the tables before it (the cloud filter applied): what a check that judges
    more than one workflow at once reads for the workflows left out (a shared App Service plan)."""
    all_workflows: pd.DataFrame | None = None
    """Under a workflow filter, `workflows` before it: names of the workflows left out."""
    column_facts: Mapping[str, ColumnFacts] = field(default_factory=dict)
    """Per table, what the Delta log's statistics say of its columns in the snapshot read
    (`Store.tables_and_facts`): a query may leave out what only a null row, or a value below a column's
    least, needs (`never_null`, `least`). Empty for tables not read from a store's files (an Ibis backend,
    Spark): every query takes its general form."""
    window_read: WindowRead | None = None
    """The store's reads of a window (`suite.build_context` from `Store.pinned`): `in_window` reads a
    table of the context over only the files that can hold the window's rows. None: the tables as they are."""
    _memo_locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False, compare=False)
    _memo_guard: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def collections_until(self) -> dt.datetime:
        """Each scope's last collection counts if it started before this: the window's end, or later
        (`collections_as_of`) when the window was ended where the data ends, since the syncs that failed
        after the data are why it ends there. The coverage's failed collections and the collection_gap
        findings read this one moment: a failure after an explicit window's end is neither."""
        return max(self.until, self.collections_as_of or self.until)

    @property
    def prev_since(self) -> dt.datetime:
        """Start of the previous window: as long as the window, but never before the Unix epoch
        (no workflow ran before 1970, and a window reaching year 9999 must not underflow year 1)."""
        if self.since <= EPOCH:
            return self.since
        return self.since - min(self.until - self.since, self.since - EPOCH)

    @property
    def window_days(self) -> float:
        return measures.window_days((self.until - self.since).total_seconds())

    @property
    def data_since(self) -> dt.datetime | None:
        """When the first execution of the workflows analysed started (any time; None: no runs)."""
        def compute() -> dt.datetime | None:
            runs = self.runs
            if not runs.empty and not self.workflows.empty:
                runs = runs[runs[C.workflow_id].isin(set(self.workflows[C.workflow_id]))]
            return to_utc(runs["first"].min()) if not runs.empty else None     # naive on Spark: UTC
        return self.cached("data_since", compute)

    def window_runs(self) -> pd.DataFrame:
        """cloud, workflow_id, executions: the runs started in the window per workflow analysed that has any.

        Counted by the read that built the context (`suite.runs_per_workflow`'s `in_window`, over [since,
        until), or every run before `until` when the window starts at the first run), not by a read of the
        window's executions of its own (0.02 s of CPU on the 1M dashboard store's 7 days)."""
        runs = self.runs
        if not runs.empty and not self.workflows.empty:
            runs = runs[runs[C.workflow_id].isin(set(self.workflows[C.workflow_id]))]
        runs = runs[runs["in_window"] > 0]
        return runs[[C.cloud, C.workflow_id, "in_window"]].rename(columns={"in_window": "executions"}) \
            .reset_index(drop=True)

    @property
    def measured_days(self) -> float:
        """The days a projection divides by (`measures.measured_days`): the window's, or from the first
        execution when the data begins well inside it. Findings' evidence gives it beside `window_days`, so
        `monthly_usd` = the window's dollars x `monthly_days` / it can be checked: a 90-day window over 30
        days of data said window_days 90 beside a projection over 30."""
        return measures.measured_days(self.since, self.until, self.data_since)

    @property
    def monthly_factor(self) -> float:
        """Multiply a quantity observed over the window by this to project it over a month: over the days
        the data speaks for (`measures.measured_days`), as the dashboard and reports project."""
        return measures.monthly_factor(self.measured_days, self.thresholds.monthly_days)

    def table(self, name: str) -> ir.Table:
        return self.tables[name]

    def never_null(self, table: str) -> frozenset[str]:
        """The columns of `table` no row of the snapshot holds null in, as far as the store knows."""
        facts = self.column_facts.get(table)
        return facts.never_null if facts is not None else frozenset()

    def always_null(self, table: str) -> frozenset[str]:
        """The columns of `table` every row of the snapshot holds null in, as far as the store knows: a query
        that needs a value there finds none without reading."""
        facts = self.column_facts.get(table)
        return facts.always_null if facts is not None else frozenset()

    def least(self, table: str, column: str) -> int | None:
        """The smallest value of an integer column no row holds null in, when the store knows it."""
        facts = self.column_facts.get(table)
        return facts.least.get(column) if facts is not None else None

    def clip(self, start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """An episode's [start, end) of whole time buckets, cut to the window: buckets are aligned on the Unix
        epoch, not on the window, so the first began before `since` and the last ends after `until` (a
        failure burst in the last hour of a window ending now read "to 18:00 UTC", hours in the future, and
        one in its first hour "from 00:00", before the window the visits it counts were read from)."""
        return max(start, self.since), min(end, self.until)

    def previous_covered(self, rows: pd.DataFrame) -> np.ndarray:
        """Per row of `rows` (cloud, workflow_id columns): whether its workflow's runs in the store cover
        the previous window (`measures.previous_covered` from its first run); only those rows are
        compared with it."""
        covered = self.cached("previous_covered", lambda: frozenset(
            (str(r.cloud), str(r.workflow_id)) for r in self.runs.itertuples(index=False)
            if measures.previous_covered(to_utc(r.first), self.since, self.until)))
        return np.array([(c, w) in covered for c, w in zip(rows[C.cloud], rows[C.workflow_id], strict=True)],
                        dtype=bool)

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """`compute()` once per context, whichever analysis (or lane, `lanes`) asks first; the other waits
        for it rather than computing it again."""
        if key in self.memo:
            return self.memo[key]
        with self._memo_guard:
            lock = self._memo_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self.memo:
                self.memo[key] = compute()
        return self.memo[key]

    def in_window(self, t: ir.Table, column: str = C.started_at, *, previous: bool = False,
                  both: bool = False) -> ir.Table:
        start = self.prev_since if (previous or both) else self.since
        end = self.since if previous else self.until
        return self.between(t, start, end, column)

    def between(self, t: ir.Table, start: dt.datetime, end: dt.datetime, column: str = C.started_at) -> ir.Table:
        """The rows of `t` whose `column` is in [start, end); a table of the context read from only the files
        that can hold them when the column is `started_at` (`_files_of_window`)."""
        if column == C.started_at:
            t = self._files_of_window(t, start, end)
        return t.filter((t[column] >= lit_ts(start)) & (t[column] < lit_ts(end)))

    def _files_of_window(self, t: ir.Table, start: dt.datetime, end: dt.datetime) -> ir.Table:
        """`t`, when it is one of the context's tables (`tables`, or `unfiltered`), read from only the files that
        can hold rows started in [start, end) (`window_read`), with the same filters: a superset of the window's
        rows, which `in_window` filters as before, so the same rows."""
        if self.window_read is None:
            return t
        found = next(((name, whole) for whole, tables in ((False, self.tables), (True, self.unfiltered or {}))
                      for name, table in tables.items() if table is t), None)
        if found is None:
            return t
        name, whole = found
        read = self.window_read
        narrowed = self.cached(f"window_read:{name}:{whole}:{start.isoformat()}:{end.isoformat()}",
                               lambda: read(name, start, end, whole))
        return t if narrowed is None else narrowed

    def workflow_name(self, cloud: str, workflow_id: str) -> str:
        names = self.cached("wf_names", lambda: {
            (r[C.cloud], r[C.workflow_id]): r[C.workflow_name]
            for frame in (self.all_workflows, self.workflows) if frame is not None for r in frame.to_dict("records")
        })
        return names.get((cloud, workflow_id), workflow_id)

    def workflow_kind(self, cloud: str, workflow_id: str) -> str | None:
        kinds = self.cached("wf_kinds", lambda: {
            (r[C.cloud], r[C.workflow_id]): r[C.kind] for r in self.workflows.to_dict("records")
        })
        return kinds.get((cloud, workflow_id))


def backend_name(t: ir.Table) -> str:
    try:
        return t._find_backend().name
    except Exception:  # noqa: BLE001 - an unbound or in-memory table
        return ""


def bucket_expr(t: ir.Table, column: str, seconds: int) -> ir.Value:
    """The time bucket of `column` (whole buckets of `seconds` since the Unix epoch), in the engine.

    DuckDB: from EPOCH_US, an integer (TIME_BUCKET over a TIMESTAMPTZ took 2.3x the CPU of the
    whole group-by on 20M step rows, EPOCH, a double, ~10x); elsewhere: EPOCH seconds.
    `bucket_index` turns what this returns into the bucket number.
    """
    if backend_name(t) == "duckdb":
        return (_duckdb_epoch_us()(t[column]) // (int(seconds) * 1_000_000)).cast("int64")
    return (t[column].epoch_seconds() // int(seconds)).cast("int64")


@functools.cache
def _duckdb_epoch_us() -> Callable[[ir.Value], ir.IntegerValue]:
    """DuckDB's EPOCH_US as an Ibis builtin (made on first use, not at import)."""

    @ibis.udf.scalar.builtin(name="epoch_us", signature=(("timestamp('UTC')",), "int64"))
    def epoch_us(value):  # typed by `signature`
        """Microseconds since the Unix epoch."""

    return epoch_us


def bucket_index(values: pd.Series, seconds: int) -> pd.Series:
    """Bucket numbers from what `bucket_expr` returned (a timestamp or already a number)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        us = values.dt.tz_localize(None) if values.dt.tz is not None else values
        return (us.astype("datetime64[us]").astype("int64") // (int(seconds) * 1_000_000)).astype("int64")
    return values.astype("int64")


def bucket_span(start: dt.datetime, end: dt.datetime, seconds: int) -> tuple[int, int]:
    """The numbers of the first and the last bucket (`bucket_expr`'s) that [start, end) touches: an end on a
    bucket's edge is not in that bucket."""
    return int(start.timestamp()) // int(seconds), (int(end.timestamp()) - 1) // int(seconds)


def lit_ts(value: dt.datetime) -> ir.Value:
    return ibis.literal(to_utc(value), type="timestamp('UTC')")


def ensure_tables(tables: Mapping[str, ir.Table]) -> dict[str, ir.Table]:
    """Every model table, an empty one standing in for any not given."""
    out: dict[str, ir.Table] = {}
    for name in TABLES:
        t = tables.get(name)
        out[name] = t if t is not None else ibis.memtable(empty(name))
    return out


QUANTILES = "_quantiles"
"""The list column `quantiles` aggregates into and `split_quantiles` takes apart."""


def quantiles(x: ir.NumericColumn, qs: Sequence[float]) -> ir.ArrayScalar:
    """Several exact quantiles of `x` as one aggregate (a list; `split_quantiles` names them): DuckDB
    sorts each group once for all of them, where one aggregate per quantile sorts it once each. The
    slow-step buckets of a 30-day window of the 1M dashboard store: 0.84 s of CPU to 0.53 s, values
    equal to the bit."""
    return x.quantile(list(qs))


def split_quantiles(t: ir.Table, names: Sequence[str]) -> ir.Table:
    """`t` with its `quantiles(...)` list (aggregated as QUANTILES) as one column per name, in order."""
    return t.mutate(**{name: t[QUANTILES][i] for i, name in enumerate(names)}).drop(QUANTILES)


def timed_run(e: ir.Table) -> ir.BooleanValue:
    """Whether a finished run of the executions `e` has a duration that measures a run (`measures.TIMED_RUN`):
    never redriven. The engine's form of the rule; the dashboard's SQL is `tables.TIMED_RUN_SQL`."""
    return e[C.redrive_count].fill_null(0) == 0


def execute(expr: ir.Table, *, shared_reads: bool = False) -> pd.DataFrame:
    """Run an expression on its backend; only ever called on small, aggregated results.

    `shared_reads`: compile with Ibis's select fusion off, so a relation the query reads several times
    stays one common table expression, which DuckDB materializes once, instead of being folded into each
    reader (one scan of the files each). For a self-join of the flagged workflows' steps
    (`latency.critical_path`: four readers) that halves the query (30k demo: 0.25 to 0.12 s). Not the
    default: over the 1M bench store the other queries' shared parts, materialized whole, cost 1.4x."""
    lane = lanes.backend()        # the second lane's cursor, when this runs in it
    with _select_fusion_off() if shared_reads else contextlib.nullcontext():
        return measures.settle_floats(lane.execute(expr) if lane is not None else expr.execute())


_fusion_lock = threading.Lock()
_fusion_off_depth = 0
_fusion_saved = True


@contextlib.contextmanager
def _select_fusion_off() -> Iterator[None]:
    """Ibis's `sql.fuse_selects` off while the block runs. It is a process-wide option, so nested and
    concurrent blocks share one count and the last to leave restores it; a query another thread compiles
    meanwhile compiles unfused too, which changes its plan, never its result."""
    global _fusion_off_depth, _fusion_saved
    with _fusion_lock:
        if _fusion_off_depth == 0:
            _fusion_saved = bool(ibis.options.sql.fuse_selects)
            ibis.options.sql.fuse_selects = False
        _fusion_off_depth += 1
    try:
        yield
    finally:
        with _fusion_lock:
            _fusion_off_depth -= 1
            if _fusion_off_depth == 0:
                ibis.options.sql.fuse_selects = _fusion_saved


SAMPLES = 5
"""Sample execution ids a finding lists (the runs to open first)."""


def sample_ids(t: ir.Table, keys: Sequence[str], *, order_by: ir.Value | str, n: int = SAMPLES,
               id_col: str = C.execution_id) -> dict[tuple, list[str]]:
    """Up to n execution ids per group, picked in the engine (latest first by `order_by`)."""
    t = t.select(*keys, id_col, _order=t[order_by] if isinstance(order_by, str) else order_by)
    ranked = sample_rank(t, keys, order_by="_order", id_col=id_col, name="_rn")
    df = execute(ranked.filter(ranked["_rn"] < n).select(*keys, id_col, "_rn"))
    ranked_ids: dict[tuple, list[str]] = {}
    for row in df.sort_values("_rn").itertuples(index=False):
        ranked_ids.setdefault(tuple(getattr(row, k) for k in keys), []).append(getattr(row, id_col))
    return ranked_ids


def sample_rows(t: ir.Table, rank: str, *, where: ir.BooleanValue | None = None,
                id_col: str = C.execution_id, n: int = SAMPLES) -> ir.ArrayValue:
    """An aggregate that takes `sample_ids`' rows in the finding's own query, which saves its second read:
    the runs of the group ranked (`rank`, a `sample_rank` over the sample's groups) among the first n
    of their sample group, `where` they are sample rows. `picked_ids` reads the samples off them."""
    cond = (t[rank] < n).fill_null(False)
    return ibis.struct({"rank": t[rank], "id": t[id_col]}).collect(where=cond if where is None else cond & where)


def picked_ids(collected: Iterable[Any], n: int = SAMPLES) -> list[str]:
    """The samples of one sample group from the `sample_rows` of its query's groups (lists of structs, or
    null where a group had none): the same ids in the same order as `sample_ids` picks."""
    rows = [v for picked in collected if isinstance(picked, (list, np.ndarray)) for v in picked]
    return [v["id"] for v in sorted(rows, key=lambda v: v["rank"])][:n]


def picked_by(rows: pd.DataFrame, keys: Sequence[str], column: str, n: int = SAMPLES) -> dict[tuple, list[str]]:
    """`picked_ids` per sample group (`keys`, a tuple each) of a query's result, whose `column` holds the
    `sample_rows` of each of its groups (a query may group finer than its samples)."""
    return {key if isinstance(key, tuple) else (key,): picked_ids(g[column], n)
            for key, g in rows.groupby(list(keys), sort=False)}


def sample_rank(t: ir.Table, keys: Sequence[str], *, order_by: str, name: str,
                id_col: str = C.execution_id) -> ir.Table:
    """`t` with column `name`: each run's place (0 first) among its group's sample runs, on the run's best
    row (highest `order_by`, ties by id); null on its other rows. Runs are ranked, not rows: a run with
    many rows in the group (a loop, retries) would fill the first places and leave a finding fewer
    samples than the runs it affects. The one ranking every engine-side pick uses (`sample_ids`,
    `sample_rows`), the same picks as `top_ids`. Two windows, as window functions do not nest."""
    best = "_sample_best"
    run = ibis.window(group_by=[t[k] for k in [*keys, id_col]], order_by=[ibis.desc(t[order_by])])
    t = t.mutate(**{best: ibis.row_number().over(run) == 0})
    w = ibis.window(group_by=[*(t[k] for k in keys), t[best]], order_by=[ibis.desc(t[order_by]), t[id_col]])
    return t.mutate(**{name: ibis.ifelse(t[best], ibis.row_number().over(w), ibis.null("int64"))}).drop(best)


def top_ids(rows: pd.DataFrame, keys: Sequence[str], *, order_by: str, n: int = SAMPLES,
            id_col: str = C.execution_id) -> dict[tuple, list[str]]:
    """`sample_ids` of rows already read (a small set a finding computed anyway): up to n distinct
    ids per group, each ranked by its best row (highest `order_by` first, ties by id); the same picks
    as the engine's ranking (`sample_rank`)."""
    if rows.empty:
        return {}
    ordered = rows.sort_values([*keys, order_by, id_col], ascending=[True] * len(keys) + [False, True],
                               kind="stable", na_position="last")
    ordered = ordered.drop_duplicates([*keys, id_col])
    out: dict[tuple, list[str]] = {}
    for key, g in ordered.groupby(list(keys), sort=False, dropna=False):
        out[key if isinstance(key, tuple) else (key,)] = g[id_col].head(n).tolist()
    return out


_MASKS = [
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<uuid>"),
    (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?", "<ts>"),
    (r"arn:[A-Za-z0-9-]+:[A-Za-z0-9-]+:[A-Za-z0-9-]*:\d*:[^\s\"',]+", "<arn>"),
    (r"\b0[xX][0-9a-fA-F]+\b", "<hex>"),     # 0x and hex digits of any kind: "0xdeadbeef" read "<n>xdeadbeef"
    (r"\b(0x)?[0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b|\b(0x)?[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\d[0-9a-fA-F]*\b",
     "<hex>"),
    (r"\d+(\.\d+)?", "<n>"),
]


_ERROR_MESSAGE = r'"errorMessage"\s*:\s*"((?:[^"\\]|\\.)*)"'
"""A Lambda error's message inside its JSON cause ({"errorMessage": ..., "errorType": ..., "requestId": ...,
"stackTrace": [...]}, what Step Functions reports for a failed Lambda task): the template is made of the
message, not of the JSON around it."""

_INTRODUCERS = r"[\x1b\x9b]"
"""ESC and the 8-bit CSI left once `textsafety.ESCAPE_SEQUENCES` is taken out (a lone ESC, a sequence cut short:
"\\x1b[31" masked to "\\x1b[<n>" was shown as ">")."""

_ESC_AS_TEXT = r"\\+(?:u001[bB]|x1[bB])"
"""ESC written as text in a spelling that means nothing else after a backslash (JSON's, a repr's)."""

_WRITTEN_ESCAPES = (
    _ESC_AS_TEXT + r"\](?:[^\\\x07]|\\+[^\\ux])*(?:\\+(?:x07|u0007)|\x07|" + _ESC_AS_TEXT + r"\\\\?)?"  # OSC
    r"|" + _ESC_AS_TEXT + r"[P^_X](?:[^\\]|\\+[^\\ux])*(?:" + _ESC_AS_TEXT + r"\\\\?)?"      # DCS / PM / APC / SOS
    r"|" + _ESC_AS_TEXT + r"(?:\[[0-?]*[ -/]*[@-~]|[!-/]*[0-~])?"     # ESC as text, with what it starts
    r"|\\+(?:0?33|e)\[(?:[0-?]*[ -/]*[@-~])?"                         # octal or bash ESC: only before a CSI's [
    r"|\\+(?:u009[bB]|x9[bB]|233)(?:[0-?]*[ -/]*[@-~])?"              # 8-bit CSI as text
)
"""Escape sequences written as text, as a JSON cause carries them (a Lambda's errorMessage holds "\\u001b[31m",
six characters and a colour, not an ESC) or as a log line printed them (`\\x1b[`, `\\033[`, `\\33[`, bash's
`\\e[`): the introducer, with the CSI or the other escape it starts, or alone (a sequence cut short), as
`ESCAPE_SEQUENCES` and `_INTRODUCERS` read the real ones. Masked digit by digit they left "\\u<n>b[<n>m" in the
template, and a message in colour fell in another template than the same message without. An OSC or DCS goes
whole, as a real one does, up to its terminator as text (ESC as text and a backslash, doubled as JSON writes it;
for an OSC, BEL as `\\x07` or `\\u0007`): its introducer alone went, and an OSC 8 link left "]8;;https://..."
in the template. RE2 has no lookahead, so its text ends at any backslash before `u` or `x`, which may start the
terminator. A backslash before anything else stays, and the octal and bash ESC only before a CSI's bracket:
"C:\\logs\\0331.txt" and "C:\\e\\file" are paths, not ESC and "1"."""

_TEMPLATE_STEPS = [(ESCAPE_SEQUENCES.pattern, ""), (_INTRODUCERS, ""), (_WRITTEN_ESCAPES, ""), *_MASKS]
"""What makes a message its template, in order: escapes out (real and written as text), then the masks. Escapes
go first: masked first, a colour's `\\x1b[31m` became `\\x1b[<n>m`, of which the shown text's escape stripping
took `\\x1b[<n` and left `>m` ("boom >mred" for "boom red"). `error_template` and `mask_text` both apply it."""


def error_template(col: ir.StringValue) -> ir.StringValue:
    """Mask the variable parts of an error message (uuids, timestamps, ARNs, hex ids, numbers), in the engine
    (`_TEMPLATE_STEPS`), so messages that differ in those alone (or in their terminal escapes) group as one; a
    Lambda error's JSON cause is read for its message first (`_ERROR_MESSAGE`), not decoded. A text without an
    escape gets the template it always had."""
    message = col.re_extract(_ERROR_MESSAGE, 1)
    out = ibis.ifelse(message.notnull() & (message != ""), message, col)
    for pattern, repl in _TEMPLATE_STEPS:
        out = out.re_replace(pattern, repl)
    return out.substr(0, 200)


def mask_text(text: str | None) -> str | None:
    """The same masking as `error_template`, in Python (for tests and small results)."""
    if text is None:
        return None
    found = re.search(_ERROR_MESSAGE, text)
    if found and found.group(1):
        text = found.group(1)
    for pattern, repl in _TEMPLATE_STEPS:
        text = re.sub(pattern, repl, text)
    return text[:200]


# ---------------------------------------------------------------- episodes in a bucketed series


@dataclass(frozen=True)
class Episode:
    """A run of buckets [first, last] where the share of hits is far above the rest of the series."""

    first: int
    last: int
    hits: float
    trials: float
    out_hits: float
    out_trials: float
    llr: float

    @property
    def rate(self) -> float:
        return self.hits / self.trials if self.trials else 0.0

    @property
    def out_rate(self) -> float:
        return self.out_hits / self.out_trials if self.out_trials else 0.0


def _xlogy(x: Any, y: Any) -> Any:

    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(np.where(y > 0, y, 1.0)), 0.0)


SCAN_EXACT_POINTS = 2048
"""Buckets with hits a scan compares exactly, every pair (start, end). A longer series is first
scanned on coarser buckets (whole multiples of the bucket, time-aligned) and the best coarse
interval's edges are then refined on the original buckets: time and memory stay bounded whatever
the window, where the all-pairs matrix of the original scan grew with the square of the buckets."""

SCAN_BLOCK_ROWS = 64
"""Interval starts evaluated at once (memory per block: rows x candidate ends)."""


def bernoulli_scan(trials: Sequence[float], hits: Sequence[float], *, min_hits: float, min_rate: float,
                   min_llr: float, max_episodes: int = 3, index: Sequence[int] | None = None) -> list[Episode]:
    """Episodes of a binomial series by the Kulldorff scan statistic.

    For every interval of consecutive buckets, the log-likelihood ratio of "one rate inside, another
    outside" against "one rate everywhere" (only intervals whose rate is higher inside count). The
    best interval is an episode when it has at least `min_hits` hits, a rate of at least
    `min_rate` and a ratio of at least `min_llr`; its buckets are then set aside and the scan repeats.

    `index` (optional) gives the bucket number of each value, so a caller passes only the buckets
    that hold data (a window of centuries costs nothing); episodes' first/last are then bucket
    numbers. Without it the values are consecutive buckets 0..n-1.

    Memory is linear in the buckets given: the best interval always starts and ends on a bucket
    with hits (moving a bucket without hits out of an interval whose rate is higher raises the
    ratio), so only those are compared, a block of starts at a time; past `SCAN_EXACT_POINTS` of
    them the scan runs on coarser buckets first (see there).
    """

    n = np.asarray(trials, dtype=float).ravel()
    k = np.asarray(hits, dtype=float).ravel()
    idx = np.arange(n.size, dtype=np.int64) if index is None else np.asarray(index, dtype=np.int64).ravel()
    if not (n.size == k.size == idx.size):
        raise ValueError("bernoulli_scan: trials, hits and index must have the same length")
    found: list[Episode] = []
    if n.size == 0:
        return found
    if index is not None:
        order = np.argsort(idx, kind="stable")
        idx, n, k = idx[order], n[order], k[order]
        idx, first_pos = np.unique(idx, return_index=True)
        n, k = np.add.reduceat(n, first_pos), np.add.reduceat(k, first_pos)
    keep = (n != 0) | (k != 0)                       # empty buckets change no interval's counts
    idx, n, k = idx[keep], n[keep], k[keep]
    for _ in range(max_episodes):
        N, K = float(n.sum()), float(k.sum())
        if K < min_hits or N <= 0:
            break
        best = _best_interval(idx, n, k, N, K, min_hits, min_rate)
        if best is None or best[2] < min_llr:
            break
        a, b, llr = best
        inside_k, inside_n = float(k[a:b + 1].sum()), float(n[a:b + 1].sum())
        found.append(Episode(int(idx[a]), int(idx[b]), inside_k, inside_n, K - inside_k, N - inside_n, llr))
        idx, n, k = np.delete(idx, np.s_[a:b + 1]), np.delete(n, np.s_[a:b + 1]), np.delete(k, np.s_[a:b + 1])
    return found


def _interval_llr(n1: Any, k1: Any, N: float, K: float, min_hits: float, min_rate: float) -> Any:
    """The scan's log-likelihood ratio of intervals with n1 trials and k1 hits (-inf where not allowed)."""

    n0, k0 = N - n1, K - k1
    with np.errstate(divide="ignore", invalid="ignore"):
        p1 = np.where(n1 > 0, k1 / np.where(n1 > 0, n1, 1.0), 0.0)
        p0 = np.where(n0 > 0, k0 / np.where(n0 > 0, n0, 1.0), 0.0)
    p = K / N
    llr = (_xlogy(k1, p1) + _xlogy(n1 - k1, 1 - p1) + _xlogy(k0, p0) + _xlogy(n0 - k0, 1 - p0)
           - (_xlogy(K, p) + _xlogy(N - K, 1 - p)))
    return np.where((p1 > p0) & (k1 >= min_hits) & (p1 >= min_rate), llr, -np.inf)


def _scan_pairs(starts: Any, ends: Any, cn: Any, ck: Any, N: float, K: float, min_hits: float,
                min_rate: float) -> tuple[int, int, float] | None:
    """Best (start, end, llr) over positions starts x ends with start <= end, a block of starts at a
    time; ties go to the earliest start, then the earliest end (the order of the all-pairs scan)."""

    best: tuple[int, int, float] | None = None
    lo_n, lo_k = cn[starts], ck[starts]
    hi_n, hi_k = cn[ends + 1], ck[ends + 1]
    for r0 in range(0, starts.size, SCAN_BLOCK_ROWS):
        rows = slice(r0, r0 + SCAN_BLOCK_ROWS)
        llr = _interval_llr(hi_n[None, :] - lo_n[rows, None], hi_k[None, :] - lo_k[rows, None], N, K,
                            min_hits, min_rate)
        llr = np.where(ends[None, :] >= starts[rows, None], llr, -np.inf)
        flat = int(np.argmax(llr))
        i, j = divmod(flat, ends.size)
        value = float(llr[i, j])
        if np.isfinite(value) and (best is None or value > best[2]):
            best = (int(starts[r0 + i]), int(ends[j]), value)
    return best


def _best_interval(idx: Any, n: Any, k: Any, N: float, K: float, min_hits: float,
                   min_rate: float) -> tuple[int, int, float] | None:
    """(first, last, llr) of the best interval, as positions in the arrays given."""

    cn = np.concatenate([[0.0], np.cumsum(n)])
    ck = np.concatenate([[0.0], np.cumsum(k)])
    h = np.nonzero(k > 0)[0]                         # the only starts and ends worth trying
    if h.size == 0:
        return None
    if h.size <= SCAN_EXACT_POINTS:
        return _scan_pairs(h, h, cn, ck, N, K, min_hits, min_rate)
    # Coarser, time-aligned buckets until few enough hold hits; scan those exactly, then refine
    # the best coarse interval's edges on the original buckets.
    factor = 2
    while np.unique(idx[h] // factor).size > SCAN_EXACT_POINTS:
        factor *= 2
    group = idx // factor
    cuts = np.concatenate([[0], np.nonzero(np.diff(group))[0] + 1])
    cn_c = np.concatenate([[0.0], np.cumsum(np.add.reduceat(n, cuts))])
    ck_c = np.concatenate([[0.0], np.cumsum(np.add.reduceat(k, cuts))])
    hc = np.nonzero(np.diff(ck_c) > 0)[0]
    coarse = _scan_pairs(hc, hc, cn_c, ck_c, N, K, min_hits, min_rate)
    if coarse is None:
        return None
    g_first, g_last = group[cuts[coarse[0]]], group[cuts[coarse[1]]]
    hg = group[h]
    starts = h[(hg >= g_first - 1) & (hg <= g_first)]
    ends = h[(hg >= g_last) & (hg <= g_last + 1)]
    return _scan_pairs(starts, ends, cn, ck, N, K, min_hits, min_rate)
