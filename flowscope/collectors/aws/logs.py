"""Executions rebuilt from CloudWatch Logs: Express workflows, and Standard ones logging at ALL.

Express workflows have no history API: their executions exist only as the log records of the
log group named in the state machine's `loggingConfiguration`. Standard machines that log at
level ALL can be collected the same way for far fewer API calls (one FilterLogEvents page holds
up to 10,000 records of many executions, against at least one GetExecutionHistory per
execution); `choose_path` picks the cheaper path per machine and says why.

- FilterLogEvents on the log group, windowed by time (the scope's lower bound minus the
  longest an Express execution can run) and paginated to the end; a log group shared by several
  machines is read once per sync. Expired tokens restart the window; what the restarted read
  yields again is dropped (`_Repeats`: the pages are sorted by time), so nothing doubles.
- Records are the documented JSON (`id`, `type`, `execution_arn`, `event_timestamp`, ...); a
  record that is not JSON or lacks those fields is skipped and counted, never fatal.
- Logging OFF (nothing to read), or ERROR / FATAL (only failures are logged) is said plainly in
  the collection_runs row: those executions are missing or partial.
- Streaming: pages are fetched ahead in a thread; an execution is handed on as soon as all its
  records are in (`LogRecordStream`), so transforming and writing (the sink's writer thread)
  overlap the waits for FilterLogEvents tokens, and memory holds only the open executions.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections import defaultdict
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import orjson

from flowscope.collectors.aws.clients import error_code, restarting_pages
from flowscope.collectors.aws.definition import has_distributed_map
from flowscope.collectors.aws.events import LOG_RECORD_KEYS, is_express_arn, state_machine_arn
from flowscope.collectors.aws.stepfunctions import (
    MACHINES_UNREAD,
    TERMINAL,
    ScopeContext,
    as_collection_error,
    run_history_fetches,
)
from flowscope.collectors.aws.transform.names import DEFER_ASSEMBLE
from flowscope.collectors.native import cleaned
from flowscope.collectors.sink import gc_paused
from flowscope.collectors.throttle import prefetched
from flowscope.collectors.window import merge_attributes
from flowscope.model import LOGS_MISSING_KEY, Batch, C, Cloud, Skip, Source, Status, utc

RUNNING, SUCCEEDED = Status.RUNNING.value, Status.SUCCEEDED.value

EXPRESS_MAX_DURATION = dt.timedelta(minutes=5)
FILTER_PAGE_LIMIT = 10_000
LOG_RECORDS_PER_PAGE = 2_500     # typical page without execution data (1 MB / ~400 bytes)
HISTORY_RATE, LOGS_RATE = 20.0, 5.0   # documented refill per second of the two paths' APIs
STARTED = "ExecutionStarted"
ENDED = frozenset({"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"})
FULL_LEVELS = frozenset({"ALL"})
PARTIAL_LEVELS = frozenset({"ERROR", "FATAL"})
LOG_CHUNK_RECORDS = 12_500   # whole executions' records transformed and written together
OTHER_EXECUTIONS_KEPT = 50_000
"""Executions of machines not collected (a shared log group) whose machine `LogRecordStream` keeps, so
their next records skip the ARN's parse; forgotten all at once when full: an execution's records come
close together, and kept for the whole read they grew with every execution of the group."""
PREFETCH_PAGES = 4           # pages fetched ahead of the parse (<= 40,000 events in memory)


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
    one FilterLogEvents (5/s) per page of records. A machine with a Distributed Map takes the
    history path whatever the preference: only it reads the Map Runs and their children.
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
    if has_distributed_map(describe.get("definition")):
        return "history", {**estimate, "reason": "Distributed Map"}
    if preference == "logs":
        return "logs", {**estimate, "reason": "configured"}
    if new_executions and log_calls / LOGS_RATE < history_calls / HISTORY_RATE:
        return "logs", {**estimate, "reason": "fewer quota-seconds"}
    return "history", {**estimate, "reason": "fewer quota-seconds" if new_executions else "nothing new"}


# ---------------------------------------------------------------- reading

def filter_log_events(logs: Any, group: str, start_ms: int | None, end_ms: int) -> Iterator[list[dict[str, Any]]]:
    """Pages of events of one log group in [start_ms, end_ms], each event once."""
    repeats = _Repeats()
    params: dict[str, Any] = {"logGroupName": group, "endTime": end_ms, "limit": FILTER_PAGE_LIMIT}
    if start_ms is not None:
        params["startTime"] = start_ms
    for page, restarted in restarting_pages(logs.filter_log_events, params, expired=_log_token_expired, key="events"):
        yield repeats.fresh(page["events"], restarted)


class _Repeats:
    """Drops the events a read restarted from its first page (an expired token) yields again.

    FilterLogEvents returns events sorted by timestamp (documented): after a restart, an event older
    than the newest one yielded was yielded already, and so was one at that millisecond whose id is
    kept. Only the newest millisecond's ids are kept: keeping every id of the read held one string per
    record of the group, hundreds of MB for a busy group's first full read. An event without a numeric
    timestamp (no API answer lacks one) is remembered by its id. A record ingested late, with a time
    the read had passed, is not read by a restarted read, as it is not by one that was not restarted.
    """

    def __init__(self) -> None:
        self.newest: int | None = None          # the newest timestamp yielded
        self.at_newest: set[Any] = set()        # the ids yielded at it
        self.untimed: set[Any] = set()          # ids of events without a timestamp
        self.replaying = False                  # the read was restarted: older events are repeats

    def fresh(self, events: list[dict[str, Any]], restarted: bool) -> list[dict[str, Any]]:
        self.replaying = self.replaying or restarted
        fresh = []
        for event in events:
            event_id, ts = event.get("eventId"), event.get("timestamp")
            if ts.__class__ is not int:
                if event_id is not None:
                    if event_id in self.untimed:
                        continue
                    self.untimed.add(event_id)
                fresh.append(event)
                continue
            newest = self.newest
            if newest is None or ts > newest:
                self.newest, self.at_newest = ts, {event_id}
            elif ts == newest:
                if event_id is not None and event_id in self.at_newest:
                    continue
                self.at_newest.add(event_id)
            elif self.replaying:
                continue                        # before the newest yielded: read before the restart
            fresh.append(event)
        return fresh


def _log_token_expired(exc: BaseException) -> bool:
    message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", "")).lower()
    code = error_code(exc)
    return code == "InvalidToken" or (code == "InvalidParameterException" and "token" in message)


@dataclass
class _Open:
    """The records of one execution read so far."""

    machine: str
    records: list[dict[str, Any]]
    end_id: int = 0               # id of its terminal record, once seen


Groups = dict[str, dict[str, _Open]]
"""state machine ARN -> execution ARN -> its records."""


class LogRecordStream:
    """Log records grouped by execution as pages arrive; whole executions handed out early.

    An execution is whole once its terminal record is in and its ids run 1..terminal without a
    hole (level ALL logs every history event, each with its id): it can be transformed and
    written while later pages are still being fetched, which overlaps the CPU with the waits for
    FilterLogEvents tokens and bounds memory to the executions still open. Everything else
    (level ERROR / FATAL, records still missing) is handed out by `take_all` at the end.
    Records of an execution already handed out are dropped and counted (`late`).
    """

    def __init__(self, group: str, wanted: set[str], express_only: frozenset[str] = frozenset()) -> None:
        self.group = group
        self.wanted = wanted
        self.express_only = express_only
        """Machines of `wanted` whose Express (Map Run children) executions only are wanted."""
        self.open: dict[str, _Open] = {}
        self.closed: list[str] = []
        self.closed_records = 0
        self.handed_out: set[str] = set()
        self.machine_of: dict[str, str | None] = {}     # executions of machines not wanted
        self.skips: list[Skip] = []
        self.late = 0
        self.late_arns: set[str] = set()
        """Executions that had records after they were handed out (a redrive's, say)."""

    def add(self, events: list[dict[str, Any]]) -> int:
        """Parse one page of log events; returns the records kept (of wanted machines)."""
        loads = orjson.loads     # 2.5x json.loads on these small records; its errors are ValueErrors
        required = _REQUIRED
        machine_of, wanted, open_, handed_out = self.machine_of, self.wanted, self.open, self.handed_out
        parsed = 0
        for event in events:
            message: Any = event.get("message")     # not text: loads raises, the record is skipped
            try:
                record = loads(message)
                if not required <= record.keys():
                    raise KeyError(sorted(required - record.keys())[0])
                arn = record["execution_arn"]
                kind = record["type"]
                end_id = int(record["id"]) if kind in ENDED else 0
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                self.skips.append(Skip(f"FilterLogEvents {self.group}",
                                       f"{event.get('logStreamName')}#{event.get('eventId')}",
                                       f"malformed log record: {type(exc).__name__} {cleaned(str(exc), 80)}"))
                continue
            entry = open_.get(arn)
            if entry is None:
                if arn in handed_out:
                    self.late += 1
                    self.late_arns.add(arn)
                    continue
                machine = machine_of.get(arn, "")
                if machine == "":
                    machine = state_machine_arn(arn)
                if machine in self.express_only and not is_express_arn(arn):
                    machine = None                 # a parent on the history path: its own records
                if machine not in wanted:
                    if len(machine_of) >= OTHER_EXECUTIONS_KEPT:
                        machine_of.clear()
                    machine_of[arn] = machine      # other machines' records recur: remember them
                    continue
                entry = open_[arn] = _Open(machine, [])
            entry.records.append(record)
            parsed += 1
            if end_id:
                entry.end_id = end_id
            if entry.end_id and len(entry.records) >= entry.end_id and _whole(entry):
                self.closed.append(arn)
                self.closed_records += len(entry.records)
        return parsed

    def take_closed(self) -> Groups:
        """The executions found whole since the last call."""
        out: Groups = defaultdict(dict)
        for arn in self.closed:
            entry = self.open.pop(arn, None)
            if entry is not None:
                out[entry.machine][arn] = entry
                self.handed_out.add(arn)
        self.closed, self.closed_records = [], 0
        return out

    def take_all(self) -> Groups:
        """Everything still held, whole or not."""
        out = self.take_closed()
        for arn, entry in self.open.items():
            out[entry.machine][arn] = entry
            self.handed_out.add(arn)
        self.open = {}
        return out


_REQUIRED = frozenset(LOG_RECORD_KEYS)


@functools.lru_cache(maxsize=256)
def _id_strings(n: int) -> frozenset[str]:
    return frozenset(str(i) for i in range(1, n + 1))


def _whole(entry: _Open) -> bool:
    if entry.end_id <= 1000:
        try:
            if {record["id"] for record in entry.records} == _id_strings(entry.end_id):
                return True     # ids are strings in the documented records: the common, cheap check
        except TypeError:       # an unhashable id: the record is malformed, the loop below says no
            pass
    ids = set()
    for record in entry.records:
        try:
            ids.add(int(record["id"]))
        except (TypeError, ValueError):
            return False
    return len(ids) == entry.end_id and min(ids) == 1 and max(ids) == entry.end_id


def collect_log_group(sc: ScopeContext, group: str, machines: dict[str, dict[str, Any]],
                      listed: dict[str, dict[str, dict[str, Any]]]) -> None:
    """Read one log group for the machines that log to it; transform per machine as executions
    become whole, the rest at the end.

    `listed` holds, for Standard machines on the logs path, the executions ListExecutions
    returned that still need collecting: any finished one the logs do not complete falls back to
    history, and so does every one of them when the log group cannot be read (the failure is
    still recorded: the group's Express executions have no other source).
    """
    window = sc.window
    start = unread_start(sc, group, machines)
    start_ms = int(start.timestamp() * 1000) if start else None
    end_ms = int(window.end.timestamp() * 1000)
    stream = LogRecordStream(group, set(machines), frozenset(sc.express_parents & set(machines)))
    chunks = _Chunks(sc, group, machines, listed)
    pages = records = 0
    failed = False
    # pages are fetched ahead in a helper thread: parsing, transforming and writing overlap
    # the round trips and the waits for FilterLogEvents tokens
    fetched = cast(Generator[list[dict[str, Any]], None, None],
                   prefetched(filter_log_events(sc.clients.logs, group, start_ms, end_ms), depth=PREFETCH_PAGES))
    try:
        with gc_paused():
            while True:
                try:
                    events = next(fetched, None)
                except Exception as exc:  # noqa: BLE001 - the read failed: record it, keep what is whole
                    if error_code(exc) in MISSING_GROUP_CODES:
                        say_missing(sc, group, machines)
                    else:
                        sc.result.record_error(as_collection_error(exc, "FilterLogEvents", group))
                        if _has_express(machines) or sc.express_parents & set(machines):
                            keep_unread(sc, group, start)   # Express runs have no other source: read again
                    failed = True
                    break
                if events is None:
                    break
                pages += 1
                records += stream.add(events)
                if stream.closed_records >= LOG_CHUNK_RECORDS:
                    chunks.process(stream.take_closed())
            # whole executions are written even when the read failed part way: they are
            # complete, and the re-run (the watermark stays put) skips them as stored terminal
            chunks.process(stream.take_closed() if failed else stream.take_all())
    finally:
        fetched.close()
        sc.result.count("log_pages", pages)
        sc.result.count("log_records", records)
    if stream.skips:
        sc.result.count("log_records_malformed", len(stream.skips))
        sc.sink.add(Batch(skips=stream.skips))
    if stream.late:
        sc.result.count("log_records_after_execution_end", stream.late)
    fallback: list[dict[str, Any]] = []
    for arn in machines:
        for exec_arn, item in (listed.get(arn) or {}).items():
            if exec_arn in chunks.complete[arn] and exec_arn not in stream.late_arns:
                continue
            if (failed or item.get("status") in TERMINAL or exec_arn in chunks.tails[arn]
                    or exec_arn in stream.late_arns):
                # logs late or incomplete, or unreadable (a denied or failing FilterLogEvents), or
                # only a tail of it (its ExecutionStarted record not read), or records after it was
                # written (a redrive's, once its failure had closed it): take the history, which
                # ListExecutions showed is there
                fallback.append(item)
    if fallback:
        sc.result.count("log_path_history_fallback", len(fallback))
        run_history_fetches(sc, fallback)


MISSING_GROUP_CODES = frozenset({"ResourceNotFoundException"})

def say_missing(sc: ScopeContext, group: str, machines: dict[str, dict[str, Any]]) -> None:
    """A log group a state machine names that does not exist (never created, or deleted): said in
    this run, by name with its machines, as a warning, not an error. An absent group holds no
    records, so there is nothing unread to go back to; recorded as an error it made every sync
    PARTIAL and kept the group 'unread' from its first failure, for as long as it stayed absent.
    Every sync says it again (the scope's latest run must not read as all clear while the
    group's Express executions go uncollected); its Standard runs are fetched by history."""
    names = sorted(str(d.get("name") or arn) for arn, d in machines.items())
    with sc.lock:
        sc.result.details.setdefault(LOGS_MISSING_KEY, {})[group] = names
    express = _has_express(machines) or bool(sc.express_parents & set(machines))   # Map Run children too
    sc.result.warn(f"log group {group} does not exist (state machine(s) {', '.join(names)} log to it): "
                   + ("their Express executions are not collected until it exists; create it or fix the "
                      "machines' loggingConfiguration" if express else
                      "their executions are read by GetExecutionHistory instead"))


LOGS_UNREAD = "log_groups_unread_from"
"""Key, in a collection run's `details`, of the log groups it could not read: group -> the start
(ISO, or None: from the beginning) its read began at, where the next sync reads it from."""


def unread_start(sc: ScopeContext, group: str, machines: Iterable[str] = ()) -> dt.datetime | None:
    """Where to read `group` from: the window's start, or earlier where the scope's last run could
    not read it (`sc.logs_unread`, from that run's details) or one of its `machines`
    (`sc.machines_unread`: a machine not described has no known group): a group denied for a while
    is read again from where it was not read, without holding the other groups' or the scope's window."""
    start = window_start(sc.window.lower_bound)
    earliest = [sc.logs_unread[group]] if group in sc.logs_unread else []
    earliest += [window_start(sc.machines_unread[arn]) for arn in machines if arn in sc.machines_unread]
    for earlier in earliest:
        start = None if earlier is None or start is None else min(start, earlier)
    return start


def keep_unread(sc: ScopeContext, group: str, start: dt.datetime | None) -> None:
    """Record that `group` was not read from `start` on: the next sync reads it from there (the
    scope's watermark moves on: one group denied held every other group and Standard listing to
    its old window, sync after sync)."""
    with sc.lock:
        unread = sc.result.details.setdefault(LOGS_UNREAD, {})
        unread[group] = start.isoformat() if start else None
    sc.result.warn(f"log group {group} could not be read: the next sync reads it again from "
                   f"{start.isoformat() if start else 'its beginning'}")


def carry_unread(sc: ScopeContext, read: set[str]) -> None:
    """Keep the last run's unread log groups that this run did not try (a DescribeStateMachine that
    failed left its machine's group out): their record would be lost with this run's details, and
    the missed window with it. Kept only while the scope's watermark is held (`gap(None)`) or a
    machine is left unread (`MACHINES_UNREAD`, as a failed describe does); otherwise a group no
    machine read is one no machine logs to."""
    if None not in sc.gaps and not sc.result.details.get(MACHINES_UNREAD):
        return
    for group, start in sc.logs_unread.items():
        if group not in read:
            with sc.lock:
                sc.result.details.setdefault(LOGS_UNREAD, {}).setdefault(group, start.isoformat() if start else None)


def _has_express(machines: dict[str, dict[str, Any]]) -> bool:
    """Whether a log group is the only source of some of its machines' executions: an unread
    group is then read again by the next sync (`keep_unread`). Standard machines' listed runs fall back to their history
    (`collect_log_group`), and their stored RUNNING ones are revisited, so they need no hold."""
    return any(describe.get("type") == "EXPRESS" for describe in machines.values())


class _Chunks:
    """Selects and transforms groups of executions; the sink's writer assembles and writes them."""

    def __init__(self, sc: ScopeContext, group: str, machines: dict[str, dict[str, Any]],
                 listed: dict[str, dict[str, dict[str, Any]]]) -> None:
        self.sc, self.group, self.machines, self.listed = sc, group, machines, listed
        self.source_name = f"FilterLogEvents {group}"
        self.complete: dict[str, set[str]] = defaultdict(set)
        self.tails: dict[str, set[str]] = defaultdict(set)
        """Listed Standard executions whose records here were a tail never stored (dropped)."""

    def process(self, groups: Groups) -> None:
        sc = self.sc
        for arn, describe in self.machines.items():
            entries = groups.pop(arn, {})
            express = describe.get("type") == "EXPRESS" or arn in sc.express_parents
            kept, absent = select_records(sc, entries, express=express)
            if self.listed.get(arn):
                self.tails[arn] |= {a for a in entries if a not in kept and sc.stored.get(a) is None}
            if not kept:
                continue
            if self.listed.get(arn):
                self.complete[arn] |= _complete_executions(kept)
            records = [r for entry in kept.values() for r in entry.records]
            with gc_paused():
                batch = sc.formats["aws.log_records"](records, sc.ctx(self.source_name, Source.LOGS,
                                                                      options={DEFER_ASSEMBLE: True}))
            del records
            if express and logging_info(describe).level in PARTIAL_LEVELS:
                settle_unlogged_ends(sc, batch.executions, logging_info(describe).level)
            for row in batch.executions:
                parent = sc.listed_children.get(row[C.execution_id])
                if parent is not None:
                    row[C.parent_execution_id] = parent
            sc.result.count("executions_from_logs", len(batch.executions))
            sc.sink.add(batch, absent=[(Cloud.AWS.value, a) for a in absent])


def settle_unlogged_ends(sc: ScopeContext, executions: list[dict[str, Any]], level: str) -> None:
    """Express runs logged at ERROR / FATAL that are still RUNNING although they must have ended:
    SUCCEEDED, their end unknown (`attributes.end_not_logged` says why).

    Those levels log every failure of a run (ExecutionFailed, TimedOut, Aborted) and never its
    success, and Express runs are never revisited: a run that caught a failure and went on to
    succeed left only that failure's record, and stayed RUNNING for ever. A run is settled once
    its first record is older than the longest Express run plus the lag (the time the window
    allows a late record to arrive: a later ExecutionFailed would have been read by now).
    """
    cutoff = sc.window.end - EXPRESS_MAX_DURATION - sc.window.lag
    why = (f"logging level {level} logs no successful end: no failure was logged within "
           f"{int(EXPRESS_MAX_DURATION.total_seconds() // 60)} minutes (the longest Express run)")
    settled = 0
    for row in executions:
        started = row.get(C.started_at)
        if row.get(C.status) == RUNNING and started is not None and started < cutoff:
            row[C.status] = SUCCEEDED
            row[C.native_status] = "SUCCEEDED"
            merge_attributes(row, {"end_not_logged": why})
            settled += 1
    if settled:
        sc.result.count("express_ends_not_logged", settled)


def _complete_executions(groups: dict[str, _Open]) -> set[str]:
    out = set()
    for arn, entry in groups.items():
        types = {record["type"] for record in entry.records}
        if STARTED in types and types & ENDED:
            out.add(arn)
    return out


def select_records(sc: ScopeContext, groups: dict[str, _Open], *,
                   express: bool) -> tuple[dict[str, _Open], list[str]]:
    """Drop executions whose records are only a tail already collected in full; returns the
    executions kept and those among them not stored at all.

    An execution whose ExecutionStarted record is outside the window was collected by an earlier
    sync if it is stored as terminal (Standard: also if stored RUNNING, the history revisit
    takes it, so such a tail is not marked seen); keeping a tail would replace the whole
    execution by a fragment. A Standard tail never stored is dropped too (it started before the
    window); Express tails are kept (level ERROR / FATAL logs no ExecutionStarted at all).
    """
    if not groups:
        return {}, []
    stored = sc.load_stored(list(groups))
    listed_only = _listed_without_steps(sc, [a for a, s in stored.items() if s in TERMINAL]) if express else set()
    kept: dict[str, _Open] = {}
    absent: list[str] = []
    seen: list[str] = []
    for arn, entry in groups.items():
        status = stored.get(arn)
        if status in TERMINAL and arn not in listed_only:
            sc.result.count("executions_skipped_terminal")
            seen.append(arn)
            continue
        if not express and not _has_start(entry):
            # stored RUNNING: the history revisit takes it, so it is NOT marked seen (seen ones
            # are not revisited: a run longer than the window would stay RUNNING for ever).
            # Not stored: it started before the window (a Standard run logs ExecutionStarted at
            # ALL, the only level this path reads): the history path would not collect it, and
            # keeping the tail stored a terminal fragment for ever, started when its tail began.
            # A listed one is fetched by its history instead (`collect_log_group`).
            sc.result.count("log_tails_dropped")
            continue
        kept[arn] = entry
        seen.append(arn)
        if status is None:
            absent.append(arn)
    sc.mark_seen(seen)
    return kept, absent


def _listed_without_steps(sc: ScopeContext, arns: list[str]) -> set[str]:
    """Express Map Run children among `arns` (stored terminal) that have no stored step: their row
    is only what ListExecutions(mapRunArn) gave, so their log records, the only source of their
    steps, are kept, not skipped as collected. Those listed this sync, and those of earlier syncs
    whose records came late (within the window's lag). One with its steps stored is not read
    again (its stored row stays the listing's: the row's `source` cannot tell)."""
    found = {a for a in arns if a in sc.listed_children}
    candidates = [a for a in arns if a not in found and is_express_arn(a) and _is_map_child(a)]
    if candidates:
        quote = "''"
        listed = ", ".join("'" + a.replace("'", quote) + "'" for a in candidates)
        try:
            frame = sc.store.sql(f"SELECT DISTINCT {C.execution_id} FROM steps WHERE {C.cloud} = 'aws' "
                                 f"AND {C.execution_id} IN ({listed})")
            with_steps = {str(v) for v in frame[C.execution_id].tolist()}
        except Exception:  # noqa: BLE001 - the store cannot say: they stay as stored
            with_steps = set(candidates)
        found.update(a for a in candidates if a not in with_steps)
    return found


def _is_map_child(arn: str) -> bool:
    """`...:express:SM/label:name:id`: a Map Run's child (its machine part names the Map's label)."""
    parts = arn.split(":")
    return len(parts) > 6 and "/" in parts[6]


def _has_start(entry: _Open) -> bool:
    return any(record["type"] == STARTED for record in entry.records)


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
