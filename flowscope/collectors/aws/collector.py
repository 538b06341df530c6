"""The AWS live collector: `sync(source_config, store, since=..., now=...)`, the one entry point.

One `[[sources]]` entry with `cloud = "aws"` names regions (and optionally a profile, a role to
assume, an endpoint, state machine name globs). Each (account, region) is a scope, collected
on its own and recorded in its own collection_runs row; scopes run in parallel and one failing
scope never stops the others.

Per scope: list and describe the state machines (workflows rows, versions and aliases in
`attributes`); Standard machines through ListExecutions + GetExecutionHistory, or through their
logs when they log at ALL and that costs fewer quota-seconds; Express machines through their
CloudWatch Logs; stored RUNNING executions revisited until terminal; CloudWatch metrics.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from flowscope.collectors import source_config as cfg
from flowscope.collectors import unread
from flowscope.collectors.aws.definition import estimate_events
from flowscope.collectors.aws.logs import LOGS_UNREAD
from flowscope.collectors.aws.source import SOURCE_KEYS, AwsScope, scopes, validate
from flowscope.collectors.aws.stepfunctions import MACHINES_UNREAD
from flowscope.collectors.sink import StoreSink, close_run_row, open_window
from flowscope.collectors.source_config import SourceConfigError
from flowscope.collectors.throttle import bounded_map
from flowscope.collectors.window import CollectWindow, ScopeResult, failure_entry
from flowscope.model import SOURCE_KEY, UTC, Batch, Cloud, utc

if TYPE_CHECKING:
    from flowscope.collectors.aws.stepfunctions import ScopeContext
    from flowscope.store import Store

CLOUD = Cloud.AWS.value
# ---------------------------------------------------------------- one scope

def collect_scope(scope: AwsScope, store: "Store", *, since: dt.datetime | None = None,
                  now: dt.datetime | None = None) -> ScopeResult:
    """Collect one (account, region) into the store; returns (and writes) its collection_runs row.

    Never raises for an API or store failure: a failed scope is a FAILED result with its error.
    """
    from flowscope.collectors.aws import clients as aws_clients

    now = now or dt.datetime.now(UTC)
    result = ScopeResult(cloud=CLOUD, scope=scope.scope_id(None), started_at=dt.datetime.now(UTC))
    result.details.update({"region": scope.region, "endpoint": scope.endpoint_url, SOURCE_KEY: scope.source_key()})
    clients = None
    try:
        clients = aws_clients.scope_clients(
            region=scope.region, profile=scope.profile, role_arn=scope.role_arn,
            endpoint_url=scope.endpoint_url, external_id=scope.external_id,
            quota_overrides=dict(scope.quotas), max_attempts=scope.max_attempts,
            concurrency=scope.concurrency, read_timeout=scope.read_timeout)
        result.scope = scope.scope_id(clients.account)
        result.details["account"] = clients.account
        window = open_window(store, result, lag=scope.lag, since=since, now=now)    # status running first
        _collect(scope, clients, store, result, window, now)
    except Exception as exc:  # noqa: BLE001 - a failed scope is recorded, never raised
        failed = aws_clients.explain_credentials(exc)
        result.finish(failed=failed)
        result.errors.append(failure_entry(failed, type(failed).__name__))
        if clients is None:
            _name_after_last_success(scope, store, result)
    finally:
        if clients is not None:
            result.details["api_calls"] = dict(sorted(clients.calls.items()))
            result.details["rate_limits"] = clients.limiters.stats()
    return close_run_row(store, result)


def _name_after_last_success(scope: AwsScope, store: "Store", result: ScopeResult) -> None:
    """The account could not be read (credentials, network): the failure is recorded under the
    scope this same source last collected (`aws:<account>:<region>`), so it is that scope's latest
    run until a later sync succeeds, rather than under a scope named after the profile that no
    later success would ever replace. A source that never collected keeps the profile's name."""
    try:
        known = store.last_collected_scope(scope.source_key())
    except Exception:  # noqa: BLE001 - the store may be what failed; the failure is still recorded
        known = None
    if known and known != result.scope:
        result.details["scope_from"] = ("the account could not be read: recorded under the scope "
                                        "this source last collected")
        result.scope = known


def _collect(scope: AwsScope, clients: Any, store: "Store", result: ScopeResult,
             window: CollectWindow, now: dt.datetime) -> None:
    from flowscope.collectors.aws import stepfunctions as sfn_mod
    from flowscope.collectors.aws import transform
    from flowscope.collectors.aws.transform import FORMATS

    sink = StoreSink(store, result, transforms=transform, flush_every=scope.write_every)
    sc = sfn_mod.ScopeContext(clients=clients, store=store, sink=sink, result=result, window=window,
                              formats=FORMATS, now=now, concurrency=scope.concurrency)
    last = sc.previous_details()      # what the last run could not read, read once
    sc.logs_unread, sc.metrics_unread = unread.parse(last.get(LOGS_UNREAD)), _metrics_unread_from(last)
    sc.machines_unread = unread.parse(last.get(MACHINES_UNREAD))
    try:
        _collect_machines(scope, sc)
    finally:
        sink.close()


def _collect_machines(scope: AwsScope, sc: "ScopeContext") -> None:
    from flowscope.collectors.aws import logs as aws_logs
    from flowscope.collectors.aws import stepfunctions as sfn_mod

    described = _describe_machines(scope, sc)
    standard = {a: d for a, d in described.items() if (d.get("type") or "STANDARD").upper() != "EXPRESS"}
    express = {a: d for a, d in described.items() if a not in standard}
    paths: dict[str, dict[str, Any]] = {}
    sc.result.details["machines"] = paths

    # 2. Standard: list newest-first down to the window, then choose the path per machine
    log_groups: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    log_listed: dict[str, dict[str, dict[str, Any]]] = {}
    if standard:
        sc.redrivable = sfn_mod.stored_redrivable(sc.store, sc.now)
    history_items = _plan_standard(scope, sc, standard, paths, log_groups, log_listed)
    sfn_mod.run_history_fetches(sc, history_items)

    # 3. Express (and Standard-at-ALL on the logs path): read each log group once
    _plan_express(sc, express, paths, log_groups)
    for group, members in sorted(log_groups.items()):
        aws_logs.collect_log_group(sc, group, members, log_listed)
    aws_logs.carry_unread(sc, set(log_groups))

    # 4. stored RUNNING Standard executions the listings did not return again
    sfn_mod.revisit_running(sc, set(standard))
    sc.sink.flush()

    # 5. metrics (their own window: incremental like the rest, bounded on a first sync)
    if scope.metrics and described:
        _collect_metrics(sc, list(described.values()))
    sc.sink.flush()
    if sc.sink.skips_kept:
        sc.result.details["skips"] = sc.sink.skips_kept

    # 6. the watermark: the end of the window, held back to the oldest gap left behind
    sc.result.finish()
    sc.result.watermark = sc.held_watermark()


def _describe_machines(scope: AwsScope, sc: "ScopeContext") -> dict[str, dict[str, Any]]:
    """1. The scope's state machines described (ARN -> describe document); their workflows rows
    queued. A listing failure fails the scope: nothing else can be known."""
    from flowscope.collectors.aws import stepfunctions as sfn_mod
    from flowscope.collectors.aws.transform.state_machines import revision_of

    sfn, result = sc.clients.sfn, sc.result
    listed = sfn_mod.list_state_machines(sfn)
    sc.machines_listed = {m["stateMachineArn"] for m in listed}
    if not listed:
        # said, not a clean empty success (a name glob matching nothing is said too)
        result.warn(f"no state machines in account {sc.clients.account}, region {sc.clients.region}: nothing to "
                    "collect (check the source's regions and credentials)")
    sc.globs = scope.globs
    machines = cfg.match_names(listed, scope.globs, lambda m: str(m["name"]), result, "state machines")
    result.count("state_machines", len(machines))
    unsupported: set[str] = set()
    stored_rows = sfn_mod.stored_workflows(sc.store, [m["stateMachineArn"] for m in machines])
    stored = sfn_mod.stored_metadata(stored_rows)

    def describe(machine: dict[str, Any]) -> dict[str, Any]:
        arn = machine["stateMachineArn"]
        doc = sfn_mod.strip_payloads(sfn.describe_state_machine(stateMachineArn=arn))
        reused = sfn_mod.reusable_metadata(stored.get(arn), revision_of(doc), sc.now)
        if reused is not None:
            result.count("machine_metadata_reused")
            doc.update(reused)
            if reused.get("metadataDenied"):     # still said while the denial is reused
                result.warn(f"{', '.join(reused['metadataDenied'])} denied when last asked; versions/aliases "
                            "not recorded (asked again a day later; docs/iam-policy.json grants them)")
            return doc
        listed = sfn_mod.versions_and_aliases(sfn, arn, result, unsupported)
        doc.update(listed)
        if sfn_mod.metadata_settled(listed):
            # every part listed (every alias's routing read) or denied: kept for reuse
            doc["metadataListedAt"] = sc.now.isoformat()
        return doc

    described: dict[str, dict[str, Any]] = {}
    for outcome in bounded_map(describe, machines, min(4, scope.concurrency)):
        arn = outcome.item["stateMachineArn"]
        if outcome.error is None:
            described[arn] = cast(dict[str, Any], outcome.result)
        elif sfn_mod.error_code(outcome.error) in sfn_mod.GONE_CODES:
            # deleted since the listing: nothing left to collect, so no failure and no held
            # watermark; its stored running runs are revisited as those of a deleted machine
            result.warn(f"state machine {outcome.item.get('name') or arn} no longer exists "
                        "(deleted while the scope was read); not collected")
            sc.machines_listed.discard(arn)
        else:
            result.record_error(sfn_mod.as_collection_error(outcome.error, "DescribeStateMachine", arn))
            sfn_mod.keep_machine_unread(sc, arn)
    workflows = Batch(workflows=sfn_mod.definitions_to_redact(stored_rows))
    for doc in described.values():
        workflows.extend(sc.formats["aws.state_machine"](doc, sc.ctx(f"DescribeStateMachine {doc['stateMachineArn']}")))
    sc.sink.add(workflows)
    return described


def _plan_standard(scope: AwsScope, sc: "ScopeContext", standard: dict[str, dict[str, Any]],
                   paths: dict[str, dict[str, Any]], log_groups: dict[str, dict[str, dict[str, Any]]],
                   log_listed: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """List each Standard machine's new executions and choose its path (history or logs, recorded
    in `paths`); returns the executions to fetch histories for, and files the rest under their
    log group (`log_groups`, `log_listed`)."""
    from flowscope.collectors.aws import logs as aws_logs
    from flowscope.collectors.aws import stepfunctions as sfn_mod

    def listing(arn: str) -> list[dict[str, Any]]:
        return sfn_mod.collect_standard_listing(sc, standard[arn])

    history_items: list[dict[str, Any]] = []
    for outcome in bounded_map(listing, list(standard), min(2, scope.concurrency)):
        arn = outcome.item
        todo = cast(list[dict[str, Any]], outcome.result) if outcome.error is None else []
        describe_doc = standard[arn]
        per_exec = _events_per_execution(sc.store, arn, describe_doc)
        path, why = aws_logs.choose_path(describe_doc, len(todo), per_exec, preference=scope.standard_path)
        paths[arn] = {"state_machine_arn": arn, "kind": "standard", "path": path, "decision": why}
        info = aws_logs.logging_info(describe_doc)
        if path == "logs" and info.log_group:
            # a redriven execution stored terminal: its logs in the window are only the redrive's
            # tail, so its whole history is fetched instead
            redriven = [it for it in todo if it["executionArn"] in sc.refetch]
            history_items.extend(redriven)
            log_groups[info.log_group][arn] = describe_doc
            log_listed[arn] = {it["executionArn"]: it for it in todo if it["executionArn"] not in sc.refetch}
        else:
            history_items.extend(todo)
        _file_express_children(sc, arn, describe_doc, paths[arn], log_groups)
    return history_items


def _file_express_children(sc: "ScopeContext", arn: str, describe_doc: dict[str, Any], entry: dict[str, Any],
                           log_groups: dict[str, dict[str, dict[str, Any]]]) -> None:
    """A Standard machine whose Distributed Map runs Express children: they log to its log group,
    their only source of steps (no history API serves them). The machine itself takes the history
    path, so the group was never read and the children had no step; it is now read for them only
    (`ScopeContext.express_parents`). Logging OFF is said: they can have no steps then."""
    from flowscope.collectors.aws import logs as aws_logs
    from flowscope.collectors.aws.definition import has_distributed_map

    if not has_distributed_map(describe_doc.get("definition"), execution_type="EXPRESS"):
        return
    info = aws_logs.logging_info(describe_doc)
    if info.log_group is None:
        warning = (f"state machine {describe_doc.get('name') or arn}: the Express child executions of its "
                   "Distributed Map log to its log group, and its logging is OFF: they are stored without steps")
        sc.result.warn(warning)
        entry["express_children"] = {"log_group": None, "warning": warning}
        return
    sc.express_parents.add(arn)
    log_groups[info.log_group][arn] = describe_doc
    entry["express_children"] = {"log_group": info.log_group, "logging_level": info.level}


def _plan_express(sc: "ScopeContext", express: dict[str, dict[str, Any]], paths: dict[str, dict[str, Any]],
                  log_groups: dict[str, dict[str, dict[str, Any]]]) -> None:
    """File each Express machine under its log group; say which cannot give whole executions."""
    from flowscope.collectors.aws import logs as aws_logs

    for arn, doc in express.items():
        info = aws_logs.logging_info(doc)
        warning = aws_logs.logging_warning(doc)
        # `details.machines[arn]` = {"state_machine_arn", "name", "logging_level", ...}: the analysis
        # (`analysis.collection.express_gaps`) reads a level below ALL next to the ARN as a gap.
        entry = {"state_machine_arn": arn, "name": doc.get("name"), "kind": "express", "path": "logs",
                 "logging_level": info.level, "log_group": info.log_group, "complete": info.complete}
        if warning:
            sc.result.warn(warning)
            entry["warning"] = warning
        paths[arn] = entry
        if info.log_group:
            log_groups[info.log_group][arn] = doc


def _collect_metrics(sc: "ScopeContext", machines: list[dict[str, Any]]) -> None:
    from flowscope.collectors.aws import stepfunctions as sfn_mod
    from flowscope.collectors.aws.metrics import DEFAULT_LOOKBACK, get_metric_rows

    clients = sc.clients
    start = sc.window.lower_bound or (sc.now - DEFAULT_LOOKBACK)
    unread = sc.metrics_unread
    if unread is not None and unread < start:
        start = unread
        sc.result.details["metrics_from"] = unread.isoformat()
    try:
        rows = get_metric_rows(clients.cloudwatch, machines, account=clients.account,
                               region=clients.region, start=start, end=sc.now)
        sc.sink.add(Batch(metrics=rows))
        sc.result.count("metric_datapoints", len(rows))
    except Exception as exc:  # noqa: BLE001
        sc.result.record_error(sfn_mod.as_collection_error(exc, "GetMetricData", clients.region))
        sc.result.details[METRICS_UNREAD] = start.isoformat()


METRICS_UNREAD = "metrics_unread_from"
"""Key, in a collection run's `details`, of the start of the metrics window it could not read."""


def _metrics_unread_from(details: dict[str, Any]) -> dt.datetime | None:
    """Where the scope's last collected run failed to read metrics from, if it did: metrics have no
    watermark of their own, so without it a failed GetMetricData window was never read again (the
    next sync's window starts at the moved-on watermark)."""
    value = details.get(METRICS_UNREAD)
    return utc(value) if isinstance(value, str) else None


def _events_per_execution(store: "Store", machine_arn: str, describe: dict[str, Any]) -> float:
    """Average history length of the machine's stored executions, else a guess from its definition."""
    try:
        value = store.mean_event_count(CLOUD, machine_arn)
        if value is not None and value == value:  # not NaN
            return value
    except Exception:  # noqa: BLE001 - an empty store has no executions table yet
        pass
    return estimate_events(describe.get("definition"))


# ---------------------------------------------------------------- a whole source

def sync(source_config: Mapping[str, Any], store: "Store", *, since: dt.datetime | None = None,
         now: dt.datetime | None = None, max_parallel_scopes: int = 4) -> list[ScopeResult]:
    """Collect every scope of one `[[sources]]` entry (in parallel); one result per scope."""
    from flowscope.collectors.scope_runs import sync_source

    return sync_source(CLOUD, scopes, collect_scope, source_config, store, since=since, now=now,
                       max_parallel_scopes=max_parallel_scopes)


__all__ = ["MACHINES_UNREAD", "SOURCE_KEYS", "AwsScope", "SourceConfigError", "collect_scope", "scopes", "sync",
           "validate"]
