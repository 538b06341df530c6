"""Each check's metadata: the facts about a finding kind, kept beside the kind (as Prowler keeps a check's
severity and remediation in its metadata), not in lists of kind names elsewhere.

Pure: no engine, no I/O, nothing of flowscope.analysis imported (only the display formatters), so
`measures` (pure too) and `base` both read it. `measures.PRICED_KINDS` / `SAVING_KINDS` and
`base.EPISODIC_KINDS` are derived from here: a kind added without its metadata fails a test instead of
pricing nothing, or everything, with nothing said.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flowscope.format import fmt_per_month


class FindingKind(StrEnum):
    FAILING_STEP = "failing_step"
    RETRY_STORM = "retry_storm"
    SYNCHRONIZED_RETRIES = "synchronized_retries"
    COSTLY_STEP = "costly_step"
    POLLING_LOOP = "polling_loop"
    EXPRESS_CANDIDATE = "express_candidate"
    PLAN_WHAT_IF = "plan_what_if"
    SLOW_STEP = "slow_step"
    LATENCY_DRIFT = "latency_drift"
    STUCK_EXECUTION = "stuck_execution"
    HISTORY_LIMIT_RISK = "history_limit_risk"
    MAP_FAILURE_BUDGET = "map_failure_budget"
    COLLECTION_GAP = "collection_gap"


class Dollars(StrEnum):
    """What a finding's `monthly_usd` is (dollars a month); a kind without one prices nothing (its 0.0 is no
    amount, never "$0.00"). Spend, cost and saving are never added together."""

    SPEND = "spend"        # where spend already counted sits (a costly step's whole spend)
    COST = "cost"          # what a problem costs, spend already counted (retries, failed runs)
    SAVING = "saving"      # what a change would stop paying (a callback, Express, the other plan)
    ONCE = "cost_once"     # what an episode cost, once: no monthly rate (a retry storm need not come back)


@dataclass(frozen=True)
class Check:
    kind: FindingKind
    dollars: Dollars | None = None
    """What `monthly_usd` is; None: the kind prices nothing."""
    episodic: bool = False
    """An episode (a storm, a slowdown): its id holds the episode's start bucket, so two storms on one step
    are two findings, and its dollars are what the episode cost, not projected to a month (it need not come
    back). Otherwise a standing condition of a workflow or step, one id across runs and windows."""


K, D = FindingKind, Dollars
CHECKS: Mapping[FindingKind, Check] = {c.kind: c for c in (
    Check(K.FAILING_STEP, D.COST),
    Check(K.RETRY_STORM, D.ONCE, episodic=True),
    Check(K.SYNCHRONIZED_RETRIES, D.ONCE),        # its storms' retries
    Check(K.COSTLY_STEP, D.SPEND),
    Check(K.POLLING_LOOP, D.SAVING),
    Check(K.EXPRESS_CANDIDATE, D.SAVING),
    Check(K.PLAN_WHAT_IF, D.SAVING),
    Check(K.SLOW_STEP, episodic=True),
    Check(K.LATENCY_DRIFT),
    Check(K.STUCK_EXECUTION),
    Check(K.HISTORY_LIMIT_RISK),
    Check(K.MAP_FAILURE_BUDGET),
    Check(K.COLLECTION_GAP),
)}
del K, D


def dollars(kind: str | None) -> Dollars | None:
    """What a finding of `kind` says in `monthly_usd` (None: nothing priced, or a kind this version does not
    know, as a store's history written by a newer flowscope may hold)."""
    try:
        return CHECKS[FindingKind(str(kind))].dollars
    except ValueError:
        return None


def kinds_where(*, dollars: Dollars | tuple[Dollars, ...]) -> tuple[str, ...]:
    """The kinds (as strings, in `FindingKind` order) whose `monthly_usd` is one of `dollars`."""
    wanted = dollars if isinstance(dollars, tuple) else (dollars,)
    return tuple(str(k) for k, c in CHECKS.items() if c.dollars in wanted)


def dollars_is(kind: str | None) -> str | None:
    """`dollars(kind)` as the word the exports write beside `monthly_usd` ("saving", "cost", "cost_once",
    "spend"; None: nothing priced): the JSON's `monthly_usd_is`, the CSV and Excel column of that name."""
    meaning = dollars(kind)
    return None if meaning is None else str(meaning)


def dollars_text(value: Any, kind: str | None) -> str:
    """A finding's `monthly_usd` in a sentence or a cell: "$12.34/month", or "$3.20 once" for a kind whose
    dollars are what an episode cost (`Dollars.ONCE`); NOT_PRICED when there are none. The CLI, reports,
    chat and mail all read it here."""
    return fmt_per_month(value, once=dollars(kind) is Dollars.ONCE)
