"""GCP call steps from Cloud Logging, for the executions that need them, written with them.

Two kinds: finished executions without step entries whose workflow logs calls (`deferred`), and,
with `path = "logs"`, finished executions of workflows logging all calls (`bulk`): a page of up
to 1,000 entries instead of one step-entries listing per execution. `logging_api.py` does the I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flowscope.collectors import unread
from flowscope.collectors.gcp.context import (
    ScopeContext,
    as_error,
    listed_again_from,
    raise_auth,
    workflow_of,
)
from flowscope.collectors.gcp.log_path import LOG_SLACK, execution_times
from flowscope.collectors.gcp.transform.log_entries import RUN_SKIPS
from flowscope.collectors.gcp.transform.names import parse_name
from flowscope.collectors.sink import gc_paused
from flowscope.model import C, utc

CALL_LOGS_PATIENCE = dt.timedelta(days=1)
"""How long executions without step entries wait for call logs that Logging refuses (a role without
logging.logEntries.list, an outage): refused on syncs this far apart, they are stored without their steps
rather than never at all."""
REFUSED_KEY = "call_logs_refused_since"
"""collection_runs `details` key: workflow id -> when its executions' call logs were first refused, on the
syncs since then that were refused too (`CALL_LOGS_PATIENCE`)."""


def read_call_logs(sc: ScopeContext) -> None:
    """Call steps from Cloud Logging for the executions that need them, written with them.

    - Finished executions without step entries whose workflow logs calls (`deferred`): one
      filtered `entries.list` per slice of up to 100 executions (by execution id).
    - The logs path (`bulk`): per workflow, one `entries.list` per slice of up to 1,000
      consecutive executions (by workflow and time): a page of 1,000 entries instead of one
      step-entries listing per execution.

    A slice of executions without step entries whose logs cannot be read is not written yet (an error
    of the run, its executions' workflows remembered from their creation: `unread`), so the next sync
    lists them again and retries; refused still `CALL_LOGS_PATIENCE` after the first refusal, they are
    stored without steps (`_refused`). A logs-path slice's executions get their step entries instead
    (`_entries_instead`)."""
    from flowscope.collectors.gcp import logging_api

    if sc.deferred:
        docs = sorted(sc.deferred, key=lambda d: execution_times(d, sc.now)[0])
        unsafe = [d for d in docs if not logging_api.safe_id(str(d["name"]).rsplit("/", 1)[-1])]
        if unsafe:
            sc.result.warn(f"{len(unsafe)} execution id(s) not usable in a Logging filter; written without call logs")
            sc.sink.add(sc.formats["gcp.executions"]({"executions": unsafe}, sc.ctx("executions.list")))
        docs = [d for d in docs if d not in unsafe]
        for i in range(0, len(docs), logging_api.MAX_IDS_PER_FILTER):
            chunk = docs[i:i + logging_api.MAX_IDS_PER_FILTER]
            _read_slice(sc, chunk, lambda names, a, b: logging_api.executions_filter(
                [n.rsplit("/", 1)[-1] for n in names], a, b), without_history=True)
    for workflow, docs in sorted(sc.bulk.items()):
        docs.sort(key=lambda d: execution_times(d, sc.now)[0])
        for i in range(0, len(docs), logging_api.BULK_EXECUTIONS):
            _read_slice(sc, docs[i:i + logging_api.BULK_EXECUTIONS], _workflow_slice(workflow), without_history=False)


def _with_call_logs(sc: ScopeContext, wanted: dict[str, dict[str, Any]], logged: set[str]
                    ) -> dict[str, dict[str, Any]]:
    """The logs path's executions that logged calls (`logged`: those whose logs begin a call, see
    `_begun`); the others get their step entries instead.

    An execution of a workflow logging all calls may have logged none: it ran before call logging
    was turned on, or was started with its own callLogLevel (LOG_NONE), which the BASIC listing does
    not show. Written from its logs it would have no steps and no billed usage, and never be read
    again; its step entries say what it ran (one call each, only for those)."""
    from flowscope.collectors.gcp.executions import fetch_executions

    missing = [doc for name, doc in wanted.items() if name not in logged]
    if missing:
        sc.result.count("executions_without_call_logs", len(missing))
        fetch_executions(sc, missing, entries_only=True)
    return {name: doc for name, doc in wanted.items() if name in logged}


def _short(name: str) -> tuple[str, str, str]:
    """(location, workflow, execution id) of an execution's resource name (`names.parse_name`), as
    `_begun` keys the call logs' labels."""
    parts = parse_name(name)
    return (parts["l"], parts["w"], parts["e"]) if parts and parts["e"] else ("", "", name)


def _begun(entries: list[Any]) -> set[tuple[str, str, str]]:
    """(location, workflow, execution id) of the executions whose call logs begin a call. Only
    LOG_ALL_CALLS logs a call's start: an execution started with its own LOG_ERRORS_ONLY (which
    the BASIC listing does not show) logs the exceptions of its calls alone, and written from
    them it would keep those calls and lose the others."""
    out: set[tuple[str, str, str]] = set()
    for entry in entries:
        payload = entry.get("jsonPayload") if isinstance(entry, dict) else None
        if not isinstance(payload, dict) or payload.get("state") != "BEGUN":
            continue
        resource = (entry.get("resource") or {}).get("labels") or {}
        execution = (entry.get("labels") or {}).get("workflows.googleapis.com/execution_id") \
            or payload.get("executionId")
        if isinstance(execution, str):
            out.add((str(resource.get("location") or ""), str(resource.get("workflow_id") or ""), execution))
    return out


def _workflow_slice(workflow: str) -> Callable[[list[str], dt.datetime, dt.datetime], str]:
    from flowscope.collectors.gcp import logging_api

    parts = workflow.split("/")

    def make(_names: list[str], start: dt.datetime, end: dt.datetime) -> str:
        return logging_api.workflow_filter(parts[3], parts[5], start, end)
    return make


def _read_slice(sc: ScopeContext, chunk: list[dict[str, Any]],
                make_filter: Callable[[list[str], dt.datetime, dt.datetime], str], *, without_history: bool) -> None:
    from flowscope.collectors.gcp import logging_api

    start = min(execution_times(d, sc.now)[0] for d in chunk) - LOG_SLACK
    end = max(execution_times(d, sc.now)[1] for d in chunk) + LOG_SLACK
    wanted = {str(d["name"]): d for d in chunk}
    # hundreds of thousands of small dicts decoded and built: the cyclic GC would rescan them
    # again and again (see `gc_paused`)
    with gc_paused():
        entries: list[Any] = []
        try:
            for page in logging_api.entry_pages(sc.clients, sc.scope.project, make_filter(list(wanted), start, end)):
                entries.extend(page)
        except Exception as exc:  # noqa: BLE001 - recorded; the slice is retried by the next sync
            raise_auth(exc)
            why = as_error(exc, logging_api.API, f"call logs of {len(chunk)} execution(s)")
            if not without_history:
                _entries_instead(sc, chunk, why)
                return
            sc.result.record_error(why)
            _refused(sc, chunk, why, start + LOG_SLACK)
            return
        _write_with_call_logs(sc, wanted, entries, without_history=without_history)


def _refused(sc: ScopeContext, chunk: list[dict[str, Any]], why: Exception, start: dt.datetime) -> None:
    """Executions without step entries whose call logs Logging refused: their workflows listed again from
    them (the watermark not held) and the refusal remembered (`REFUSED_KEY`); those of a workflow refused
    since `CALL_LOGS_PATIENCE` ago are stored now, without steps, and said (left waiting they were never
    stored while the role stayed as it was; a later sync does not read them again)."""
    earlier = sc.previous_details().get(REFUSED_KEY)
    earlier = earlier if isinstance(earlier, dict) else {}
    due: list[dict[str, Any]] = []
    for doc in chunk:
        workflow = workflow_of(str(doc["name"]))
        try:
            since = min(utc(earlier.get(workflow)) or sc.now, sc.now)
        except (TypeError, ValueError):
            since = sc.now
        if sc.now - since >= CALL_LOGS_PATIENCE:
            due.append(doc)
            continue
        with sc.lock:
            sc.result.details.setdefault(REFUSED_KEY, {})[workflow] = since.isoformat()
        unread.mark(sc, workflow, listed_again_from(sc, doc) or start)
    if due:
        sc.sink.add(sc.formats["gcp.executions"]({"executions": due}, sc.ctx("executions.list")))
        sc.result.count("executions_call_logs_unread", len(due))
        sc.result.warn(f"{len(due)} execution(s) without step entries stored without their call steps: their call "
                       f"logs were refused for a day or more ({why}); their steps and billed steps "
                       "are missing and are not read again (check that the role grants logging.logEntries.list, "
                       "docs/gcp-role.md)")


def _entries_instead(sc: ScopeContext, chunk: list[dict[str, Any]], why: Exception) -> None:
    """A logs-path slice whose logs cannot be read (a role without logging.logEntries.list, a Logging
    outage): the logs path is a shortcut, so its executions' step entries are read instead (each
    failure there recorded as on the step-entries path). Left unwritten, they were listed again by
    every sync from the first failure on, and never stored while the logs stayed unreadable."""
    from flowscope.collectors.gcp.executions import fetch_executions

    sc.result.warn(f"call logs of {len(chunk)} execution(s) on the logs path could not be read ({why}); "
                   "their step entries were read instead")
    sc.result.count("executions_logs_unreadable", len(chunk))
    fetch_executions(sc, chunk, entries_only=True)


def _write_with_call_logs(sc: ScopeContext, wanted: dict[str, dict[str, Any]], entries: list[Any], *,
                          without_history: bool) -> None:
    logs = sc.formats["gcp.log_entries"]({"entries": entries}, sc.ctx("logging.entries.list"))
    begun = _begun(entries)
    if not without_history:
        wanted = _with_call_logs(sc, wanted, {r[C.execution_id] for r in logs.steps
                                              if _short(r[C.execution_id]) in begun})
    batch = sc.formats["gcp.executions"]({"executions": list(wanted.values())}, sc.ctx("executions.list"))
    # only call steps of the executions asked for: the executions rows are the API's, and any
    # other entry the filter let through is not this slice's business
    batch.steps.extend(r for r in logs.steps if r[C.execution_id] in wanted)
    batch.attempts.extend(r for r in logs.attempts if r[C.execution_id] in wanted)
    for key, n in logs.unknown_event_types.items():
        batch.unknown_event_types[key] = batch.unknown_event_types.get(key, 0) + n
    # an entry the transform could not read is counted and kept, never dropped; what the system logs say of a run's
    # start or end is not read here (the executions rows are the API's), so neither are their skips
    batch.skips.extend(skip for skip in logs.skips if skip.reason not in RUN_SKIPS)
    sc.sink.add(batch)
    covered = {r[C.execution_id] for r in batch.steps}
    sc.result.count("call_log_entries", len(entries))
    sc.result.count("executions_from_call_logs", len(covered))
    if covered and without_history:
        sc.result.warn(f"{len(covered)} execution(s) without step entries got their call steps from Cloud Logging "
                       "call logs (call steps only: other steps are not logged)")
        errors_only = sorted(n for n in covered if _short(n) not in begun)
        if errors_only:
            sc.result.warn(f"{len(errors_only)} execution(s) without step entries logged their calls' errors only "
                           f"(callLogLevel LOG_ERRORS_ONLY), e.g. {errors_only[0]}: only the calls that raised are "
                           "stored, those that succeeded (and their billed steps) are missing")

