"""The queries behind triage: the executions search (paged through every match), one run read
failure-first (its deepest failed step, loops collapsed, retries per step), two runs compared
step by step, and a link to a run in its cloud's console.

The search is SQL over the store's views (DuckDB, as in `tables.py`); the rest are pure pandas
transforms of `tables.execution_detail` frames, so the dashboard, the CLI and tests read a run alike.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from enum import Enum
from typing import Any
from urllib.parse import quote

import pandas as pd

from flowscope.analysis import measures, pricing, transitions
from flowscope.analysis.base import CONTAINER_TYPES, EXECUTION_STEP, lit_ts, utc_stamp
from flowscope.analysis.step_rank import HANDLER_NATIVE_TYPES, ITERATION, RANK, lowest_rank, ranks_of
from flowscope.analysis.tables import Filters, RunKey, q, run
from flowscope.format import fmt_cause, is_missing
from flowscope.model import C, Cloud, Status

SEARCH_STATUSES = [Status.RUNNING.value, Status.SUCCEEDED.value, Status.FAILED.value, Status.TIMED_OUT.value,
                   Status.ABORTED.value, Status.CAUGHT.value]
"""The statuses the executions search offers: a run's own, and CAUGHT for a run one of whose step failures
a Catch, runAfter or except handled (no run ends CAUGHT or SKIPPED: those are a step's)."""

PAGE_SIZE = 100
"""Executions per page of the search."""

RUN_FAILED = list(measures.RUN_FAILED)
"""Step statuses that fail a run (a CAUGHT step was handled and did not)."""
STEP_FAILED = list(measures.STEP_FAILED)


def _in(values: list[str]) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


# ---------------------------------------------------------------- the executions search

FOLDED_BEYOND_LOWER = (
    "\u00b5\u00df\u0149\u017f\u01f0\u0345\u0390\u03b0\u03c2\u03d0\u03d1\u03d5\u03d6\u03f0\u03f1\u03f5"
    "\u0587\u13f8\u13f9\u13fa\u13fb\u13fc\u13fd\u1c80\u1c81\u1c82\u1c83\u1c84\u1c85\u1c86\u1c87\u1c88"
    "\u1e96\u1e97\u1e98\u1e99\u1e9a\u1e9b\u1f50\u1f52\u1f54\u1f56\u1f80\u1f81\u1f82\u1f83\u1f84\u1f85"
    "\u1f86\u1f87\u1f90\u1f91\u1f92\u1f93\u1f94\u1f95\u1f96\u1f97\u1fa0\u1fa1\u1fa2\u1fa3\u1fa4\u1fa5"
    "\u1fa6\u1fa7\u1fb2\u1fb3\u1fb4\u1fb6\u1fb7\u1fbe\u1fc2\u1fc3\u1fc4\u1fc6\u1fc7\u1fd2\u1fd3\u1fd6"
    "\u1fd7\u1fe2\u1fe3\u1fe4\u1fe6\u1fe7\u1ff2\u1ff3\u1ff4\u1ff6\u1ff7\uab70\uab71\uab72\uab73\uab74"
    "\uab75\uab76\uab77\uab78\uab79\uab7a\uab7b\uab7c\uab7d\uab7e\uab7f\uab80\uab81\uab82\uab83\uab84"
    "\uab85\uab86\uab87\uab88\uab89\uab8a\uab8b\uab8c\uab8d\uab8e\uab8f\uab90\uab91\uab92\uab93\uab94"
    "\uab95\uab96\uab97\uab98\uab99\uab9a\uab9b\uab9c\uab9d\uab9e\uab9f\uaba0\uaba1\uaba2\uaba3\uaba4"
    "\uaba5\uaba6\uaba7\uaba8\uaba9\uabaa\uabab\uabac\uabad\uabae\uabaf\uabb0\uabb1\uabb2\uabb3\uabb4"
    "\uabb5\uabb6\uabb7\uabb8\uabb9\uabba\uabbb\uabbc\uabbd\uabbe\uabbf\ufb00\ufb01\ufb02\ufb03\ufb04"
    "\ufb05\ufb06\ufb13\ufb14\ufb15\ufb16\ufb17")
"""The characters `str.casefold` changes that `lower` leaves alone (ß, the final sigma, µ, ligatures,
Cherokee small letters...): `fold_sql` maps each to its casefold after DuckDB's `lower`."""

DOTTED_CAPITAL_I = "\u0130"
"""The Turkish capital dotted I, which DuckDB lowers to a plain i (casefold: an i and a combining dot), so
"istanbul" finds it; `fold` does the same."""


def fold(text: str) -> str:
    """The search's case rule in Python: `str.casefold`, a capital dotted I a plain i (`fold_sql` is the
    engine's form; a test holds the two equal on every code point)."""
    return text.replace(DOTTED_CAPITAL_I, "i").casefold()


@functools.cache
def _fold_maps() -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """`FOLDED_BEYOND_LOWER` as DuckDB `translate` strings (one character to one) and `replace` pairs (ß to ss)."""
    one = "".join(c for c in FOLDED_BEYOND_LOWER if len(c.casefold()) == 1)
    more = tuple((c, c.casefold()) for c in FOLDED_BEYOND_LOWER if len(c.casefold()) > 1)
    return one, one.casefold(), more


def fold_sql(expr: str) -> str:
    """SQL folding the text of `expr` as `fold` does: DuckDB's ILIKE and `lower` fold by `lower` alone, so
    "straße" did not find "STRASSE", nor "οδος" "ΟΔΟΣ" with a final sigma, nor "file" a ligature's "ﬁle"."""
    one, to, more = _fold_maps()
    out = f"translate(lower({expr}), '{one}', '{to}')"
    for char, folded in more:
        out = f"replace({out}, '{char}', '{folded}')"
    # `lower` alone where it is the fold (ASCII text, text without those characters): the 75 replaces on every
    # row made a search of 500,000 250-character errors take 9 s, where ILIKE took 0.2 s (now 0.15 s; 0.8 s
    # when every text is non-ASCII).
    return (f"CASE WHEN strlen({expr}) = length({expr}) OR NOT regexp_matches(lower({expr}), "
            f"'[{FOLDED_BEYOND_LOWER}]') THEN lower({expr}) ELSE {out} END")


def contains_folded(expr: str, param: str) -> str:
    """SQL: the text of `expr` contains the parameter `$param`, both folded (`fold_sql`), as typed: `_` and `%`
    in a step name or an error ("Upsert_contact", "100% of quota") are characters, not wildcards."""
    return f"contains({fold_sql(f'coalesce({expr}, {chr(39) * 2})')}, {fold_sql('$' + param)})"


def _search_where(f: Filters, statuses: tuple[str, ...], error_text: str, execution_id: str,
                  step: str) -> tuple[str, dict[str, Any]]:
    """Conditions and parameters of a search; an error or step matches inside the run's steps too
    (an Azure run says "ActionFailed" while its action says BadGateway)."""
    cond = [f.where("e")]
    params = f.params()
    in_steps = q("EXISTS (SELECT 1 FROM steps s WHERE s.{cloud} = e.{cloud} AND s.{execution_id} = e.{execution_id} "
                 "AND s.{start_date} = e.{start_date} AND {match})", match="{match}")
    if statuses:
        own = [st for st in statuses if st != Status.CAUGHT.value]
        either = [f"e.{C.status} IN ({_in(own)})"] if own else []
        if Status.CAUGHT.value in statuses:     # no run ends CAUGHT: a run one of whose step failures was caught
            either.append(in_steps.format(match=f"s.{C.status} = '{Status.CAUGHT.value}'"))
        cond.append(f"({' OR '.join(either)})")
    if error_text:
        def text(p: str) -> str:
            return contains_folded(q("coalesce({p}{error}, '') || ' ' || coalesce({p}{cause}, '')", p=p), "err")
        cond.append(f"({text('e.')} OR {in_steps.format(match=text('s.'))})")
        params["err"] = error_text
    execution_id = execution_id.strip().removeprefix(CUT)     # a run column's cell, copied, finds its run
    if execution_id:
        cond.append(f"({contains_folded(f'e.{C.execution_id}', 'eid')} OR {contains_folded(f'e.{C.name}', 'eid')})")
        params["eid"] = execution_id
    if step:
        cond.append(in_steps.format(match=contains_folded(f"s.{C.name}", "step")))
        params["step"] = step
    return " AND ".join(cond), params


ELAPSED_MS = ("coalesce(e.{duration_ms}, CASE WHEN e.{status} = '" + Status.RUNNING.value + "' THEN "
              "date_diff('millisecond', e.{started_at}, "
              "greatest(least(coalesce(e.{collected_at}, $until), $until), e.{started_at})) END)")
"""A run's duration, or for a run still running its time so far, to when it was last seen running, never past
the window's end `$until` (the SQL form of `since(started_at, seen_running(run, until))`): a stuck run is the
longest, not a run without a length."""

SORTS = {"newest first": "e.{started_at} DESC", "oldest first": "e.{started_at} ASC",
         "longest first": ELAPSED_MS + " DESC NULLS LAST", "shortest first": ELAPSED_MS + " ASC NULLS LAST"}
"""The orders of the executions search, over every match (a click on a header sorts only the page shown).
A run still running is ordered by its time so far (`ELAPSED_MS`); only a run with no start comes last."""


AZURE_RUN_NAME = re.compile(r"\d{20,}cu\d+", re.IGNORECASE)
"""A Logic Apps run name: a 20-digit reverse clock (100 ns ticks to the end of time), more digits, then the
scale unit ("08586676746934337772206998657CU22"). Runs of one day share its first ten digits or so."""

AZURE_RUN_TAIL = 16
"""Characters of a Logic Apps run name `short_id` keeps: the clock's last four (a run per 0.1 ms), the digits
after it and the scale unit; the 33 characters of the whole name do not fit the pinned run column."""

CUT = "…"
"""What marks a `short_id` that is the end of its run's name, not all of it (the id search ignores it)."""


def short_id(execution_id: Any) -> str:
    """The part of an execution id that tells runs apart: an ARN's or a resource path's last segment
    (the run's name), the whole id when it has none. Ids of one workflow share a long prefix that is all
    a narrow column shows. A Logic Apps run name is that long prefix itself: it reads as its end, cut
    (`CUT`) and without the zeros the cut leaves in front (at one length, that tells the same runs apart),
    where the column showed "0858400000000000000000..." on every Azure row."""
    text = str(execution_id or "")
    tail = re.split(r"[/:]", text.rstrip("/:"))[-1]
    if AZURE_RUN_NAME.fullmatch(tail) and len(tail) > AZURE_RUN_TAIL:
        return CUT + tail[-AZURE_RUN_TAIL:].lstrip("0")
    return tail or text


def search_executions(con: Any, f: Filters, *, statuses: tuple[str, ...] = (), error_text: str = "",
                      execution_id: str = "", step: str = "", page: int = 0,
                      page_size: int = PAGE_SIZE, sort: str = "newest first") -> tuple[pd.DataFrame, int]:
    """One page of the matching executions in the order `sort` names (`SORTS`; ties newest first, then
    by id, so pages never overlap) and the total number of matches. `run` is the id's `short_id`; a run
    still running has its time so far as its `duration_ms` (`ELAPSED_MS`, the figure the duration orders
    read: a stuck run at the top of "longest first" read "—")."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}: one of {', '.join(SORTS)}")
    where, params = _search_where(f, statuses, error_text, execution_id, step)
    total = int(run(con, f"SELECT count(*) AS n FROM executions e WHERE {where}", params).iloc[0]["n"])
    size = max(1, int(page_size))
    offset = max(0, min(int(page), max(0, (total - 1) // size))) * size
    rows = run(con, q("""
        SELECT e.{cloud}, e.{workflow_name} AS workflow, e.{execution_id}, e.{status}, e.{started_at},
               e.{ended_at}, {elapsed} AS {duration_ms}, e.{error}, e.{cause}, e.{redrive_count}, e.{workflow_id},
               e.{kind}
        FROM executions e WHERE {where}
        ORDER BY {order}, e.{started_at} DESC, e.{execution_id} DESC LIMIT {limit} OFFSET {offset}
    """, where=where, order=q(SORTS[sort]), elapsed=q(ELAPSED_MS), limit=size, offset=offset), params)
    rows.insert(0, "run", [short_id(e) for e in rows[C.execution_id]])
    return rows, total


def page_count(total: int, page_size: int = PAGE_SIZE) -> int:
    """Pages needed for `total` matches (at least one, so an empty search still has a page)."""
    return max(1, -(-int(total) // max(1, int(page_size))))


# ---------------------------------------------------------------- one run, failure first

def _depths(steps: pd.DataFrame) -> dict[str, int]:
    """Nesting depth of each step key (0 at the top; a loop iteration's action is 1 below its loop)."""
    parent = dict(zip(steps[C.step_key], steps[C.parent_step_key], strict=True))
    depth: dict[str, int] = {}
    for key in parent:
        d, seen, up = 0, {key}, parent.get(key)
        while isinstance(up, str) and up in parent and up not in seen:
            seen.add(up)
            d, up = d + 1, parent.get(up)
        depth[key] = d
    return depth


def fold_own_work(steps: pd.DataFrame) -> pd.DataFrame:
    """One run's steps with each container that has its own work left out and that work put in its
    place (its parent): GCP gives a try around a call as entries of one name, one step of the
    definition (`transitions`), so the step reads once, as the call, with the call's tries and error,
    not as a container holding a step of its own name. Where the try's work is a call, its except
    block (a container of the same name beside the call) goes too, and the except's steps read as the
    call's (`record_failure` inside `classify`); where it is a block, the block stands for the try and
    the except's steps read as the block's (the step entered once, not as a block and an except). A
    loop's iterations (rows named as the loop, with an iteration number) are not its own work: the loop
    stays, its iterations folded into it (`loop_iterations`), their steps under it."""
    iterations = set(steps.loc[steps[C.iteration].notna(), C.step_key]) if C.iteration in steps else set()
    own = {k: box for k, box in transitions.own_work_in_run(steps).items() if k not in iterations}
    folded = loop_iterations(steps)
    if not own and not folded:
        return steps
    parent = dict(zip(steps[C.step_key], steps[C.parent_step_key], strict=True))
    boxed = dict(zip(steps[C.step_key], steps[C.type].isin(CONTAINER_TYPES), strict=True))
    handler = dict(zip(steps[C.step_key], steps[C.native_type].isin(HANDLER_NATIVE_TYPES), strict=True))
    call: dict[str, str] = {}                       # container -> the call (else the block) that stands for it
    for kid, box in own.items():
        if not boxed[kid]:
            call.setdefault(box, kid)
    for kid, box in own.items():
        if not handler[kid]:
            call.setdefault(box, kid)
    moved: dict[str, Any] = {box: parent.get(box) for box in set(own.values())}     # dropped -> its stand-in
    moved.update({kid: call[box] for kid, box in own.items() if boxed[kid] and box in call and kid != call[box]})
    moved.update(folded)

    def kept(key: Any) -> str | None:
        seen: set[str] = set()
        while isinstance(key, str) and key in moved and key not in seen:
            seen.add(key)
            key = moved[key]
        return key if isinstance(key, str) else None

    rest = steps[~steps[C.step_key].isin(moved)]
    return rest.assign(**{C.parent_step_key: [kept(p) for p in rest[C.parent_step_key]]})


def loop_iterations(steps: pd.DataFrame) -> dict[str, Any]:
    """{iteration's step key: its loop's} of the rows a loop's own row stands for: Logic Apps' ScopeRepetition
    and GCP's STEP_FOR_ITERATION rows, named as the loop. The Workflows page's rule (`step_rank`: per name, the
    lowest rank stands for the step), so the run page did not read them as a step "inside" the loop, 50 visits
    the Workflows page does not count. A name with iteration rows alone (its loop not collected) keeps them.
    A run without an iteration number has no such row: its ranks (a DuckDB query, ~20 ms, and every table of
    the run page folds the run again) are not read."""
    if steps.empty or C.iteration not in steps or steps[C.iteration].isna().all():
        return {}
    ranks = ranks_of(steps)
    lowest = ranks.groupby(steps[C.name], dropna=False).transform("min")
    folded = steps[(ranks == ITERATION) & (lowest < ITERATION)]
    return dict(zip(folded[C.step_key], folded[C.parent_step_key], strict=True))


def failing_step(steps: pd.DataFrame) -> dict[str, Any] | None:
    """The step that failed the run: the deepest failed step (its own error, e.g. an action's
    BadGateway rather than its loop's or run's generic "ActionFailed"), latest first among equals.
    A run whose failures were all caught gets its deepest caught step; None when nothing failed.
    A container's own work stands for it (`fold_own_work`)."""
    if steps is None or steps.empty:
        return None
    steps = fold_own_work(steps)
    for statuses in (RUN_FAILED, [str(Status.CAUGHT)]):
        failed = steps[steps[C.status].isin(statuses)]
        if not failed.empty:
            depth = _depths(steps)
            ranked = failed.assign(_depth=failed[C.step_key].map(depth).fillna(0),
                                   _has_error=failed[C.error].notna(),
                                   _at=pd.to_datetime(failed[C.ended_at].fillna(failed[C.started_at]), utc=True))
            ranked = ranked.sort_values(["_has_error", "_depth", "_at"], ascending=False, kind="stable")
            row = _present(ranked.iloc[0].drop(["_depth", "_has_error", "_at"]).to_dict())
            row["parent"] = _parent_names(steps).get(row[C.step_key])
            return row
    return None


def _present(row: dict[str, Any]) -> dict[str, Any]:
    """A step's row with its missing values None: a text column read from the store holds NaN where
    another row has text, and a surface printing `row.get("cause") or ""` said "nan"."""
    return {k: None if is_missing(v) else v for k, v in row.items()}


def _so_far(steps: pd.DataFrame, as_of: Any) -> pd.Series:
    """Each visit's duration in ms; a running visit's time from its start to `as_of` (none without it)."""
    ms = pd.to_numeric(steps[C.duration_ms], errors="coerce").astype("float64")
    if as_of is None or pd.isna(as_of):
        return ms
    open_ = (steps[C.status] == str(Status.RUNNING)) & ms.isna()
    elapsed = utc_stamp(as_of) - pd.to_datetime(steps[C.started_at], utc=True)
    return ms.where(~open_, (elapsed.dt.total_seconds() * 1000).clip(lower=0))


def seen_running(run: dict[str, Any], until: Any) -> pd.Timestamp:
    """When a running run was last seen running: the sync or import that wrote it (`collected_at`), never
    later than the window's end `until`; the window's end when it has none (as `stuck` and the Express
    advice cap it). A row without one was timed to the clock, its time so far growing between two loads of
    one window, the search's order and the run page each reading their own. Never before the run's start:
    a run a link opens from a sync newer than the window read "Still running after -5 min"."""
    end = utc_stamp(until)
    seen = run.get(C.collected_at)
    seen = end if seen is None or pd.isna(seen) else min(utc_stamp(seen), end)
    start = run.get(C.started_at)
    return seen if start is None or pd.isna(start) else max(seen, utc_stamp(start))


def seen_running_expr(collected_at: Any, started_at: Any, until: Any) -> Any:
    """`seen_running` as an ibis expression over a table's `collected_at` and `started_at` columns (the stuck
    check's form): the one rule for how long a running run has run, which the stuck check, the executions
    search (`ELAPSED_MS`) and the run page read. The stuck check aged a row without `collected_at` to its
    workflow's latest start or end while the search timed it to the window's end: one run, two ages."""
    import ibis

    end = lit_ts(utc_stamp(until).to_pydatetime())
    return ibis.greatest(ibis.least(ibis.coalesce(collected_at, end), end), started_at)


def seen_running_when(run: dict[str, Any], until: Any) -> str:
    """What `seen_running`'s time is, for a sentence: "when last collected" (the sync or import that wrote
    the run) or "at the window's end" (it was collected after the window ends, or has no collection time):
    a run page capped at the window's end said "when last collected" beside a time no sync had."""
    seen = run.get(C.collected_at)
    if seen is None or pd.isna(seen) or utc_stamp(seen) > utc_stamp(until):
        return "at the window's end"
    return "when last collected"


def last_seen_running(run: dict[str, Any], until: Any) -> pd.Timestamp | None:
    """When a run still running was last seen running in a window ending at `until` (`seen_running`); None
    for a finished run."""
    return seen_running(run, until) if run.get(C.status) == Status.RUNNING.value else None


def since(start: Any, as_of: Any) -> pd.Timedelta | None:
    """Time from `start` to `as_of` (None when either is missing)."""
    if start is None or as_of is None or pd.isna(start) or pd.isna(as_of):
        return None
    return utc_stamp(as_of) - utc_stamp(start)


def current_life_start(run: dict[str, Any], steps: pd.DataFrame | None) -> pd.Timestamp | None:
    """When a redriven run's current life began, from its steps: its first step started at or after the end of
    the last uncaught failure (the one that ended its previous life), else that failure's end (a redrive read
    before any step of it); None for a run never redriven or with no uncaught failure among `steps`.

    The rule of the stuck check (`stuck._redriven_life_starts`, over the store in Ibis) for one run's steps
    held in pandas: the run page dates the life with it, so its "this life" age is the one the stuck check
    judges (`tests/analysis/test_stuck_age.py` compares the two). Step Functions keeps a redriven run's start
    date, so its time since the start spans its failure and the wait for someone to redrive it."""
    count = run.get(C.redrive_count)
    if steps is None or steps.empty or count is None or pd.isna(count) or int(count) <= 0:
        return None
    failed = steps[steps[C.status].isin(measures.STEP_UNCAUGHT)]
    if failed.empty:
        return None
    fail_end = failed[C.ended_at].fillna(failed[C.started_at]).max()
    if pd.isna(fail_end):
        return None
    after = steps[C.started_at][steps[C.started_at] >= fail_end]
    return utc_stamp(after.min() if not after.empty else fail_end)


def running_step(steps: pd.DataFrame) -> dict[str, Any] | None:
    """The step a running run waits in: its deepest running step that is not a container (a loop
    runs while its iteration does), latest started first; None when no step is running."""
    if steps is None or steps.empty:
        return None
    steps = fold_own_work(steps)
    open_ = steps[steps[C.status] == str(Status.RUNNING)]
    if open_.empty:
        return None
    leaves = open_[~open_[C.type].isin(CONTAINER_TYPES)]
    open_ = leaves if not leaves.empty else open_
    depth = _depths(steps)
    ranked = open_.assign(_depth=open_[C.step_key].map(depth).fillna(0),
                          _at=pd.to_datetime(open_[C.started_at], utc=True))
    ranked = ranked.sort_values(["_depth", "_at"], ascending=False, kind="stable")
    row = _present(ranked.iloc[0].drop(["_depth", "_at"]).to_dict())
    row["parent"] = _parent_names(steps).get(row[C.step_key])
    return row


def visit_retries(steps: pd.DataFrame) -> pd.Series:
    """Each visit's tries after the first (docs/measures.md "Retries": attempts - 1; none recorded, none)."""
    return (steps[C.attempts].fillna(1) - 1).clip(lower=0).astype(int)


def run_retries(steps: pd.DataFrame) -> int:
    """A run's retries: the sum of its steps' (the run page's and Compare's figure, and the sum of the
    `retries` column of `collapsed_steps`)."""
    return 0 if steps is None or steps.empty else int(visit_retries(steps).sum())


def was_caught(failing: dict[str, Any]) -> bool:
    """Whether `failing_step`'s step was caught (the run handled it and went on), not what failed the run."""
    return failing.get(C.status) == Status.CAUGHT.value


def _parent_names(steps: pd.DataFrame) -> dict[str, str | None]:
    names = dict(zip(steps[C.step_key], steps[C.name], strict=True))
    return {k: names.get(p) if isinstance(p, str) else None
            for k, p in zip(steps[C.step_key], steps[C.parent_step_key], strict=True)}


STEP_GROUP_COLUMNS = ["step", "parent", C.type, "visits", "failed", "skipped", "running", C.attempts, "retries",
                      "total_ms", C.error, C.cause]


def collapsed_steps(steps: pd.DataFrame, as_of: Any = None) -> pd.DataFrame:
    """One row per (step name, parent step name): visits, failed and skipped visits (a Logic Apps action whose
    branch was not taken is a visit that did not run), visits still running, tries,
    retries, total duration and the first failure's error. A running visit has no duration: with
    `as_of` (when the run was last seen running) it counts its time so far, else none, and a step with
    no duration at all has none (NaN), never 0 ms. Loop and Map iterations fold into one row, and rows
    with failures come first, innermost first (the step that failed before the loop that reports it),
    so a failed step is never buried under its loop's iterations. A container's own work stands for
    it and a loop's iteration rows fold into the loop (`fold_own_work`), and where a name under one
    parent still has rows of two ranks (a try around a block and its except) the lowest rank's do, as
    on the Workflows graph (`step_rank.lowest_rank`)."""
    if steps is None or steps.empty:
        return pd.DataFrame(columns=STEP_GROUP_COLUMNS)
    steps = fold_own_work(steps)
    frame = steps.assign(parent=steps[C.step_key].map(_parent_names(steps)).fillna(""),
                         **{RANK: ranks_of(steps)},
                         failed=steps[C.status].isin(STEP_FAILED).astype(int),
                         skipped=(steps[C.status] == str(Status.SKIPPED)).astype(int),
                         running=(steps[C.status] == str(Status.RUNNING)).astype(int),
                         _ms=_so_far(steps, as_of),
                         retries=visit_retries(steps),
                         _depth=steps[C.step_key].map(_depths(steps)).fillna(0), _order=range(len(steps)))
    errors = frame[frame["failed"] == 1].drop_duplicates(["parent", C.name])[["parent", C.name, C.error, C.cause]]
    grouped = lowest_rank(frame.groupby(["parent", C.name, RANK], sort=False, dropna=False).agg(
        type=(C.type, "first"), visits=(C.step_key, "count"), failed=("failed", "sum"), skipped=("skipped", "sum"),
        running=("running", "sum"),
        attempts=(C.attempts, "sum"), retries=("retries", "sum"), total_ms=("_ms", lambda v: v.sum(min_count=1)),
        depth=("_depth", "max"), first=("_order", "min")).reset_index(), ["parent", C.name])
    out = grouped.merge(errors, on=["parent", C.name], how="left").rename(columns={C.name: "step"})
    out = out.assign(_failing=out["failed"] > 0).sort_values(["_failing", "depth", "first"],
                                                              ascending=[False, False, True], kind="stable")
    out["parent"] = out["parent"].replace("", None)
    return out[STEP_GROUP_COLUMNS].reset_index(drop=True)


RUN_COST_COLUMNS = ["step", "parent", "meter", "visits", "quantity", "usd"]


def run_cost(steps: pd.DataFrame, usage: pd.DataFrame) -> pd.DataFrame:
    """A run's billed usage per (step name, parent step name, meter), costliest first: a loop's or a
    Map's iterations fold into one row with their count, as in `collapsed_steps` (they were a row per
    iteration, 72 rows of one action in a 72-iteration loop), each under the parent the step table names
    (`fold_own_work`). Usage of no step reads `base.EXECUTION_STEP`."""
    if usage is None or usage.empty:
        return pd.DataFrame(columns=RUN_COST_COLUMNS)
    names = dict(zip(steps[C.step_key], steps[C.name], strict=True)) if steps is not None and not steps.empty else {}
    # Parents as the step table reads them (`fold_own_work`: a GCP try's call in the try's place, not
    # "check_status inside check_status"); a container folded away keeps its own.
    parents = {**_parent_names(steps), **_parent_names(fold_own_work(steps))} \
        if steps is not None and not steps.empty else {}
    frame = usage.assign(step=usage[C.step_key].map(names).fillna(EXECUTION_STEP),
                         parent=usage[C.step_key].map(parents).fillna(""), _order=range(len(usage)))
    grouped = frame.groupby(["step", "parent", C.meter], sort=False, dropna=False).agg(
        visits=(C.step_key, "nunique"), quantity=(C.quantity, "sum"), usd=("usd", "sum"),
        first=("_order", "min")).reset_index()
    grouped = grouped.sort_values(["usd", "first"], ascending=[False, True], kind="stable")
    grouped["parent"] = grouped["parent"].replace("", None)
    return grouped[RUN_COST_COLUMNS].reset_index(drop=True)


def run_usd(usage: pd.DataFrame | None) -> float:
    """A run's spend: the dollars of its billed usage (`run_cost`'s rows add up to it)."""
    return float(usage["usd"].sum()) if usage is not None and not usage.empty else 0.0


class PlanPaid(str, Enum):
    """How much of a run's usage its plan pays (`plan_paid`)."""

    ALL = "all"
    SOME = "some"
    NONE = "none"


def plan_paid(usage: pd.DataFrame, kind: Any) -> PlanPaid:
    """How much of a run's usage costs nothing per unit because its plan pays it (`pricing.free_per_unit`: a
    Logic Apps Standard workflow's built-in operations, billed in plan hours whatever runs): a run all of
    whose usage is such read "Cost $0" as if it ran free."""
    if usage is None or usage.empty or C.meter not in usage:
        return PlanPaid.NONE
    free = [_free_per_unit(m, kind) for m in usage[C.meter]]
    return PlanPaid.ALL if all(free) else PlanPaid.SOME if any(free) else PlanPaid.NONE


def _free_per_unit(meter: Any, kind: Any) -> bool:
    """`pricing.free_per_unit`; a meter this version does not know is not free (it is priced, or said unpriced)."""
    try:
        return pricing.free_per_unit(str(meter), str(kind) if kind is not None else None)
    except ValueError:
        return False


CHILD_RUN_COLUMNS = ["workflow", "runs", "failed", "running", C.error, C.cause, "first_failed", C.workflow_id]


def child_runs(con: Any, cloud: str, execution_id: str, since: dt.date | None = None) -> pd.DataFrame:
    """A run's child executions (a Distributed Map's items, each an execution naming the run in
    `parent_execution_id`) per child workflow: runs, failed and still running, the first failed child's own
    error and cause and its id; the workflows with failures first. Its Map step is one row of the run
    (States.ExceedToleratedFailureThreshold), the items' failures are theirs. Empty without children.

    `since`: the run's start date. A child starts after its parent, so on or after that day: the read opens the
    files from that day on, not every file of the cloud (a run of the last days on a year of daily files: from
    365 files to a few)."""
    bound = f" AND {C.start_date} >= $since" if since is not None else ""
    frame = run(con, q("""
        SELECT {workflow_id}, any_value({workflow_name}) AS workflow, count(*) AS runs,
               count(*) FILTER (WHERE {status} IN ({failed})) AS failed,
               count(*) FILTER (WHERE {status} = '{running}') AS running,
               arg_min({error}, ({started_at}, {execution_id})) FILTER (WHERE {status} IN ({failed})) AS {error},
               arg_min({cause}, ({started_at}, {execution_id})) FILTER (WHERE {status} IN ({failed})) AS {cause},
               arg_min({execution_id}, ({started_at}, {execution_id})) FILTER (WHERE {status} IN ({failed}))
                   AS first_failed
        FROM executions WHERE {cloud} = $cloud AND {parent_execution_id} = $eid{bound}
        GROUP BY {workflow_id} ORDER BY failed DESC, runs DESC, {workflow_id}
    """, failed=_in(RUN_FAILED), running=Status.RUNNING.value, bound=bound),
        {"cloud": cloud, "eid": execution_id, "since": since})
    return frame[CHILD_RUN_COLUMNS] if not frame.empty else pd.DataFrame(columns=CHILD_RUN_COLUMNS)


def run_day(value: Any) -> dt.date | None:
    """The UTC day of a run's start time or start date (a search row's `started_at`, a row's `start_date`): the
    day its rows are stored under, which `execution_detail`, `find_execution` and `child_runs` read by; None
    when missing."""
    if is_missing(value):
        return None
    at = pd.Timestamp(value)
    return (at.tz_convert("UTC") if at.tzinfo is not None else at).date()


def day_in_text(text: str | None) -> dt.date | None:
    """A day written as an address writes it (`2026-03-05`, a link's `a_day`), None for anything else: a day
    that only hints where a run's rows are needs no error when a hand-edited link mangles it."""
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def day_text(run: RunKey | None) -> str:
    """A found run's start day as an address writes it (`day_in_text` reads it back), "" for no run."""
    return run.start_date.isoformat() if run is not None else ""


# ---------------------------------------------------------------- two runs side by side

COMPARE_COLUMNS = ["step", "parent", "path", "a_visits", "b_visits", "a_ms", "b_ms", "delta_ms", "a_retries",
                   "b_retries", "a_error", "b_error"]


def compare_runs(a_steps: pd.DataFrame, b_steps: pd.DataFrame, a_as_of: Any = None,
                 b_as_of: Any = None) -> pd.DataFrame:
    """Two runs step by step: visits, total duration, retries and error of each, and where the
    paths differ ("only A" / "only B"); differences first (path, error, visits or retries), then the
    order of run A. `a_as_of` /
    `b_as_of`: when a running run was last seen running (`seen_running`), so its running step counts
    its time so far, as on the run page (`collapsed_steps`)."""
    a, b = (collapsed_steps(s, as_of).fillna({"parent": ""}) for s, as_of in ((a_steps, a_as_of), (b_steps, b_as_of)))
    keep = ["step", "parent", "visits", "total_ms", "retries", C.error]
    merged = a[keep].merge(b[keep], on=["step", "parent"], how="outer", suffixes=("_a", "_b"), indicator=True,
                           sort=False)
    merged["path"] = merged["_merge"].map({"both": "both", "left_only": "only A", "right_only": "only B"})
    out = pd.DataFrame({
        "step": merged["step"], "parent": merged["parent"].replace("", None), "path": merged["path"].astype(str),
        "a_visits": merged["visits_a"].fillna(0).astype(int), "b_visits": merged["visits_b"].fillna(0).astype(int),
        "a_ms": merged["total_ms_a"], "b_ms": merged["total_ms_b"],
        "delta_ms": merged["total_ms_b"] - merged["total_ms_a"],
        "a_retries": merged["retries_a"].fillna(0).astype(int), "b_retries": merged["retries_b"].fillna(0).astype(int),
        "a_error": merged[f"{C.error}_a"], "b_error": merged[f"{C.error}_b"]})
    # A difference: a step one run alone took, an error, or a step taken or retried a different number
    # of times (a loop of 26 items against one of 35, a retry storm in one run).
    differs = ((out["path"] != "both") | out["a_error"].notna() | out["b_error"].notna()
               | (out["a_visits"] != out["b_visits"]) | (out["a_retries"] != out["b_retries"]))
    out = out.assign(_differs=differs, _order=range(len(out)))
    out = out.sort_values(["_differs", "_order"], ascending=[False, True], kind="stable")
    return out[COMPARE_COLUMNS].reset_index(drop=True)


# ---------------------------------------------------------------- the run in its cloud's console

_AWS_ARN = re.compile(r"^arn:(?P<partition>aws[\w-]*):states:(?P<region>[a-z0-9-]+):[^:]*:(?P<resource>[^:]*)")
"""An execution ARN: its partition, region and resource type ("execution", or "express" for an Express run)."""
_AWS_CONSOLES = {"aws-us-gov": "console.amazonaws-us-gov.com", "aws-cn": "console.amazonaws.cn"}
"""The console of each AWS partition other than the commercial one (a GovCloud or China account cannot sign
in to console.aws.amazon.com)."""
_GCP_EXECUTION = re.compile(r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/workflows/"
                            r"(?P<workflow>[^/:]+)(?:/executions/(?P<execution>[^/]+))?")


def _express_start(started_at: Any) -> str:
    """The `?startDate=` (epoch milliseconds) of an Express run's console page: Step Functions keeps no Express
    run, and the page reads its history from CloudWatch Logs from that moment ("" without a start)."""
    if started_at is None or pd.isna(started_at):
        return ""
    return f"?startDate={int(pd.Timestamp(started_at).timestamp() * 1000)}"


def console_url(execution: dict[str, Any]) -> str | None:
    """The run's page in its cloud's console (None when its id does not say where it is).

    Every part taken from the record is percent-quoted, so an id cannot change the link's target."""
    cloud = str(execution.get(C.cloud) or "")
    eid = str(execution.get(C.execution_id) or "")
    if cloud == Cloud.AWS:
        match = _AWS_ARN.match(eid)
        region = str(execution.get(C.region) or (match.group("region") if match else ""))
        if not match or not region:
            return None
        r = quote(region, safe="")
        host = _AWS_CONSOLES.get(match.group("partition"), f"{r}.console.aws.amazon.com")
        if match.group("resource") == "express":
            return f"https://{host}/states/home?region={r}#/express-executions/details/{quote(eid, safe=':')}" \
                   + _express_start(execution.get(C.started_at))
        return f"https://{host}/states/home?region={r}#/v2/executions/details/{quote(eid, safe=':')}"
    if cloud == Cloud.AZURE:
        return _azure_portal_url(eid)
    if cloud == Cloud.GCP:
        return _gcp_console_url(eid, execution)
    return None


_AZURE_RUN = re.compile(r"^(?P<workflow>/subscriptions/[^/]+/resourcegroups/[^/]+/providers/(?:"
                        r"(?P<consumption>microsoft\.logic/workflows/[^/]+)"
                        r"|microsoft\.web/sites/[^/]+(?:/slots/[^/]+)?/workflows/[^/]+))"
                        r"/runs/[^/]+$", re.IGNORECASE)
"""A Logic Apps run id: a Consumption workflow's (`microsoft.logic/workflows/<wf>`) or a Standard logic
app's (`microsoft.web/sites/<app>/workflows/<wf>`, or in a deployment slot
`microsoft.web/sites/<app>/slots/<slot>/workflows/<wf>`, an ARM resource of its own: App Service's
WebApps_GetInstanceWorkflowSlot), `/runs/<run name>` (`collectors/azure/transform/ids.py`)."""

AZURE_MONITOR_BLADE = "https://portal.azure.com/#view/Microsoft_Azure_EMA/LogicAppsMonitorBlade/runid/"
"""The portal's run view of a Consumption workflow: the Logic Apps monitor blade, whose `runid` input is the
run's id percent-encoded whole (the link a workflow builds to its own run,
`encodeUriComponent(workflow()['run']['id'])`)."""


def _azure_portal_url(eid: str) -> str | None:
    """A Consumption run in the monitor blade (`AZURE_MONITOR_BLADE`). A run is no ARM resource the portal's
    `#resource/<id>` route opens (that link opened no run), and the monitor blade reads Consumption runs
    only: a Standard workflow's run links to its workflow's page, whose run history lists the run (the
    stable page one click away; the run itself is not deep-linked). None for an id naming no workflow."""
    match = _AZURE_RUN.match(eid)
    if not match:
        return None
    if match.group("consumption"):
        return AZURE_MONITOR_BLADE + quote(eid, safe="")
    return f"https://portal.azure.com/#resource{quote(match.group('workflow'), safe='/')}"


def console_opens_run(execution: dict[str, Any]) -> bool:
    """Whether `console_url` opens the run itself, not its workflow's page (a Standard Logic Apps run), so a
    button says which it opens."""
    if str(execution.get(C.cloud) or "") != Cloud.AZURE:
        return True
    match = _AZURE_RUN.match(str(execution.get(C.execution_id) or ""))
    return bool(match and match.group("consumption"))


def _gcp_console_url(eid: str, execution: dict[str, Any]) -> str | None:
    match = _GCP_EXECUTION.match(eid) or _GCP_EXECUTION.match(str(execution.get(C.workflow_id) or ""))
    if not match:
        return None
    name = match.group("execution") or str(execution.get(C.name) or "")
    if not name:
        return None
    return (f"https://console.cloud.google.com/workflows/workflow/{quote(match.group('location'), safe='')}/"
            f"{quote(match.group('workflow'), safe='')}/execution/{quote(name, safe='')}"
            f"?project={quote(match.group('project'), safe='')}")


# ---------------------------------------------------------------- the run's events

def run_events(steps: pd.DataFrame, attempts: pd.DataFrame) -> pd.DataFrame:
    """A run's events in time order: each step entered and exited (with its error), and each retry
    or failed try of a work step."""
    events: list[dict[str, Any]] = []
    for r in steps.itertuples(index=False):
        events.append({"time": r.started_at, "event": "step entered", "step": r.name, "type": r.type,
                       "status": r.status, "detail": ""})
        if not pd.isna(r.ended_at):
            events.append({"time": r.ended_at, "event": "step exited", "step": r.name, "type": r.type,
                           "status": r.status, "detail": _detail(r.error, r.cause)})
    names = dict(zip(steps[C.step_key], steps[C.name], strict=True)) if not steps.empty else {}
    for a in attempts.itertuples(index=False):
        if a.attempt > 1 or a.status != Status.SUCCEEDED.value:
            events.append({"time": a.started_at, "event": f"try {a.attempt}", "step": names.get(a.step_key, a.step_key),
                           "type": "attempt", "status": a.status,
                           "detail": _detail(a.error, a.cause)})
    frame = pd.DataFrame(events)
    if not frame.empty:
        frame = frame.sort_values("time", kind="stable").reset_index(drop=True)
        frame["time"] = pd.to_datetime(frame["time"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S.%f").str[:-3]
    return frame


def cause_text(error: Any, cause: Any) -> str:
    """A failure's cause as a person reads it beside its error: a Lambda error's JSON as its message
    (`format.fmt_cause`; it read raw, '{"errorMessage": ..., "requestId": ...}'), without the error's
    name it would repeat; "" when there is none (never "None" or "nan")."""
    said = error.strip() if isinstance(error, str) else ""
    shown = fmt_cause(cause)
    because = shown.strip() if isinstance(shown, str) else ""
    if said and because.startswith(said + ":"):
        because = because.removeprefix(said + ":").strip()
    return because


def _detail(error: Any, cause: Any) -> str:
    """Error and cause as one line, "error: cause" (`cause_text`), missing parts left out."""
    said = error.strip() if isinstance(error, str) else ""
    return ": ".join(part for part in (said, cause_text(error, cause)) if part)
