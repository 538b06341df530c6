"""CloudWatch Logs records of executions (Standard or Express, any level) -> rows.

A document is a list of records, or ``aws logs filter-log-events`` output whose messages are
the records as JSON text. Records become history event fields (`events.log_record_fields`) and
go through the same history builder as GetExecutionHistory output.
"""

from __future__ import annotations

import json
from typing import Any

from flowscope.collectors.aws import events as E
from flowscope.collectors.aws.transform.history import add_history
from flowscope.collectors.aws.transform.values import as_doc, is_execution_arn, redrive_count
from flowscope.collectors.native import ImportContext, NativeFormatError
from flowscope.model import Batch, Skip


def _log_records_of(doc: Any, ctx: ImportContext) -> tuple[list[Any], str, list[Skip]]:
    """The records of a log-records document (filter-log-events messages parsed), the prefix of
    their locations in error messages, and Skips for unreadable messages."""
    skips: list[Skip] = []
    if isinstance(doc, list):
        return doc, "", skips
    if isinstance(doc, dict) and isinstance(doc.get("events"), list):
        out = []
        loads = json.loads
        for i, ev in enumerate(doc["events"]):
            msg = ev.get("message") if isinstance(ev, dict) else None
            if isinstance(msg, str):
                try:
                    out.append(loads(msg))
                except ValueError as exc:
                    skips.append(Skip(ctx.source_name, f"events[{i}].message", f"log message is not JSON: {exc}"))
                    out.append(None)
                except RecursionError:
                    skips.append(Skip(ctx.source_name, f"events[{i}].message", "log message nested too deeply to read"))
                    out.append(None)
            elif isinstance(msg, dict):
                out.append(msg)
            else:
                skips.append(Skip(ctx.source_name, f"events[{i}]", "log event has no message"))
                out.append(None)
        return out, "events", skips
    raise NativeFormatError(ctx.source_name, "$", "not Step Functions log records (expected a list of "
                            "records or filter-log-events output with an 'events' list)")


def transform_log_records(doc: Any, ctx: ImportContext) -> Batch:
    """CloudWatch Logs records (Standard or Express, level ALL / ERROR / FATAL) -> rows.

    Records are grouped by ``execution_arn``, sorted by id (CloudWatch returns them by ingestion
    time, not id) and deduplicated on (execution_arn, id) (overlapping queries return the same
    record twice), split into event fields by `events.log_record_fields` (what `log_record_to_event` gives,
    without the dict) and run through the same history transform as GetExecutionHistory output.
    """
    doc = as_doc(doc, ctx)
    records, where, skips = _log_records_of(doc, ctx)
    sample = [r for r in records[:50] if r is not None]
    if sample and not any(isinstance(r, dict) and "execution_arn" in r for r in sample):
        raise NativeFormatError(ctx.source_name, f"{where}[0]", "records have no 'execution_arn': "
                                "not Step Functions execution log records")
    groups: dict[str, dict[int, tuple]] = {}
    redrives: dict[str, int] = {}
    split = E.log_record_fields
    for i, rec in enumerate(records):
        if rec is None:
            continue    # already a Skip (unreadable message)
        try:
            arn = rec["execution_arn"]
            fields = split(rec)
            if fields[4] is not None and fields[4].__class__ is not dict:
                raise ValueError(f"details is a {type(fields[4]).__name__}, not an object")
            rc = rec.get("redrive_count")
            rc = redrive_count(rc) if rc is not None and rc != "" else 0
            bucket = groups.get(arn)
            if bucket is None:
                if not is_execution_arn(arn):
                    raise ValueError(f"execution_arn {arn!r} is not an execution ARN")
                bucket = groups[arn] = {}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            skips.append(Skip(ctx.source_name, f"{where}[{i}]", f"malformed log record: {reason}"))
            continue
        eid = fields[0]
        first = bucket.get(eid)
        if first is None:
            bucket[eid] = fields
        elif first != fields:
            skips.append(Skip(ctx.source_name, f"{where}[{i}]", f"event id {eid} of {arn} appears again "
                                                                "with different content (the first is kept)"))
        if rc:
            redrives[arn] = max(redrives.get(arn, 0), rc)
    batch = Batch(skips=skips)
    for arn, bucket in groups.items():
        add_history(batch, _in_id_order(bucket), arn, ctx, None, redrives.get(arn), fields=True)
    if isinstance(doc, dict) and (doc.get("nextToken") or doc.get("NextToken")):
        # filter-log-events with --max-items: the executions going on in the next page were cut short
        batch.warnings.append(f"{ctx.source_name}: one page of filter-log-events output (it ends with a token for "
                              "the next): executions whose records go on after it are stored cut short; export "
                              "the log events whole (without --max-items) and import them again")
    return batch


_ENDED = frozenset({"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"})


def stream_key(record: Any) -> tuple[str, int, int] | None:
    """(execution ARN, event id, the id again when the record ends its execution, else 0): how the
    importer's bounded-memory reader (`collectors/streaming.py`) tells when an execution is whole.
    A record without a readable ARN or id names no execution (None, or id 0); the transform
    reports it."""
    if record.__class__ is not dict:
        return None
    arn = record.get("execution_arn")
    if arn.__class__ is not str:
        return None
    try:
        event_id = int(record["id"])
    except (KeyError, TypeError, ValueError, OverflowError):     # OverflowError: 1e400, an infinite float
        return arn, 0, 0
    kind = record.get("type")
    # a type that is no text (a list, an object) ends nothing; the transform skips the record, counted
    return arn, event_id, event_id if kind.__class__ is str and kind in _ENDED else 0


def _in_id_order(bucket: dict[int, tuple]) -> list[tuple]:
    """An execution's event fields by id (sorted only when they arrived out of order)."""
    events = list(bucket.values())
    prev = -1
    for eid in bucket:
        if eid < prev:
            events.sort(key=_first)
            break
        prev = eid
    return events


def _first(item: tuple) -> Any:
    return item[0]
