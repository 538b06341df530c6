"""The one definition of each measure every surface shows (docs/measures.md says the same in prose).

Pure: no engine, no I/O. `tables.py` (the dashboard's SQL) and the analyses import the status sets
and rules from here, so a page, a finding, `flowscope analyze` and the notebook API cannot count the
same thing two ways.

- Run failure rate: failed runs (FAILED, TIMED_OUT, ABORTED) / finished runs (any status but RUNNING).
  A run whose failure was caught inside it SUCCEEDED: it is not a failed run.
- Step failure rate: failed visits / visits of a step, caught failures included (a caught
  failure still ran and was billed); `uncaught` is reported beside it.
- Retries: tries of a step visit after the first (attempts - 1), summed.
- Run duration quantiles: over timed runs, finished and never redriven (`TIMED_RUN`).
- Spend: billed units at list (marginal) price, `analysis/pricing.py`; plan fees are spend when the
  collector metered plan hours (a Logic Apps Standard plan), never estimated.
- Projected monthly spend: spend x `monthly_factor` (`Thresholds.monthly_days` / `measured_days`: the days
  of the window from the later of its start and the filters' first execution).
- Potential savings: see `potential_savings`. Spend, projection and savings are never added together.
- A finding's dollars: what its `monthly_usd` is (spend, cost, an episode's cost once, a saving, or nothing)
  is its check's metadata, `checks.Check.dollars`.
- Comparison with the previous window: only when the data covers it, `previous_covered`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flowscope.analysis import checks
from flowscope.model import Status
from flowscope.timewindow import STALE_AFTER

if TYPE_CHECKING:
    import pandas as pd

TIMED_RUN = ("a finished run (ended, duration at least 0) never redriven (redrive_count 0 or unknown): Step "
             "Functions keeps a redriven run's start date, so its duration spans the wait before its redrive")
"""Runs whose durations the duration quantiles (p50/p95/p99, latency drift, the stuck baseline) are taken
over: a run failed on Monday and redriven on Friday read as a run of four days, a p99 of days that made a
machine "get slower" and a run stuck for hours look normal. `base.timed_run` (engine) and
`tables.TIMED_RUN_SQL` (dashboard) write this rule."""

DEFAULT_MONTH_DAYS = 30.0
"""Days in a projected month unless `Thresholds.monthly_days` (flowscope.toml) says otherwise."""

RUN_FAILED = tuple(str(s) for s in (Status.FAILED, Status.TIMED_OUT, Status.ABORTED))
"""Execution statuses that count as a failed run (the numerator of the run failure rate)."""
STEP_FAILED = tuple(str(s) for s in (Status.FAILED, Status.CAUGHT, Status.TIMED_OUT, Status.ABORTED))
"""Step statuses that count as a failed visit, caught failures included (the step failure rate)."""
STEP_UNCAUGHT = tuple(str(s) for s in (Status.FAILED, Status.TIMED_OUT, Status.ABORTED))
"""Failed visits that nothing caught: they failed their run."""
TERMINAL = tuple(str(s) for s in Status if s is not Status.RUNNING)
"""Statuses of a finished run (the denominator of the run failure rate)."""

PRICED_KINDS = checks.kinds_where(dollars=tuple(checks.Dollars))
"""Findings whose `monthly_usd` is dollars (a spend, a problem's cost or a saving: each check's metadata,
`checks.Check.dollars`). The others (a slow step, latency drift, a stuck run, a failed collection, ...)
price nothing: their 0.0 is no amount, and surfaces show none ("—"), never "$0.00" as if it cost nothing."""

SAVING_KINDS = checks.kinds_where(dollars=checks.Dollars.SAVING)
"""Findings whose `monthly_usd` is a saving (`checks.Dollars.SAVING`: what a change would stop paying): a
callback instead of the polling loop's turns, the same runs priced as Express, the same work on the other
Logic Apps plan. Other findings' `monthly_usd` is spend already counted, not a saving: what a problem costs
(retries, failed runs), or where the spend sits (`costly_step`: the step's whole spend, while the change
it recommends, a batch, a child workflow or another action, removes an unknown part of it; a step of one
state per Map item moved into an Express child still costs a transition per item in its parent)."""


def window_days(seconds: float) -> float:
    """Days in a window of `seconds`, at least one hour (a projection from less is noise)."""
    return max(seconds / 86400.0, 1.0 / 24.0)


def monthly_factor(days: float, month_days: float = DEFAULT_MONTH_DAYS) -> float:
    """Multiply an amount observed over `days` by this to project it over a month of `month_days`."""
    return month_days / days


DATA_GAP_SHARE = 0.1
"""A window whose data begins, or ends, this share of it (and at least `STALE_AFTER`) inside it has a gap:
at its start the projections leave the gap out (`measured_days`); at its end the coverage says so
(`run.Coverage.gap_note`)."""


def measured_days(since: dt.datetime, until: dt.datetime, data_since: dt.datetime | None) -> float:
    """Days of the window [since, until) its data speaks for, which a projection divides by: the window's,
    or from the first execution the filters show (`data_since`) when that begins well inside it (a tenth
    of it and at least a day: a first run a few minutes after midnight moves nothing); at least an hour
    (`window_days`). Before that execution the store holds nothing, which says nothing of what ran: a
    90-day window over an import of 30 days projected a third of the month's spend (Overview $4.01
    against $12.03 spent)."""
    start = since
    if data_since is not None and data_since - since >= max((until - since) * DATA_GAP_SHARE, STALE_AFTER):
        start = data_since
    return window_days((until - start).total_seconds())


def run_failure_rate(failed: float, finished: float) -> float:
    """Failed runs / finished runs (0 when none finished)."""
    return failed / finished if finished else 0.0


def step_failure_rate(failures: float, visits: float) -> float:
    """Failed visits (caught included) / visits (0 when none)."""
    return failures / visits if visits else 0.0


def per_execution(amount: float, executions: float) -> float | None:
    """An amount per execution (the Cost page's "cost per execution"); None without an execution, never
    a $0.00 as if runs were free."""
    return float(amount) / float(executions) if executions else None


def amplification(tries: float, first_tries: float) -> float | None:
    """Tries per first try (a visit's tries: 2.0 means every visit ran twice on average), the Retries
    page's headline and its per-step column alike; None without a try, never an impossible 0.00x."""
    return float(tries) / float(first_tries) if first_tries else None


LOCKSTEP_MIN_MEAN_MS = 100.0
"""Retry delays shorter than this on average are not judged for jitter: an immediate retry has no delay
to spread."""


def is_lockstep(cv: float | None, samples: int, executions: int, mean_ms: float | None, *, max_cv: float,
                min_samples: int, min_executions: int) -> bool:
    """Retries in lockstep (no jitter): the delays before one retry number of a step (every second try,
    every third...) whose coefficient of variation (population) is below `max_cv`, over at least
    `min_samples` retries of `min_executions` executions, `LOCKSTEP_MIN_MEAN_MS` long on average (the
    thresholds' sync_retry_* knobs). Per retry number: exponential backoff without jitter waits 2, 4, 8 s,
    each the same in every execution, while its delays taken together spread by half."""
    return lockstep_verdict(cv, samples, executions, mean_ms, max_cv=max_cv, min_samples=min_samples,
                            min_executions=min_executions) is None


def lockstep_verdict(cv: float | None, samples: int, executions: int, mean_ms: float | None, *, max_cv: float,
                     min_samples: int, min_executions: int) -> str | None:
    """None for retries in lockstep (`is_lockstep`), else why not, in words: the Retries table shows it
    beside an unticked row, so a cv near 0 left unticked (too few runs) reads as the rule, not as a
    contradiction of the count above it."""
    from flowscope.format import fmt_duration

    if mean_ms is None or mean_ms != mean_ms or mean_ms < LOCKSTEP_MIN_MEAN_MS:
        return (f"no delay to spread (mean {fmt_duration(mean_ms)}, under "
                f"{fmt_duration(LOCKSTEP_MIN_MEAN_MS)})")
    if cv is None or cv != cv:       # NaN: no spread measurable
        return "no spread measurable"
    reasons = []
    if cv >= max_cv:
        reasons.append(f"delays spread (cv {cv:.2f}, at least {max_cv:.2f}): jittered")
    if samples < min_samples:
        reasons.append(f"{samples:,} retries (fewer than {min_samples:,})")
    if executions < min_executions:
        reasons.append(f"{executions:,} runs (fewer than {min_executions:,})")
    return "; ".join(reasons) or None


PREVIOUS_COVERAGE = 0.9
"""Share of the previous window (as long as the window, just before it) the data must cover before a
figure is compared with that window."""


def previous_covered(first_data: dt.datetime | None, since: dt.datetime, until: dt.datetime) -> bool:
    """Whether data whose first execution started at `first_data` covers (almost, PREVIOUS_COVERAGE) all
    of the window before [since, until), so a figure of [since, until) may be compared with it.

    Why: a store imported from 31 days of history and read over its last 30 has one day in the previous
    30, and a store whose data begins an hour before the window has one hour: a p95, a failure rate or
    a count of that sliver is not "the previous window" (measured on a 1,000,000-execution store: its 30
    days ending an hour after its data ended set each workflow's p95 against the store's first hour,
    and 10 of its 50 workflows "got slower", 2.5 s to 5.7 s). The dashboard's deltas, a report's
    comparison and the analyses' `latency_drift` and previous-window evidence all apply this one rule.
    """
    if first_data is None:
        return False
    return since - first_data >= (until - since) * PREVIOUS_COVERAGE    # no date arithmetic past year 1


def _assumed(finding: dict[str, Any]) -> bool:
    evidence = finding.get("evidence")
    return isinstance(evidence, dict) and bool(evidence.get("assumed_current_plan"))


def potential_savings(findings: Iterable[dict[str, Any]]) -> float:
    """Monthly dollars the cost findings say could be saved, each saving counted once.

    Only `SAVING_KINDS`. Per (cloud, workflow, step) the largest step-level saving counts (two
    findings about one step describe one saving). Per workflow, workflow-level what-ifs (a plan
    change, Express) replace, not add to, its step savings: the larger of the workflow's largest
    workflow-level saving and the sum of its step savings counts. A what-if whose current cost is an
    assumed plan fee (`assumed_current_plan`: a Standard plan neither read nor billed) is listed, not
    summed: the demo's headline read $176 beside a spend of $1.20, $175 of it a fee no spend total holds.
    """
    steps: dict[tuple[str, str, str], float] = {}
    whole: dict[tuple[str, str], float] = {}
    for f in findings:
        if f.get("kind") not in SAVING_KINDS:
            continue
        usd = f.get("monthly_usd")
        if usd is None or usd != usd or usd <= 0 or _assumed(f):
            continue
        wf = (str(f.get("cloud")), str(f.get("workflow_id") or f.get("workflow")))
        step = f.get("step")
        if step is None or step != step or step == "":
            whole[wf] = max(whole.get(wf, 0.0), float(usd))
        else:
            key = (*wf, str(step))
            steps[key] = max(steps.get(key, 0.0), float(usd))
    per_workflow: dict[tuple[str, str], float] = {}
    for (cloud, workflow, _step), usd in steps.items():
        per_workflow[(cloud, workflow)] = per_workflow.get((cloud, workflow), 0.0) + usd
    for workflow_key, usd in whole.items():
        per_workflow[workflow_key] = max(per_workflow.get(workflow_key, 0.0), usd)
    return float(sum(per_workflow.values()))


FLOAT_DECIMALS = 9
"""Decimals an engine's float results are settled to (see `settle_floats`)."""


def settle_floats(frame: "pd.DataFrame") -> "pd.DataFrame":
    """`frame` with its float columns rounded to FLOAT_DECIMALS, in place.

    A parallel engine adds doubles in an order that changes from run to run and with its thread
    count (DuckDB's sums differ by ~1e-12 between 1 and 2 threads). Prices such as $0.000025 make
    many totals land exactly on a cent or tenth-of-a-cent boundary, so that noise flipped a
    figure's last shown decimal between two runs, or between the dashboard (fewer threads) and the
    CLI. Sums of prices times counts are multiples of far more than 1e-9, so rounding there removes
    the noise and nothing else: one store, one window, one number."""
    from pandas.api.types import is_float_dtype

    for column in frame.columns:
        if is_float_dtype(frame[column].dtype):
            frame[column] = frame[column].round(FLOAT_DECIMALS)
    return frame
