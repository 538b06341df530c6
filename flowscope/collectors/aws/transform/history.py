"""``aws stepfunctions get-execution-history`` documents -> the execution, its steps, attempts and usage.

The history does not name its execution: the ARN comes from ``ctx.execution_id``
(``--execution-arn``), from the describe-execution passed with it, or, for files imported
together, from pairing each history with the describe-execution that started at the same time
(`pair_histories`). `add_history` is the one path from events to rows: the log records format
and describe-execution items go through it too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flowscope.collectors.aws import events as E
from flowscope.collectors.aws.transform.assemble import assemble
from flowscope.collectors.aws.transform.builder import HistoryBuilder
from flowscope.collectors.aws.transform.names import DEFER_ASSEMBLE, NATIVE_STATUS
from flowscope.collectors.aws.transform.rows import history_rows
from flowscope.collectors.aws.transform.values import as_doc, redrive_count
from flowscope.collectors.native import ImportContext, NativeFormatError, Row
from flowscope.model import Batch, Skip


def transform_history(doc: Any, ctx: ImportContext) -> Batch:
    """`get-execution-history` output -> the execution, its steps, attempts and usage.

    The history does not name its execution: the ARN comes from ``ctx.execution_id``
    (``--execution-arn``) or from ``ctx.options["describe_execution"]["executionArn"]``.
    ``describe_execution`` also fills what the history lacks (billing details, Map Run parent,
    version / alias, status of a history fetched before the end).
    """
    doc = as_doc(doc, ctx)
    if isinstance(doc, list):
        doc = {"events": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        raise NativeFormatError(ctx.source_name, "$", "not a get-execution-history document "
                                "(expected an object with an 'events' list)")
    describe = ctx.options.get("describe_execution") or None
    arn = ctx.execution_id or (describe or {}).get("executionArn")
    if not arn:
        raise NativeFormatError(ctx.source_name, "$", "get-execution-history output does not name "
                                "its execution: pass the execution ARN (--execution-arn)")
    if E.parse_arn(arn) is None:
        raise NativeFormatError(ctx.source_name, "execution_id",
                                f"{arn!r} is not a Step Functions execution ARN")
    if describe is not None and ctx.options.get(DESCRIBE_SOURCE):      # a file's: the API's is botocore-checked
        check_describe(describe, ctx.options[DESCRIBE_SOURCE])
    events, skips = sorted_events(doc["events"], ctx, "events")
    batch = Batch(skips=list(skips))
    add_history(batch, events, arn, ctx, describe)
    if doc.get("nextToken") or doc.get("NextToken"):
        # one page (the API's, or the CLI's --max-items): read as whole, the run looked still running,
        # or finished with its later steps missing
        batch.warnings.append(f"{ctx.source_name}: one page of the execution's history (it ends with a token for "
                              f"the next): the events after its {len(doc['events'])} are missing; export the "
                              "history whole (without --max-items or --starting-token: pages imported apart "
                              "are not joined) and import it again")
    return batch


def add_history(batch: Batch, events: list[Any], execution_arn: str, ctx: ImportContext,
                describe: dict[str, Any] | None = None, redrive_count: int | None = None,
                fields: bool = False) -> None:
    """One execution's history -> its rows, appended to `batch` (no per-execution Batch).

    ``fields``: the events are already ``(id, previous id, timestamp, type, details)`` tuples.
    """
    builder = HistoryBuilder(execution_arn, ctx.source_name)
    if fields:
        builder.feed_fields(events)
    else:
        builder.feed(events)
    execution, steps, attempts = history_rows(builder, ctx, describe, redrive_count)
    for visit in builder.steps:      # a branch and its last visit point at each other: unlink them,
        visit.scope.last = None      # so the builder is freed at once, not by the cyclic collector
    if builder.skips:
        batch.skips.extend(builder.skips)
    if builder.unknown:
        unknown = batch.unknown_event_types
        for key, n in builder.unknown.items():
            unknown[key] = unknown.get(key, 0) + n
    if execution is None:
        return
    if ctx.options.get(DEFER_ASSEMBLE):
        usage: list[Row] = []        # the writer's assemble_batch assembles every execution anyway
    else:
        steps, attempts, usage = assemble(execution, steps, attempts, None)
    batch.executions.append(execution)
    batch.steps.extend(steps)
    batch.attempts.extend(attempts)
    batch.usage.extend(usage)


def _event_problem(ev: dict) -> str | None:
    """Why a history event cannot be used (checked here, where its place in the file is known)."""
    info = E.EVENT_TYPES.get(ev["type"]) if ev["type"].__class__ is str else None
    if ev["type"].__class__ is not str:
        return f"event type {ev['type']!r} is not a string"
    if info is not None and ev.get(info[1]) is not None and ev[info[1]].__class__ is not dict:
        return f"{info[1]} is a {type(ev[info[1]]).__name__}, not an object"
    try:
        int(ev.get("previousEventId") or 0)
        E.parse_timestamp(ev.get("timestamp"))
    except (TypeError, ValueError, OverflowError) as exc:
        return f"unreadable previousEventId or timestamp: {exc}"
    return None


def sorted_events(events: list[Any], ctx: ImportContext, where: str) -> tuple[list[dict], list[Skip]]:
    """Events sorted by id with identical duplicates removed; unusable entries, and a second event
    under an id already seen with different content (the first is kept), become Skips."""
    good: dict[int, dict] = {}
    skips: list[Skip] = []
    for i, ev in enumerate(events):
        if not isinstance(ev, dict) or "type" not in ev or "id" not in ev:
            skips.append(Skip(ctx.source_name, f"{where}[{i}]", "not a history event (no id / type)"))
            continue
        eid = ev["id"]
        try:
            eid = eid if eid.__class__ is int else int(eid)
        except (TypeError, ValueError, OverflowError):           # OverflowError: 1e400, an infinite float
            skips.append(Skip(ctx.source_name, f"{where}[{i}]", f"event id {eid!r} is not a number"))
            continue
        problem = _event_problem(ev)
        if problem is not None:
            skips.append(Skip(ctx.source_name, f"{where}[{i}]", f"event id {eid}: {problem}"))
            continue
        first = good.get(eid)
        if first is None:
            good[eid] = ev
        elif first != ev:
            skips.append(Skip(ctx.source_name, f"{where}[{i}]", f"event id {eid} appears again with "
                                                                "different content (the first is kept)"))
    if not good:
        return [], skips
    # Histories arrive in id order (or reversed with reverseOrder=true): avoid a sort when sorted.
    ids = list(good)
    if all(ids[i] < ids[i + 1] for i in range(len(ids) - 1)):
        return list(good.values()), skips
    return [good[k] for k in sorted(ids)], skips


# ---------------------------------------------------------------- pairing with describe-execution

DESCRIBE_SOURCE = "describe_execution_source"
"""`ImportContext.options` key: where the ``describe_execution`` given with a history came from (its
file, for the errors about it)."""


def check_describe(describe: dict[str, Any], source: str) -> None:
    """NativeFormatError naming `source` and the field, for a describe-execution field the history's
    rows would fail on: read while transforming the history, a bad `stopDate` was said as an error of
    the history file, which was fine."""
    def bad(key: str, why: str) -> NativeFormatError:
        return NativeFormatError(source, key, f"{describe[key]!r} {why} (the describe-execution imported "
                                 "with a get-execution-history; fix it or import the history alone with "
                                 "--execution-arn)")

    for key in ("startDate", "stopDate"):
        try:
            E.parse_timestamp(describe.get(key))
        except (TypeError, ValueError, OverflowError):
            raise bad(key, "is not a timestamp") from None
    if describe.get("redriveCount") is not None:
        try:
            redrive_count(describe["redriveCount"])
        except ValueError:
            raise bad("redriveCount", "is not a count") from None
    status = describe.get("status")
    if status is not None and (status.__class__ is not str or status not in NATIVE_STATUS):
        raise bad("status", f"is not a Step Functions execution status ({', '.join(NATIVE_STATUS)})")
    if describe.get("billingDetails") is not None and not isinstance(describe["billingDetails"], dict):
        raise bad("billingDetails", "is not an object")


def history_start(doc: Any) -> dt.datetime | None:
    """When a get-execution-history document's execution started (its ExecutionStarted event)."""
    events = doc.get("events") if isinstance(doc, dict) else doc
    for ev in events if isinstance(events, list) else []:
        if isinstance(ev, dict) and ev.get("type") == "ExecutionStarted":
            try:
                return E.parse_timestamp(ev.get("timestamp"))
            except (TypeError, ValueError):
                return None
    return None


def _describe_start(doc: dict) -> dt.datetime | None:
    try:
        return E.parse_timestamp(doc.get("startDate"))
    except (TypeError, ValueError):
        return None


def is_describe_execution(doc: Any) -> bool:
    """One describe-execution document (not a list-executions page)."""
    return isinstance(doc, dict) and isinstance(doc.get("executionArn"), str) and "executions" not in doc


def pair_histories(histories: list[tuple[str, Any]], describes: list[tuple[str, dict]]) -> dict[str, dict]:
    """Bare get-execution-history documents ``(source, doc)`` -> the describe-execution each belongs to.

    `get-execution-history` does not name its execution, `describe-execution` does: a history
    pairs with the describe whose ``startDate`` is its ExecutionStarted time; one history and
    one describe left over pair when their times do not contradict. Anything else is ambiguous
    and raises NativeFormatError saying what to do (guessing would file steps under the wrong run).
    """
    free = list(describes)
    pairs: dict[str, dict] = {}
    waiting: list[tuple[str, dt.datetime | None]] = []
    for source, doc in histories:
        start = history_start(doc)
        same = [d for d in free if start is not None and _describe_start(d[1]) == start]
        if len(same) == 1:
            pairs[source] = same[0][1]
            free.remove(same[0])
        else:
            waiting.append((source, start))
    if len(waiting) == 1 and len(free) == 1:
        source, start = waiting[0]
        other = _describe_start(free[0][1])
        if start is None or other is None or start == other:
            pairs[source] = free[0][1]
            waiting = []
    if waiting:
        names = ", ".join(source for source, _ in waiting)
        offered = f" {len(free)} describe-execution file(s) ({', '.join(s for s, _ in free)}) did not match " \
                  "them by start time;" if free else ""
        raise NativeFormatError(waiting[0][0], "$", f"get-execution-history output does not name its execution "
                                f"({names});{offered} import each history with --execution-arn ARN, or pass them "
                                "one pair at a time (the describe-execution JSON with its history)")
    return pairs
