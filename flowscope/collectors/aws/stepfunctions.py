"""Step Functions Standard workflows through the API: state machines, executions, histories, Map Runs.

I/O and the orchestration of calls: every native document goes to the pure transforms
(`transform.FORMATS`) unchanged.

- State machines: ListStateMachines, DescribeStateMachine, ListStateMachineVersions,
  ListStateMachineAliases (+ DescribeStateMachineAlias for the routing); versions and aliases
  are added to the workflow row's `attributes`, and listed again only when the machine's
  revision changed or a day later (`reusable_metadata`).
- Executions: ListExecutions newest first, stopping at the window's lower bound (watermark
  minus lag). GetExecutionHistory (`includeExecutionData=False`: no payloads fetched at all),
  paginated to the end however long the history (25,000 events and more), only for executions
  not already stored as terminal, or listed with a higher `redriveCount` than stored
  (redriven: fetched again and replaced; `ScopeContext.needs_fetch`). ListExecutions(redriveFilter=REDRIVEN), not
  bounded by the window, finds the redrives of stored executions that started before it (asked
  only of machines with a stored run failed, timed out or aborted in the last 14 days).
  DescribeExecution only to revisit a stored RUNNING execution
  that the listing did not return again.
- Distributed Map: ListMapRuns / DescribeMapRun for executions whose history has a Map Run;
  child executions via ListExecutions(mapRunArn), linked to their parent (Express children,
  which have no history API, as the listing gives them; their steps from the parent's log group:
  `collector._file_express_children`).
- Expired pagination tokens restart the listing (seen ARNs are skipped, so nothing doubles).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from flowscope.collectors.aws.clients import (
    AwsScopeClients,
    error_code,
    restarting_pages,
)
from flowscope.collectors.aws.events import is_express_arn
from flowscope.collectors.aws.transform.names import KIND_EXPRESS, NATIVE_STATUS
from flowscope.collectors.native import ImportContext, cleaned, row_attributes
from flowscope.collectors.scope_run import ScopeRun, gone_mark, mark_gone
from flowscope.collectors.source_config import name_matches
from flowscope.collectors.throttle import bounded_map
from flowscope.collectors.window import CollectionError, ScopeResult, merge_attributes
from flowscope.model import TERMINAL_STATUSES, Batch, C, Cloud, utc

if TYPE_CHECKING:
    pass

HISTORY_PAGE = 1000          # the API's maximum page size
LIST_PAGE = 1000
MAX_TOKEN_RESTARTS = 3
TERMINAL = frozenset(s.value for s in TERMINAL_STATUSES)
GONE_CODES = frozenset({"ExecutionDoesNotExist", "StateMachineDoesNotExist", "ResourceNotFound"})
TOKEN_CODES = frozenset({"InvalidToken"})
DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied"})
UNSUPPORTED_CODES = frozenset({"UnknownOperationException", "InvalidAction", "NotImplemented",
                               "UnknownOperation", "NotImplementedException"})


@dataclass
class ScopeContext(ScopeRun):
    """One AWS scope's collection (`ScopeRun`: store, sink, result, window, seen, gaps, lock), plus
    its clients and transforms, and the stored status of the executions listed (cached)."""

    clients: AwsScopeClients
    formats: dict[str, Callable[[Any, ImportContext], Batch]]
    concurrency: int = 8
    stored: dict[str, str | None] = field(default_factory=dict)
    redrives: dict[str, int] = field(default_factory=dict)
    refetch: set[str] = field(default_factory=set)
    unsupported: set[str] = field(default_factory=set)
    machines_listed: set[str] = field(default_factory=set)
    """Every state machine ListStateMachines returned (before name globs)."""
    globs: tuple[str, ...] = ()
    logs_unread: dict[str, dt.datetime | None] = field(default_factory=dict)
    """Log groups the scope's last run could not read -> the start it tried (None: the beginning)."""
    machines_unread: dict[str, dt.datetime | None] = field(default_factory=dict)
    """State machines the scope's last run could not read -> the start it tried (None: the beginning)."""
    metrics_unread: dt.datetime | None = None
    """Where the scope's last run failed to read metrics from (None: it read them)."""
    express_parents: set[str] = field(default_factory=set)
    """Standard machines whose log group is read only for their Distributed Map's Express
    children (`collector._plan_standard`): the children's only source of steps."""
    listed_children: dict[str, str] = field(default_factory=dict)
    """Express Map Run children stored from ListExecutions(mapRunArn) this sync -> their parent."""
    redrivable: set[str] | None = None
    """State machines with a stored run that may have been redriven since (`stored_redrivable`);
    None: not known, every machine's redrives are listed."""

    def mark_seen(self, arns: list[str]) -> None:
        with self.lock:
            self.seen.update(arns)

    def load_stored(self, arns: list[str]) -> dict[str, str | None]:
        """Stored status of each ARN (absent: not stored); cached for the scope, with the stored
        redrive count (`redrives`)."""
        missing = [a for a in arns if a not in self.stored]
        if missing:
            found = self.store.stored_execution_states(Cloud.AWS.value, missing) or {}
            with self.lock:
                for arn in missing:
                    status, redrives = found.get(arn, (None, 0))
                    self.stored[arn] = status
                    self.redrives[arn] = redrives
        return {a: self.stored.get(a) for a in arns}

    def is_terminal_stored(self, arn: str) -> bool:
        return self.stored.get(arn) in TERMINAL

    def needs_fetch(self, item: dict[str, Any]) -> bool:
        """Whether a listed execution must be fetched: not stored, stored still running, or
        stored terminal but redriven since (its history has a later life). Call `load_stored`
        first; a terminal execution fetched again for that reason is remembered in `refetch`.

        A redrive raises the listed `redriveCount`: when the listing gives one, only a count
        higher than stored is a redrive. ListExecutions is eventually consistent and lists a run
        RUNNING a while after its history ended: reading that as a redrive fetched its history
        again every sync and counted it as redriven. An endpoint that gives no count is read by
        the status: another status than stored, for a run that could be redriven."""
        arn = item["executionArn"]
        status = self.stored.get(arn)
        if status not in TERMINAL:
            return True
        count = item.get("redriveCount")
        if count is not None:
            if int(count) <= self.redrives.get(arn, 0):
                return False
        elif NATIVE_STATUS.get(str(item.get("status")), status) == status or status not in REDRIVABLE:
            return False
        with self.lock:
            self.refetch.add(arn)
        return True


MACHINES_UNREAD = "machines_unread_from"
"""Key, in a collection run's `details`, of the state machines it could not read (DescribeStateMachine
or ListExecutions failing for them alone): ARN -> the start (ISO, or None: the beginning) its read
began at, where the next sync reads that machine from."""


def machine_lower_bound(sc: ScopeContext, arn: str) -> dt.datetime | None:
    """Where to read one machine from: the window's lower bound, or earlier where the scope's last
    run could not read it (`sc.machines_unread`)."""
    bound = sc.window.lower_bound
    if arn not in sc.machines_unread:
        return bound
    earlier = sc.machines_unread[arn]
    return None if earlier is None or bound is None else min(bound, earlier)


def keep_machine_unread(sc: ScopeContext, arn: str) -> None:
    """Record that machine `arn` was not read from its lower bound on: the next sync reads it from
    there. Held as a gap, one unreadable machine (a resource-level denial) held the whole scope's
    watermark: every later sync listed every machine from that old point, sync after sync."""
    start = machine_lower_bound(sc, arn)
    with sc.lock:
        sc.result.details.setdefault(MACHINES_UNREAD, {})[arn] = start.isoformat() if start else None


def as_collection_error(exc: BaseException, operation: str, target: str | None) -> CollectionError:
    if isinstance(exc, CollectionError):
        if exc.target is None:      # a listing's own error (BadPage, RepeatedNextToken) names what it listed
            exc.target = target
        return exc
    code = error_code(exc)
    message = f"{operation} failed: {code or type(exc).__name__}"
    detail = getattr(exc, "response", {}).get("Error", {}).get("Message") if code else str(exc)
    if detail:
        message += f": {cleaned(str(detail), 200)}"
    return CollectionError(message, operation=operation, code=code or type(exc).__name__, target=target)


# ---------------------------------------------------------------- state machines

def list_state_machines(sfn: Any, globs: list[str] | None = None) -> list[dict[str, Any]]:
    """Every state machine of the scope (name globs applied); raises on failure, never []."""
    machines = _paginate(sfn.list_state_machines, "stateMachines", maxResults=LIST_PAGE)
    if globs:
        machines = [m for m in machines if name_matches(m["name"], globs)]
    return machines


def _paginate(call: Callable[..., dict[str, Any]], key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a `nextToken` listing; an expired token starts it over (what was read is dropped,
    so nothing doubles)."""
    items: list[dict[str, Any]] = []
    for page, restarted in restarting_pages(call, kwargs, expired=_token_expired, max_restarts=MAX_TOKEN_RESTARTS,
                                            key=key):
        if restarted:
            items = []
        items.extend(page[key])
    return items


def versions_and_aliases(sfn: Any, arn: str, result: ScopeResult,
                         unsupported: set[str] | None = None) -> dict[str, Any]:
    """Published versions and aliases (with routing) of a state machine, for its attributes.

    Metadata only: a failure is a warning in the run's details (the machine and its executions
    are still collected), and an operation the endpoint lacks is not tried again this scope.
    """
    unsupported = unsupported if unsupported is not None else set()
    out: dict[str, Any] = {}
    if "ListStateMachineVersions" not in unsupported:
        try:
            versions = _paginate(sfn.list_state_machine_versions, "stateMachineVersions",
                                 stateMachineArn=arn, maxResults=LIST_PAGE)
            out["versions"] = [{"arn": v.get("stateMachineVersionArn"),
                                "created": _iso(v.get("creationDate"))} for v in versions]
        except Exception as exc:  # noqa: BLE001
            _metadata_failure(exc, "ListStateMachineVersions", arn, result, unsupported)
    if "ListStateMachineAliases" not in unsupported:
        try:
            aliases = _paginate(sfn.list_state_machine_aliases, "stateMachineAliases",
                                stateMachineArn=arn, maxResults=LIST_PAGE)
            out["aliases"] = [_described_alias(sfn, alias.get("stateMachineAliasArn"), result, unsupported)
                              for alias in aliases]
        except Exception as exc:  # noqa: BLE001
            _metadata_failure(exc, "ListStateMachineAliases", arn, result, unsupported)
    denied = [op for op in _METADATA_NOUN if _DENIED + op in unsupported]
    if denied:
        out["metadataDenied"] = denied
    return out


_DENIED = "denied:"
"""Prefix, in a scope's `unsupported` set, of a metadata operation the policy denied."""


def metadata_settled(listed: dict[str, Any]) -> bool:
    """Whether a `versions_and_aliases` listing may be kept for reuse (`reusable_metadata`): every
    part listed, or denied by the policy. A denial stands until the policy changes, so it is asked
    again a day later like the rest; counted as unlisted, one denied ListStateMachineAliases
    (the scope stops asking it) left every machine's versions listed again every sync, at 1 call
    a second. A failure for another reason is asked again next sync."""
    denied = set(listed.get("metadataDenied") or [])
    versions = "versions" in listed or "ListStateMachineVersions" in denied
    aliases = "ListStateMachineAliases" in denied or ("aliases" in listed and all(
        a.get("routing") is not None or "DescribeStateMachineAlias" in denied for a in listed["aliases"]))
    return versions and aliases


METADATA_MAX_AGE = dt.timedelta(days=1)
"""Versions and aliases listed this long ago are listed again even if the machine did not change
(publishing a version or moving an alias leaves the machine's revision as it was)."""


def stored_workflows(store: Any, arns: list[str]) -> list[dict[str, Any]]:
    """Every stored workflows row (all revisions) of these state machines; [] when the store cannot
    say (everything is listed then)."""
    if not arns:
        return []
    quoted = ", ".join("'" + arn.replace("'", "''") + "'" for arn in arns)
    try:
        return cast(list[dict[str, Any]], store.read_rows(
            "workflows", filter_sql=f"{C.cloud} = 'aws' AND {C.workflow_id} IN ({quoted})"))
    except Exception:  # noqa: BLE001 - the store cannot say: everything is listed
        return []


def definitions_to_redact(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored revisions whose definition still quotes a credential (stored before definitions were
    redacted, `definition.definition_text`), as rows to write again without it. Only the revision a
    sync describes is transformed again: the older ones kept their tokens on the dashboard and in
    exports for good."""
    from flowscope.collectors.aws.definition import definition_text

    out = []
    for row in rows:
        text = row.get(C.definition)
        clean = definition_text(text) if isinstance(text, str) else None
        if clean is not None and clean != text:
            out.append({**row, C.definition: clean})
    return out


def stored_metadata(rows: list[dict[str, Any]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """State machine ARN -> (revision, attributes) of its latest stored workflows row
    (`stored_workflows`); {} when nothing is stored."""
    never = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        kept = latest.get(row[C.workflow_id])
        if kept is None or (row[C.seen_at] or never) > (kept[C.seen_at] or never):
            latest[row[C.workflow_id]] = row
    return {arn: (str(row[C.revision]), row_attributes(row)) for arn, row in latest.items()}


def reusable_metadata(stored: tuple[str, dict[str, Any]] | None, revision: str,
                      now: dt.datetime) -> dict[str, Any] | None:
    """The stored versions and aliases of a machine, when they may stand for a new listing: same
    revision, both listed or denied (`metadata_settled`; a failed listing is asked again), less
    than a day ago.
    ListStateMachineVersions, ListStateMachineAliases and DescribeStateMachineAlias are each
    refilled at 1 call a second: listing every machine every sync cost minutes of quota."""
    if stored is None or stored[0] != revision:
        return None
    attributes = stored[1]
    try:
        listed_at = utc(attributes.get("metadata_listed_at"))
    except (TypeError, ValueError):
        return None
    if listed_at is None or not now - METADATA_MAX_AGE < listed_at <= now:
        return None
    # an empty listing is not kept in the row's attributes: none stored is none listed
    versions, aliases = attributes.get("versions") or [], attributes.get("aliases") or []
    denied = attributes.get("metadata_denied") or []
    if not isinstance(versions, list) or not isinstance(aliases, list) or not isinstance(denied, list):
        return None
    reused: dict[str, Any] = {"versions": versions, "aliases": aliases, "metadataListedAt": listed_at.isoformat()}
    if denied:
        reused["metadataDenied"] = denied
    return reused


def _described_alias(sfn: Any, alias_arn: str | None, result: ScopeResult, unsupported: set[str]) -> dict[str, Any]:
    """One alias with its routing (DescribeStateMachineAlias). A failure is said under that call (a
    denied DescribeStateMachineAlias read as 'ListStateMachineAliases failed', the wrong permission)
    and keeps the alias, named from its ARN, without routing."""
    bare = {"arn": alias_arn, "name": str(alias_arn or "").rsplit(":", 1)[-1] or None, "routing": None}
    if "DescribeStateMachineAlias" in unsupported:
        return bare
    try:
        info = sfn.describe_state_machine_alias(stateMachineAliasArn=alias_arn)
    except Exception as exc:  # noqa: BLE001 - metadata: a warning, the machine is still collected
        if error_code(exc) in DENIED_CODES:
            _metadata_failure(exc, "DescribeStateMachineAlias", str(alias_arn), result, unsupported)
        else:
            code = error_code(exc) or type(exc).__name__
            result.warn(f"DescribeStateMachineAlias failed for {alias_arn} ({code}); its routing is not recorded")
        return bare
    return {"arn": alias_arn, "name": info.get("name"), "routing": info.get("routingConfiguration", [])}


_METADATA_NOUN = {"ListStateMachineVersions": "versions are", "ListStateMachineAliases": "aliases are",
                  "DescribeStateMachineAlias": "aliases' routing is"}


def _metadata_failure(exc: BaseException, operation: str, arn: str, result: ScopeResult,
                      unsupported: set[str]) -> None:
    """A failed metadata call, said as a warning. An operation the endpoint lacks, or the policy
    denies, is not asked again this scope and said once: asking every machine (at 1 call a second)
    to be denied the same way cost minutes and printed a warning line per machine."""
    code = error_code(exc) or type(exc).__name__
    status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in DENIED_CODES:
        unsupported.update((operation, _DENIED + operation))
        result.warn(f"{operation} denied ({code}); {_METADATA_NOUN.get(operation, 'metadata is')} not recorded "
                    "in this scope (the read-only policy, docs/iam-policy.json, grants it)")
    elif code in UNSUPPORTED_CODES or (isinstance(status, int) and status >= 500) or code == "500":
        unsupported.add(operation)     # the endpoint lacks it (moto, LocalStack): stop asking
        result.warn(f"{operation} failed ({code}); versions/aliases not recorded in this scope")
    else:
        result.warn(f"{operation} failed for {arn} ({code}); its versions/aliases not recorded")


def _iso(value: Any) -> str | None:
    parsed = utc(value) if value is not None else None
    return parsed.isoformat() if parsed else None


# ---------------------------------------------------------------- executions

def iter_executions(sfn: Any, *, lower_bound: dt.datetime | None, state_machine_arn: str | None = None,
                    map_run_arn: str | None = None) -> Iterator[dict[str, Any]]:
    """ListExecutions newest first, stopping at the first execution older than `lower_bound`.

    An expired or invalid pagination token restarts the listing from the newest; executions
    already yielded are skipped, so the caller sees each one once.
    """
    seen: set[str] = set()
    params: dict[str, Any] = {"maxResults": LIST_PAGE}
    if map_run_arn:
        params["mapRunArn"] = map_run_arn
    else:
        params["stateMachineArn"] = state_machine_arn
    for page, _ in restarting_pages(sfn.list_executions, params, expired=_token_expired,
                                    max_restarts=MAX_TOKEN_RESTARTS, key="executions"):
        for item in page["executions"]:
            started = utc(item.get("startDate"))
            if lower_bound is not None and started is not None and started < lower_bound:
                return
            arn = item["executionArn"]
            if arn not in seen:
                seen.add(arn)
                yield item


def get_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """The whole history of one execution, page after page, without payloads."""
    events: list[dict[str, Any]] = []
    params = {"executionArn": execution_arn, "maxResults": HISTORY_PAGE, "includeExecutionData": False,
              "reverseOrder": False}
    for page, restarted in restarting_pages(sfn.get_execution_history, params, expired=_token_expired,
                                            max_restarts=MAX_TOKEN_RESTARTS, key="events"):
        if restarted:
            events = []            # start over: a history is immutable up to its end
        events.extend(page["events"])
    if not events:                 # every history begins with ExecutionStarted
        raise CollectionError("GetExecutionHistory: a history without events", operation="GetExecutionHistory",
                              code="BadPage", target=execution_arn)
    return events


def _token_expired(exc: BaseException) -> bool:
    return error_code(exc) in TOKEN_CODES


def describe_execution(sfn: Any, execution_arn: str) -> dict[str, Any]:
    """DescribeExecution without payloads (input/output are dropped if the endpoint sends them)."""
    try:
        info = sfn.describe_execution(executionArn=execution_arn, includedData="METADATA_ONLY")
    except Exception as exc:  # noqa: BLE001 - old endpoints do not know includedData
        if error_code(exc) not in ("ValidationException", "InvalidParameterValue", "UnrecognizedClientException"):
            raise
        info = sfn.describe_execution(executionArn=execution_arn)
    return strip_payloads(info)


def strip_payloads(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("input", "output", "ResponseMetadata")}


def history_has_map_run(events: list[dict[str, Any]]) -> bool:
    return any(e.get("type") == "MapRunStarted" for e in events)


def collect_execution(sc: ScopeContext, item: dict[str, Any], *, parent: str | None = None) -> int:
    """Fetch one execution's history, transform it, queue its rows; returns events read.

    Distributed Map children are collected right after their parent.
    """
    arn = item["executionArn"]
    sfn = sc.clients.sfn
    events = get_history(sfn, arn)
    describe = strip_payloads(item)
    batch = sc.formats["aws.history"](
        {"events": events},
        sc.ctx(f"GetExecutionHistory {arn}", execution_id=arn, options={"describe_execution": describe}),
    )
    if parent:
        # The parent EXECUTION's ARN (the transform alone only knows the Map Run ARN, which stays
        # in the child's attributes as `mapRunArn`).
        for row in batch.executions:
            row[C.parent_execution_id] = parent
    if history_has_map_run(events):
        map_runs = collect_map_runs(sc, arn)
        steps = {s[C.step_key]: s for s in batch.steps if s.get(C.native_type) == "Map"}
        run_steps = {s[C.resource]: key for key, s in steps.items() if s.get(C.resource)}
        for row in batch.executions:
            if row.get(C.execution_id) == arn:
                # every run of a retried Map (the step's resource is only its last run's)
                run_steps.update(row_attributes(row).get("map_run_steps") or {})
        for summary in map_runs:
            step = steps.get(run_steps.get(summary["map_run_arn"], ""))
            summary["state_name"] = step[C.name] if step else None
            summary["step_key"] = step[C.step_key] if step else None
        for row in batch.executions:
            if row.get(C.execution_id) == arn:
                merge_attributes(row, {"map_runs": map_runs})
    sc.sink.add(batch)
    sc.result.count("history_events", len(events))
    return len(events)


def collect_map_runs(sc: ScopeContext, execution_arn: str) -> list[dict[str, Any]]:
    """ListMapRuns + DescribeMapRun, and each Map Run's child executions (linked to the parent).

    Returns one summary per Map Run, stored in the parent execution's `attributes` JSON under
    `map_runs` (a list): `map_run_arn`, `status`, `start`, `stop` (ISO), `max_concurrency`,
    `tolerated_failure_percentage`, `tolerated_failure_count`, `item_counts` and
    `execution_counts` (DescribeMapRun's objects as given: `total`, `succeeded`, `failed`,
    `timedOut`, `aborted`, `pending`, `running`, `resultsWritten`), `redrive_count`, and
    `state_name` / `step_key` of the parent's Map step that ran it (`attributes.map_run_steps`: a
    retried Map runs several Map Runs in one visit).
    Children get `parent_execution_id` = the parent execution's ARN.

    A child whose history could not be fetched fails the parent too (raised once its siblings
    are stored): a parent stored as finished is never fetched again, and its Map Runs' children
    are listed only through it, so that child would be missed for good.
    """
    sfn = sc.clients.sfn
    summaries: list[dict[str, Any]] = []
    children_failed = 0
    # A failure here fails the parent's collection (its children would be missed for good once it
    # is stored as finished): recorded under the call that failed, not as GetExecutionHistory.
    try:
        runs = _paginate(sfn.list_map_runs, "mapRuns", executionArn=execution_arn, maxResults=LIST_PAGE)
    except Exception as exc:  # noqa: BLE001
        raise as_collection_error(exc, "ListMapRuns", execution_arn) from exc
    for run in runs:
        run_arn = run["mapRunArn"]
        try:
            info = sfn.describe_map_run(mapRunArn=run_arn)
        except Exception as exc:  # noqa: BLE001
            raise as_collection_error(exc, "DescribeMapRun", run_arn) from exc
        summaries.append({
            "map_run_arn": run_arn, "status": info.get("status"),
            "start": _iso(info.get("startDate")), "stop": _iso(info.get("stopDate")),
            "max_concurrency": info.get("maxConcurrency"),
            "tolerated_failure_percentage": info.get("toleratedFailurePercentage"),
            "tolerated_failure_count": info.get("toleratedFailureCount"),
            "item_counts": info.get("itemCounts"), "execution_counts": info.get("executionCounts"),
            "redrive_count": info.get("redriveCount"),
        })
        try:
            children = list(iter_executions(sfn, lower_bound=None, map_run_arn=run_arn))
        except Exception as exc:  # noqa: BLE001
            raise as_collection_error(exc, "ListExecutions", run_arn) from exc
        sc.result.count("map_run_children_listed", len(children))
        sc.mark_seen([c["executionArn"] for c in children])
        sc.load_stored([c["executionArn"] for c in children])
        todo = [c for c in children if sc.needs_fetch(c)]
        sc.result.count("executions_skipped_terminal", len(children) - len(todo))
        express = [c for c in todo if is_express_arn(c["executionArn"])]
        if express:
            store_listed_express_children(sc, express, run_arn, parent=execution_arn)
            todo = [c for c in todo if not is_express_arn(c["executionArn"])]
        children_failed += run_history_fetches(sc, todo, parent=execution_arn)
    if children_failed:
        raise CollectionError(f"{children_failed} child execution(s) of its Map Run(s) not collected; the parent is "
                              "fetched again by the next sync", operation="GetExecutionHistory",
                              code="MapRunChildNotCollected", target=execution_arn)
    return summaries


def store_listed_express_children(sc: ScopeContext, items: list[dict[str, Any]], map_run_arn: str, *,
                                  parent: str) -> None:
    """Express child executions of a Distributed Map (ItemProcessor ExecutionType EXPRESS), as
    ListExecutions(mapRunArn) gives them: GetExecutionHistory does not serve Express executions,
    so asking failed once per child, every sync (a failed scope, its watermark held for ever).
    Their executions rows (status, start, stop: one request and its duration billed each) come
    from the listing; their steps only from the logs (the parent machine's log group, read for
    them: `ScopeContext.express_parents`)."""
    batch = sc.formats["aws.execution"](
        {"executions": [strip_payloads(it) for it in items]},
        sc.ctx(f"ListExecutions {map_run_arn}"))
    for row in batch.executions:
        row[C.parent_execution_id] = parent
    sc.sink.add(batch)
    with sc.lock:
        for row in batch.executions:
            # stored now: their log records, read next (`logs.select_records`), are merged with
            # these rows, not written over them as runs absent from the store
            sc.stored[row[C.execution_id]] = row[C.status]
            sc.listed_children[row[C.execution_id]] = parent
    sc.result.count("map_run_express_children", len(batch.executions))


def run_history_fetches(sc: ScopeContext, items: list[dict[str, Any]], *, parent: str | None = None) -> int:
    """GetExecutionHistory for many executions with bounded concurrency; failures recorded.

    Returns how many were not collected and still exist (their start holds the watermark)."""
    outcomes = bounded_map(lambda it: collect_execution(sc, it, parent=parent), items,
                           sc.concurrency, thread_name_prefix="flowscope-history")
    failed = 0
    for outcome in outcomes:
        item = outcome.item
        if outcome.error is None:
            sc.result.count("executions_fetched")
            continue
        err = as_collection_error(outcome.error, "GetExecutionHistory", item["executionArn"])
        sc.result.record_error(err)
        if err.code in GONE_CODES:
            sc.result.count("executions_gone")
        else:
            failed += 1
            sc.gap(utc(item.get("startDate")))   # a re-run must list it again
    return failed


def collect_standard_listing(sc: ScopeContext, machine: dict[str, Any]) -> list[dict[str, Any]]:
    """The executions of one Standard machine that need a history fetch: new, not yet terminal,
    or listed with another status or a higher redrive count than stored (`list_redriven` adds
    those redriven after they left the window)."""
    arn = machine["stateMachineArn"]
    lower_bound = machine_lower_bound(sc, arn)
    if lower_bound != sc.window.lower_bound:
        sc.result.count("machines_read_from_unread")
    try:
        items = list(iter_executions(sc.clients.sfn, lower_bound=lower_bound, state_machine_arn=arn))
    except Exception as exc:  # noqa: BLE001
        if error_code(exc) in GONE_CODES:     # deleted since it was described: nothing to hold for
            sc.result.warn(f"state machine {machine.get('name') or arn} no longer exists "
                           "(deleted while the scope was read); its executions were not listed")
            return []
        sc.result.record_error(as_collection_error(exc, "ListExecutions", arn))
        keep_machine_unread(sc, arn)
        return []
    arns = [it["executionArn"] for it in items]
    sc.mark_seen(arns)
    sc.load_stored(arns)
    todo = [it for it in items if sc.needs_fetch(it)]
    sc.result.count("executions_listed", len(items))
    sc.result.count("executions_skipped_terminal", len(items) - len(todo))
    todo += list_redriven(sc, arn)
    refetched = sum(1 for it in todo if it["executionArn"] in sc.refetch)
    if refetched:
        sc.result.count("executions_redriven", refetched)
    return todo


def list_redriven(sc: ScopeContext, machine_arn: str) -> list[dict[str, Any]]:
    """Stored executions of a Standard machine redriven since they were collected, however long
    ago they started: ListExecutions(redriveFilter=REDRIVEN) is not bounded by the window (a
    redrive keeps the execution's start date, so the window's listing misses the redrive of an
    execution that started before its lower bound). Executions never stored are left alone (they
    started before anything collected), and so are stored RUNNING ones (`revisit_running` takes
    them); the window's listing already took the ones it saw.
    An endpoint that refuses the filter (moto, LocalStack) is not asked again this scope."""
    if "redriveFilter" in sc.unsupported:
        return []
    if sc.redrivable is not None and machine_arn not in sc.redrivable:
        sc.result.count("redrive_listings_skipped")
        return []
    try:
        items = [it for it in _paginate(sc.clients.sfn.list_executions, "executions", stateMachineArn=machine_arn,
                                        redriveFilter="REDRIVEN", maxResults=LIST_PAGE)
                 if it["executionArn"] not in sc.seen]
    except Exception as exc:  # noqa: BLE001
        code = error_code(exc) or type(exc).__name__
        if code in UNSUPPORTED_CODES or code == "ValidationException":
            with sc.lock:
                sc.unsupported.add("redriveFilter")
            sc.result.warn(f"ListExecutions(redriveFilter=REDRIVEN) failed ({code}); executions redriven "
                           "after they left the window are not re-collected in this scope")
        else:
            sc.result.warn(f"ListExecutions(redriveFilter=REDRIVEN) failed for {machine_arn} ({code}); "
                           "its executions redriven after they left the window are not re-collected")
        return []
    items = [it for it in items if int(it.get("redriveCount") or 0) > 0]   # an endpoint ignoring the filter
    stored = sc.load_stored([it["executionArn"] for it in items])
    todo = [it for it in items if stored.get(it["executionArn"]) in TERMINAL and sc.needs_fetch(it)]
    sc.mark_seen([it["executionArn"] for it in todo])
    return todo


REDRIVE_WINDOW = dt.timedelta(days=14)
"""Step Functions redrives a run only within 14 days of its failure, timeout or abort."""
REDRIVABLE = ("FAILED", "TIMED_OUT", "ABORTED")


def stored_redrivable(store: Any, now: dt.datetime) -> set[str] | None:
    """State machines with a stored run that failed, timed out or was aborted within the redrive
    window (a day's margin): the only ones whose redrives `list_redriven` may find. Listing every
    machine's redrives every sync doubled the ListExecutions calls. None when the store cannot say
    (every machine is listed then); an empty set on a first sync."""
    since = now - REDRIVE_WINDOW - dt.timedelta(days=1)
    try:
        frame = store.sql(f"SELECT DISTINCT {C.workflow_id} FROM executions WHERE {C.cloud} = 'aws' "
                          f"AND {C.status} IN {REDRIVABLE!r} AND ({C.ended_at} IS NULL OR {C.ended_at} >= ?)",
                          [since])
    except Exception:  # noqa: BLE001 - the store cannot say: list every machine's redrives
        return None
    return {str(value) for value in frame[C.workflow_id].tolist()}


def revisit_running(sc: ScopeContext, standard_machines: set[str]) -> None:
    """Stored RUNNING executions of Standard machines that the listing did not return: revisit.

    So are those of a Standard machine ListStateMachines no longer returns (deleted since; within
    the source's name globs): DescribeExecution then tells how they ended, or that they are gone
    (`mark_gone`), instead of leaving them RUNNING for ever. Express executions are never
    revisited: logs are all there is."""
    try:
        rows = sc.store.running_executions(Cloud.AWS.value, account=sc.clients.account, region=sc.clients.region)
    except Exception as exc:  # noqa: BLE001
        sc.result.record_error(CollectionError(f"reading stored running executions failed: {exc}",
                                               operation="store.running_executions"))
        return

    def of_this_scope(row: dict[str, Any]) -> bool:
        machine = row.get(C.workflow_id)
        if machine in standard_machines:
            return True
        if machine in sc.machines_listed or row.get(C.kind) == KIND_EXPRESS:
            return False     # listed but not described (a recorded failure), globbed out, or Express
        name = str(row.get(C.workflow_name) or "")
        return name_matches(name, sc.globs)

    todo = with_their_parents(
        [r for r in rows if r[C.execution_id] not in sc.seen and of_this_scope(r) and not gone_mark(r)])
    if not todo:
        return
    sc.result.count("running_revisited", len(todo))

    def describe(row: dict[str, Any]) -> dict[str, Any]:
        return describe_execution(sc.clients.sfn, row[C.execution_id])

    outcomes = bounded_map(describe, todo, sc.concurrency, thread_name_prefix="flowscope-describe")
    items: list[dict[str, Any]] = []
    gone: list[tuple[dict[str, Any], str]] = []
    for outcome in outcomes:
        if outcome.error is None:
            items.append(cast(dict[str, Any], outcome.result))
            continue
        err = as_collection_error(outcome.error, "DescribeExecution", outcome.item[C.execution_id])
        if err.code in GONE_CODES:
            gone.append((outcome.item, err.code))
        else:   # still stored RUNNING: read again by id next sync, the watermark not held for it (as on Azure and
            # GCP): held at its start, one run DescribeExecution kept refusing froze the scope's window there
            sc.result.record_error(err)
    if gone:
        codes = ", ".join(sorted({code for _, code in gone}))
        mark_gone(sc.sink, sc.result, gone, sc.now, noun="RUNNING execution(s)", where=f"AWS ({codes})")
    stored_parent = {r[C.execution_id]: r.get(C.parent_execution_id) for r in todo}
    by_parent: dict[str | None, list[dict[str, Any]]] = {}
    for item in items:
        by_parent.setdefault(stored_parent.get(item["executionArn"]), []).append(item)
    for parent, group in by_parent.items():
        # a Map Run child keeps the parent execution it was stored with (DescribeExecution names
        # only its Map Run, which the transform would file as its parent)
        run_history_fetches(sc, group, parent=parent)


def with_their_parents(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored RUNNING executions to revisit, minus the Map Run children whose parent is among them:
    fetching the parent lists its Map Runs' children again and fetches those still running, so
    revisiting them too fetched each twice, in a race over which row is written last."""
    revisited = {r[C.execution_id] for r in rows}
    return [r for r in rows if r.get(C.parent_execution_id) not in revisited]
