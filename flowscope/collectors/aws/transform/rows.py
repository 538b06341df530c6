"""What the history builder kept -> model rows: the execution, one step per visit, one attempt
per try of a Task.

A failed visit is CAUGHT when the state still exited (a Catch moved on), FAILED / TIMED_OUT
when the failure ended the execution; a visit still open when the execution stopped was cut
short (ABORTED, or TIMED_OUT with the execution).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flowscope.collectors.aws import events as E
from flowscope.collectors.aws.transform.builder import HistoryBuilder
from flowscope.collectors.aws.transform.causes import readable_cause
from flowscope.collectors.aws.transform.names import (
    ABORTED,
    CAUGHT,
    CLOUD,
    FAILED,
    FAILURES,
    NATIVE_STATUS,
    RUNNING,
    STEP_OTHER,
    STEP_TYPES,
    SUCCEEDED,
    TIMED_OUT,
)
from flowscope.collectors.aws.transform.values import (
    error_from_output,
    execution_name,
    identity,
    payload,
    text,
)
from flowscope.collectors.aws.transform.values import redrive_count as as_redrive_count
from flowscope.collectors.aws.transform.visits import Visit
from flowscope.collectors.native import ImportContext, Row
from flowscope.model import C, Skip, duration_ms

_OPEN_TRY_ENDS = (RUNNING, TIMED_OUT, ABORTED, FAILED)


def history_rows(builder: HistoryBuilder, ctx: ImportContext, describe: dict[str, Any] | None,
                 redrive_count: int | None = None) -> tuple[Row | None, list[Row], list[Row]]:
    """(execution, steps, attempts) of one execution; (None, [], []) with a Skip when nothing
    in it is timestamped."""
    describe = describe or {}
    execution = _execution_row(builder, ctx, describe, redrive_count)
    if execution is None:
        return None, [], []
    status = execution[C.status]
    if execution[C.native_status] == "FAILED" and builder.culprit.__class__ is Visit:
        _blame(builder.culprit)
    step_rows: list[Row] = []
    attempt_rows: list[Row] = []
    wf = execution[C.workflow_id]
    arn = builder.arn
    start_date = execution[C.start_date]
    ended_at = execution[C.ended_at]
    exec_failed = status in FAILURES
    for s in builder.steps:
        if s.exited is not None and s.fail is None and s.ntype != "Fail":
            st, end, error, cause = SUCCEEDED, s.exited, s.error, s.cause     # most visits: no call
        elif s.unlogged:
            # known only by its failures: it failed the run if the run's failure points to it (or,
            # pointing to an event not logged, is the run's last failure with the run's error), else
            # the run went on past it (a Retry or Catch handled it: how was not logged)
            culprit = builder.culprit
            failed_run = culprit is s or (culprit.__class__ is not Visit and exec_failed
                                          and s is builder.steps[-1] and s.error == builder.error)
            st = (s.fail or FAILED) if failed_run else CAUGHT
            end, error, cause = s.tries[-1][1] if s.tries else ended_at, s.error, s.cause
        else:
            st, end, error, cause = _visit_outcome(s, status, ended_at)
        if st in FAILURES and error is None and exec_failed and st != ABORTED:
            error, cause = builder.error, builder.cause
        ntype = s.ntype
        if ntype == "Task":
            attempts = len(s.tries) or 1
        elif ntype == "Parallel" or ntype == "Map":
            attempts = s.starts or 1
        else:
            attempts = 1
        step_rows.append({
            C.cloud: CLOUD,
            C.workflow_id: wf,
            C.execution_id: arn,
            C.step_key: s.key,
            C.previous_step_key: s.prev_key,
            C.parent_step_key: s.scope.parent.key if s.scope.parent is not None else None,
            C.iteration: s.scope.iteration,
            C.name: s.name,
            C.type: STEP_TYPES.get(ntype, STEP_OTHER),
            C.native_type: ntype,
            C.resource: s.resource,
            C.status: st,
            C.started_at: s.entered,
            C.ended_at: end,
            C.duration_ms: duration_ms(s.entered, end),
            C.attempts: attempts,
            C.error: text(error),
            C.cause: readable_cause(cause),
            C.start_date: start_date,
        })
        if ntype == "Task" and s.tries:
            _add_attempts(attempt_rows, s, wf, arn, start_date, st, end, error, cause)
    return execution, step_rows, attempt_rows


def _execution_row(builder: HistoryBuilder, ctx: ImportContext, describe: dict[str, Any],
                   redrive_count: int | None) -> Row | None:
    ident = identity(builder.arn)
    started_at = builder.started_at or E.parse_timestamp(describe.get("startDate")) or builder.first_ts
    if started_at is None:
        builder.skips.append(Skip(builder.source_name, builder.arn, "execution has no timestamped event"))
        return None
    native = builder.native_status
    ended_at = builder.ended_at
    error, cause = builder.error, builder.cause
    if native == "RUNNING" and describe.get("status") and describe["status"] != "RUNNING":
        native = describe["status"]
        ended_at = E.parse_timestamp(describe.get("stopDate"))
        error, cause = describe.get("error"), describe.get("cause")
    in_bytes, in_hash = payload(builder.input if builder.input is not None else describe.get("input"))
    out_bytes, _ = payload(builder.output if builder.output is not None else describe.get("output"))
    billing = describe.get("billingDetails") or {}
    attributes = _execution_attributes(builder, describe)
    rc = max(builder.redrive_count, int(redrive_count or 0), as_redrive_count(describe.get("redriveCount") or 0))
    return {
        C.cloud: CLOUD,
        C.account: ident[C.account],
        C.region: ident[C.region],
        C.workflow_id: ident[C.workflow_id],
        C.workflow_name: ident[C.workflow_name],
        C.kind: ident[C.kind],
        C.revision: None,
        C.execution_id: builder.arn,
        C.name: execution_name(builder.arn) or describe.get("name"),
        C.status: NATIVE_STATUS.get(native, RUNNING),
        C.native_status: native,
        C.started_at: started_at,
        C.ended_at: ended_at,
        C.duration_ms: duration_ms(started_at, ended_at),
        C.error: text(error),
        C.cause: readable_cause(cause),
        C.redrive_count: rc,
        C.parent_execution_id: None,     # a Map Run child's parent EXECUTION: `parents.link_parents`
        C.billed_duration_ms: billing.get("billedDurationInMilliseconds"),
        C.billed_memory_mb: billing.get("billedMemoryUsedInMB"),
        C.input_bytes: in_bytes,
        C.output_bytes: out_bytes,
        C.input_sha256: in_hash,
        C.event_count: builder.event_count,
        C.attributes: json.dumps(attributes, sort_keys=True) if attributes else None,
        C.source: str(ctx.source),
        C.collected_at: ctx.seen_at,
        C.start_date: started_at.date(),
    }


def _execution_attributes(builder: HistoryBuilder, describe: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if not builder.has_started_event:
        attributes["partial_history"] = True     # log level ERROR/FATAL: no ExecutionStarted
    if builder.orphans:
        attributes["orphan_events"] = builder.orphans
    if builder.map_runs:
        attributes["map_run_arns"] = builder.map_runs
        # every run of a retried Map to its visit (the step's resource names only the last)
        attributes["map_run_steps"] = builder.map_run_steps
    for key in ("stateMachineVersionArn", "stateMachineAliasArn", "mapRunArn", "redriveStatus"):
        if describe.get(key):
            attributes[key] = describe[key]
    return attributes


def _blame(culprit: Visit) -> None:
    """The state the ExecutionFailed event points back to failed the execution, even when it
    recorded no failure of its own (e.g. States.Runtime on a path): FAILED, and so are the open
    Parallel / Map states around it."""
    node: Visit | None = culprit
    while node is not None:
        if node.exited is None and node.fail is None and not node.aborted and node.ntype != "Fail":
            node.fail = FAILED
        node = node.scope.parent


def _visit_outcome(s: Visit, status: str, ended_at: dt.datetime | None) -> tuple[str, Any, Any, Any]:
    """(status, end, error, cause) of one visit, given the execution's status and end."""
    error, cause = s.error, s.cause
    end = s.exited
    if s.ntype == "Fail":
        return FAILED, s.entered, error, cause
    if end is not None:
        if s.fail is None:
            return SUCCEEDED, end, error, cause
        if error is None:
            error, cause = error_from_output(s.exit_output)
        return CAUGHT, end, error, cause
    if s.fail is not None:
        if status == RUNNING and not s.aborted and _still_open(s):
            # the execution goes on and nothing closed around the visit: a Retry is waiting its
            # interval or running the next try (the failed tries are in the attempts rows)
            return RUNNING, None, None, None
        last = s.tries[-1][1] if s.tries else None
        return s.fail, last if last is not None else (s.aborted_at or ended_at), error, cause
    if s.aborted:
        return ABORTED, s.aborted_at, error, cause
    if status == RUNNING:
        return RUNNING, None, error, cause
    if status in FAILURES:
        # Still open when the execution stopped: cut short (a sibling branch failed, the
        # execution was stopped or timed out).
        return (TIMED_OUT if status == TIMED_OUT else ABORTED), ended_at, error, cause
    return SUCCEEDED, None, error, cause


def _still_open(s: Visit) -> bool:
    """Whether nothing around a visit has ended: every Parallel / Map it runs in is still open (a
    failure inside a branch that a closed container caught or failed with is final)."""
    node = s.scope.parent
    while node is not None:
        if node.closed or node.exited is not None or node.aborted:
            return False
        node = node.scope.parent
    return True


def _add_attempts(out: list[Row], s: Visit, wf: str, arn: str, start_date: dt.date, st: str, end: Any,
                  error: Any, cause: Any) -> None:
    """One attempts row per try of a Task visit."""
    last = len(s.tries)
    for n, t in enumerate(s.tries, start=1):
        t_status = t[2]
        t_end = t[1]
        t_error, t_cause = t[3], t[4]
        if t_status is None:
            # an open try ends with its step; one that failed the execution (e.g. a
            # States.Runtime of a .sync job) failed with the step's error
            t_status = st if st in _OPEN_TRY_ENDS else ABORTED
            if t_status != RUNNING:
                t_end = end
            if t_status == FAILED and n == last:
                t_error, t_cause = error, cause
            elif t_status == FAILED:
                t_status = ABORTED
        out.append({
            C.cloud: CLOUD,
            C.workflow_id: wf,
            C.execution_id: arn,
            C.step_key: s.key,
            C.attempt: n,
            C.started_at: t[0],
            C.ended_at: t_end,
            C.duration_ms: duration_ms(t[0], t_end),
            C.status: t_status,
            C.error: text(t_error),
            C.cause: readable_cause(t_cause),
            C.start_date: start_date,
        })
