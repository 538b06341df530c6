"""Executions rebuilt from CloudWatch Logs: Express workflows, and Standard ones logging at ALL.

Express workflows have no history API: their executions exist only as the log records of the
log group named in the state machine's `loggingConfiguration`. Standard machines that log at
level ALL can be collected the same way for far fewer API calls (one FilterLogEvents page holds
up to 10,000 records of many executions, against at least one GetExecutionHistory per
execution); `choose_path` picks the cheaper path per machine and says why.

- FilterLogEvents on the log group, windowed by time (the scope's lower bound minus the
  longest an Express execution can run) and paginated to the end; a log group shared by several
  machines is read once per sync. Expired tokens restart the window; records are de-duplicated
  by event id, so nothing doubles.
- Records are the documented JSON (`id`, `type`, `execution_arn`, `event_timestamp`, ...); a
  record that is not JSON or lacks those fields is skipped and counted, never fatal.
- Logging OFF (nothing to read), or ERROR / FATAL (only failures are logged) is said plainly in
  the collection_runs row: those executions are missing or partial.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flowscope.collectors.aws.clients import error_code
from flowscope.collectors.aws.events import LOG_RECORD_KEYS, state_machine_arn
from flowscope.collectors.aws.stepfunctions import (
    TERMINAL,
    ScopeContext,
    as_collection_error,
    run_history_fetches,
)
from flowscope.collectors.base import gc_paused, prefetched
from flowscope.model import Skip, Source, utc

EXPRESS_MAX_DURATION = dt.timedelta(minutes=5)
FILTER_PAGE_LIMIT = 10_000
LOG_RECORDS_PER_PAGE = 2_500     # typical page without execution data (1 MB / ~400 bytes)
HISTORY_RATE, LOGS_RATE = 20.0, 5.0   # documented refill per second of the two paths' APIs
STARTED = "ExecutionStarted"
ENDED = frozenset({"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"})
FULL_LEVELS = frozenset({"ALL"})


@dataclass(frozen=True)
class LoggingInfo:
    level: str                    # ALL | ERROR | FATAL | OFF
    include_data: bool
    log_group: str | None         # name, from the destination's log group ARN

    @property
    def complete(self) -> bool:
        return self.level in FULL_LEVELS and self.log_group is not None


def logging_info(describe: dict[str, Any]) -> LoggingInfo:
    config = describe.get("loggingConfiguration") or {}
    level = str(config.get("level") or "OFF").upper()
    group = None
    for destination in config.get("destinations") or []:
        arn = (destination.get("cloudWatchLogsLogGroup") or {}).get("logGroupArn")
        if arn:
            group = log_group_name(arn)
            break
    return LoggingInfo(level, bool(config.get("includeExecutionData")), group if level != "OFF" else None)


def log_group_name(arn: str) -> str:
    """`arn:aws:logs:R:A:log-group:NAME:*` -> `NAME` (a bare name is returned as is)."""
    if ":log-group:" not in arn:
        return arn
    name = arn.split(":log-group:", 1)[1]
    return name[:-2] if name.endswith(":*") else name


def choose_path(describe: dict[str, Any], new_executions: int, events_per_execution: float,
                *, preference: str = "auto") -> tuple[str, dict[str, Any]]:
    """'history' or 'logs' for a Standard machine, with the estimate that decided it.

    Cost is measured in seconds of the documented sustained quota: the history path needs at
    least one GetExecutionHistory (20/s) per 1,000 events of each new execution; the logs path
    one FilterLogEvents (5/s) per page of records.
    """
    info = logging_info(describe)
    history_calls = new_executions * max(1, math.ceil(events_per_execution / 1000))
    log_calls = max(1, math.ceil(new_executions * events_per_execution / LOG_RECORDS_PER_PAGE))
    estimate = {"new_executions": new_executions, "events_per_execution": round(events_per_execution, 1),
                "history_calls": history_calls, "log_calls": log_calls,
                "history_s": round(history_calls / HISTORY_RATE, 2), "logs_s": round(log_calls / LOGS_RATE, 2)}
    if preference == "history" or not info.complete:
        reason = "configured" if preference == "history" else f"logging level {info.level}"
        return "history", {**estimate, "reason": reason}
    if preference == "logs":
        return "logs", {**estimate, "reason": "configured"}
    if new_executions and log_calls / LOGS_RATE < history_calls / HISTORY_RATE:
        return "logs", {**estimate, "reason": "fewer quota-seconds"}
    return "history", {**estimate, "reason": "fewer quota-seconds" if new_executions else "nothing new"}


def estimate_events(definition: str | None) -> float:
    """Rough events per execution from a definition: ~2 per state, 3 per task, + start/end."""
    try:
        states = _count_states(json.loads(definition or "{}"))
    except (TypeError, ValueError):
        states = (0, 0)
    plain, tasks = states
    return 2.0 + 2.0 * plain + 5.0 * tasks


def _count_states(node: Any) -> tuple[int, int]:
    plain = tasks = 0
    if isinstance(node, dict):
        for state in (node.get("States") or {}).values():
            if not isinstance(state, dict):
                continue
            if state.get("Type") == "Task":
                tasks += 1
            else:
                plain += 1
            for child in [*(state.get("Branches") or []), state.get("ItemProcessor"), state.get("Iterator")]:
                p, t = _count_states(child)
                plain, tasks = plain + p, tasks + t
    return plain, tasks


# ---------------------------------------------------------------- reading

def filter_log_events(logs: Any, group: str, start_ms: int | None, end_ms: int) -> Iterator[list[dict[str, Any]]]:
    """Pages of events of one log group in [start_ms, end_ms], each event once."""
    seen: set[str] = set()
    restarts = 0
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"logGroupName": group, "endTime": end_ms, "limit": FILTER_PAGE_LIMIT}
        if start_ms is not None:
            kwargs["startTime"] = start_ms
        if token:
            kwargs["nextToken"] = token
        try:
            page = logs.filter_log_events(**kwargs)
        except Exception as exc:  # noqa: BLE001
            message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", "")).lower()
            if (token and restarts < 3 and (error_code(exc) == "InvalidToken"
                                             or (error_code(exc) == "InvalidParameterException" and "token" in message))):
                restarts += 1
                token = None
                continue
            raise
        events = page.get("events", [])
        fresh = []
        for event in events:
            event_id = event.get("eventId")
            if event_id is None or event_id not in seen:
                if event_id is not None:
                    seen.add(event_id)
                fresh.append(event)
        yield fresh
        token = page.get("nextToken")
        if not token:
            return


def parse_records(events: list[dict[str, Any]], group: str, wanted: set[str],
                  by_machine: dict[str, list[dict[str, Any]]], skips: list[Skip],
                  machine_of: dict[str, str | None]) -> int:
    """Parse log events into records, kept per state machine in `wanted`; returns records parsed."""
    loads = json.loads
    parsed = 0
    for event in events:
        message = event.get("message")
        try:
            record = loads(message)
            arn = record["execution_arn"]
            for key in LOG_RECORD_KEYS:
                if key not in record:
                    raise KeyError(key)
        except (TypeError, ValueError, KeyError) as exc:
            skips.append(Skip(f"FilterLogEvents {group}", f"{event.get('logStreamName')}#{event.get('eventId')}",
                              f"malformed log record: {type(exc).__name__} {str(exc)[:80]}"))
            continue
        machine = machine_of.get(arn, "")
        if machine == "":
            machine = machine_of[arn] = state_machine_arn(arn)
        if machine in wanted:
            by_machine[machine].append(record)
            parsed += 1
    return parsed


def collect_log_group(sc: ScopeContext, group: str, machines: dict[str, dict[str, Any]],
                      listed: dict[str, dict[str, dict[str, Any]]]) -> None:
    """Read one log group for the machines that log to it; transform per machine.

    `listed` holds, for Standard machines on the logs path, the executions ListExecutions
    returned that still need collecting: any the logs do not complete fall back to history.
    """
    window = sc.window
    start = window.lower_bound - EXPRESS_MAX_DURATION if window.lower_bound else None
    start_ms = int(start.timestamp() * 1000) if start else None
    end_ms = int(window.end.timestamp() * 1000)
    wanted = set(machines)
    by_machine: dict[str, list[dict[str, Any]]] = defaultdict(list)
    skips: list[Skip] = []
    machine_of: dict[str, str | None] = {}
    pages = records = 0
    try:
        # pages are fetched one ahead of parsing: the parse overlaps the next round trip and its
        # wait for a FilterLogEvents token
        with gc_paused():
            for events in prefetched(filter_log_events(sc.clients.logs, group, start_ms, end_ms)):
                pages += 1
                records += parse_records(events, group, wanted, by_machine, skips, machine_of)
    except Exception as exc:  # noqa: BLE001
        sc.result.record_error(as_collection_error(exc, "FilterLogEvents", group))
        sc.gap(None)
        return
    finally:
        sc.result.count("log_pages", pages)
        sc.result.count("log_records", records)
    if skips:
        sc.result.count("log_records_malformed", len(skips))
        from flowscope.model import Batch
        sc.sink.add(Batch(skips=skips))

    fallback: list[dict[str, Any]] = []
    for arn, describe in machines.items():
        kept = select_records(sc, by_machine.pop(arn, []), express=describe.get("type") == "EXPRESS",
                              listed=listed.get(arn))
        complete = _complete_executions(kept) if listed.get(arn) else set()
        if kept:
            with gc_paused():
                batch = sc.formats["aws.log_records"](kept, sc.ctx(f"FilterLogEvents {group}", Source.LOGS))
            del kept
            sc.sink.add(batch)
            sc.result.count("executions_from_logs", len(batch.executions))
        if listed.get(arn):
            for exec_arn, item in listed[arn].items():
                if item.get("status") in TERMINAL and exec_arn not in complete:
                    fallback.append(item)     # logs late or incomplete: take the history
    if fallback:
        sc.result.count("log_path_history_fallback", len(fallback))
        run_history_fetches(sc, fallback)


def _complete_executions(records: list[dict[str, Any]]) -> set[str]:
    started, ended = set(), set()
    for record in records:
        if record["type"] == STARTED:
            started.add(record["execution_arn"])
        elif record["type"] in ENDED:
            ended.add(record["execution_arn"])
    return started & ended


def select_records(sc: ScopeContext, records: list[dict[str, Any]], *, express: bool,
                   listed: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Drop executions whose records are only a tail already collected in full.

    An execution whose ExecutionStarted record is outside the window was collected by an earlier
    sync if it is stored as terminal (Standard: also if stored RUNNING, the history revisit
    takes it); keeping a tail would replace the whole execution by a fragment.
    """
    if not records:
        return []
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[record["execution_arn"]].append(record)
    has_start = {arn for arn, rs in groups.items() if any(r["type"] == STARTED for r in rs)}
    stored = sc.load_stored(list(groups))
    kept: list[dict[str, Any]] = []
    for arn, rs in groups.items():
        status = stored.get(arn)
        if status in TERMINAL:
            sc.result.count("executions_skipped_terminal")
            continue
        if arn not in has_start and not express and status is not None:
            sc.result.count("log_tails_dropped")      # stored RUNNING: the history revisit takes it
            continue
        kept.extend(rs)
    sc.mark_seen(list(groups))
    return kept


def logging_warning(describe: dict[str, Any]) -> str | None:
    """The collection_runs warning for an Express machine whose logs cannot give whole executions."""
    info = logging_info(describe)
    name = describe.get("name") or describe.get("stateMachineArn")
    if info.level == "OFF" or info.log_group is None:
        return (f"Express state machine {name}: logging is OFF (or has no log group): "
                "its executions cannot be collected")
    if info.level in ("ERROR", "FATAL"):
        return (f"Express state machine {name}: logging level {info.level} records only failures: "
                "its executions are partial (successful steps and runs are missing)")
    return None


def window_start(lower_bound: dt.datetime | None) -> dt.datetime | None:
    return lower_bound - EXPRESS_MAX_DURATION if lower_bound else None


def started_at_of(item: dict[str, Any]) -> dt.datetime | None:
    return utc(item.get("startDate"))
