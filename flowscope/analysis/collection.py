"""Collection gaps: a failed collection never reads as zero failures.

`collection_gap` findings for
- a scope whose latest collection run failed (critical), was partial or was interrupted (high: still
  `running` though its sync is gone, `runstate.interrupted`), unless a later
  run of the same source collected under another scope id (`model.superseded_failures`);
- a log group an Express state machine (or a Standard one's Distributed Map Express children) logs to
  that does not exist (high; the run succeeded with a warning, and those executions reach no store);
- an Express state machine that logs at a level below ALL (high), named either in the latest
  run's `details` JSON or in the workflow's `attributes` JSON: its executions cannot be fully
  reconstructed from logs, so its failures and steps are under-counted (a Standard machine whose
  Distributed Map's Express children log to its group below ALL: those children's steps);
- Express runs seen RUNNING past Express's 5-minute limit (medium; `stuck.express_runs_without_end`):
  they ended, and their end records were never read. Said in the machine's logging-level gap when it
  has one (a finding's id is its kind and workflow: one finding per workflow);
- usage of a meter the price list does not know (medium, per workflow; a store written by a newer
  flowscope, tables given to `analyze`): the engines price it at $0, so its spend reads low; and a Logic
  Apps Standard workflow's actions of unknown type (`azure.logic.unclassified_action`, stored before its
  definition was read), which count $0 on its plan though a managed connector call among them is billed.
"""

from __future__ import annotations

import json
from typing import Any

import ibis
import pandas as pd

from flowscope.analysis import pricing, stuck
from flowscope.analysis.base import (
    Context,
    Finding,
    FindingKind,
    Severity,
    execute,
    lit_ts,
    sample_ids,
    to_utc,
)
from flowscope.analysis.cost import workflow_costs
from flowscope.aws_ids import arn_account_region, scope_account_region
from flowscope.model import LOGS_MISSING_KEY, C, Cloud, Kind, RunStatus, run_details, superseded_failures, truncate
from flowscope.runstate import interrupted

LEVEL_KEYS = {"level", "logging_level", "logginglevel", "log_level", "loglevel"}
FULL_LEVEL = "ALL"
NAME_KEYS = ("state_machine_arn", "stateMachineArn", "arn", "workflow_id", "workflow", "name", "resource")
TITLE_ERROR_CHARS = 120   # a collection error in a finding title: its start, the cut marked (…)


def run(ctx: Context) -> list[Finding]:
    return failed_runs(ctx) + missing_log_groups(ctx) + express_gaps(ctx) + unpriced_usage(ctx)


UNPRICED_RECOMMENDATION = ("Upgrade flowscope: this version's price list (analysis/pricing.py) has no price for "
                           "these meters, so their usage counts $0 in every spend, projection and saving.")


UNCLASSIFIED_RECOMMENDATION = ("Sync again (or import the workflow's definition): its actions were stored before "
                               "their definition was read, so flowscope cannot tell a built-in action (free on "
                               "the Standard plan) from a managed connector call (billed per call); they count $0.")


def unpriced_usage(ctx: Context) -> list[Finding]:
    """A `collection_gap` per workflow whose usage in the window holds a meter without a price: the engines
    price it at $0 (`pricing.priced_usage`), where 10,000 calls of an unknown meter read as no spend and
    nothing said. Also a Logic Apps Standard workflow's actions of unknown type (`pricing.UNCLASSIFIED`):
    free on the plan as built-in operations, yet a managed connector call among them is billed per call,
    and they counted $0 with nothing said. Read from `cost.workflow_costs` (the analyses' priced usage,
    cached): the usage is read again only for the workflows found."""
    wc = workflow_costs(ctx)
    if wc.empty:
        return []
    priced = set(pricing.price_rows(ctx.until.date())["p_meter"])
    meters = wc[C.meter].astype(str)
    standard = [ctx.workflow_kind(c, w) == Kind.LOGICAPP_STANDARD for c, w in
                zip(wc[C.cloud], wc[C.workflow_id], strict=True)]
    unclassified = (meters == str(pricing.UNCLASSIFIED)) & pd.Series(standard, index=wc.index, dtype=bool) \
        & (wc["quantity"] > 0)
    unknown = wc[~meters.isin(priced) | unclassified]
    if unknown.empty:
        return []
    u = ctx.in_window(ctx.table("usage"))
    u = u.filter(u[C.meter].isin(sorted({str(m) for m in unknown[C.meter]})))
    if unclassified.any():      # a Consumption app's unclassified actions are priced (as built-in actions)
        k = ibis.memtable(unknown[[C.cloud, C.workflow_id, C.meter]].astype(str).drop_duplicates().rename(
            columns={C.cloud: "k_cloud", C.workflow_id: "k_wf", C.meter: "k_meter"}))
        u = u.semi_join(k, [u[C.cloud] == k.k_cloud, u[C.workflow_id] == k.k_wf, u[C.meter] == k.k_meter])
    runs = execute(u.group_by([C.cloud, C.workflow_id]).aggregate(n=u[C.execution_id].nunique()))
    counts = {(r.cloud, r.workflow_id): int(r.n) for r in runs.itertuples(index=False)}
    samples = sample_ids(u, [C.cloud, C.workflow_id], order_by=C.started_at)
    out = []
    for (cloud, wf_id), g in unknown.groupby([C.cloud, C.workflow_id], sort=True):
        units = {str(m): float(q) for m, q in sorted(zip(g[C.meter], g["quantity"], strict=True))}
        wf_name = ctx.workflow_name(cloud, wf_id)
        said = ", ".join(f"{q:,.0f} {m}" for m, q in units.items() if m != pricing.UNCLASSIFIED)
        actions = units.get(str(pricing.UNCLASSIFIED))
        title = (f"{wf_name} used meters with no price in this flowscope ({truncate(said, TITLE_ERROR_CHARS)})"
                 if said else f"{wf_name} ran {actions:,.0f} action(s) of unknown type on its Standard plan")
        if said and actions:
            title += f" and {actions:,.0f} action(s) of unknown type"
        out.append(Finding(
            kind=FindingKind.COLLECTION_GAP, severity=Severity.MEDIUM, cloud=cloud, workflow=wf_name,
            workflow_id=wf_id, step=None, window_start=ctx.since, window_end=ctx.until,
            title=title + (": their spend counts $0, so its costs read low" if said
                           else ": they count $0, so its costs may read low"),
            evidence={"unpriced_units": units},
            recommendation=" ".join(r for r, on in ((UNPRICED_RECOMMENDATION, said),
                                                    (UNCLASSIFIED_RECOMMENDATION, actions)) if on),
            executions_affected=counts.get((cloud, wf_id), 0), sample_execution_ids=samples.get((cloud, wf_id), []),
            id_detail="unpriced"))     # beside an Express workflow's logging gap, which has the same kind
    return out


_LATEST_COLUMNS = [C.run_id, C.cloud, C.scope, C.started_at, C.ended_at, C.status, C.error, C.details]


def runs_before(ctx: Context) -> pd.DataFrame:
    """The collection runs started before the coverage's moment (`Context.collections_until`), read once per
    context: the scopes' latest runs (`latest_runs`) and the coverage's watermark (`run._coverage`, whose
    window end is no later) each took their own query of them; callers only read the frame."""
    return ctx.cached("collection_runs_before", lambda: _read_runs_before(ctx))


def _read_runs_before(ctx: Context) -> pd.DataFrame:
    cr = ctx.table("collection_runs")
    cr = cr.filter(cr[C.started_at] < lit_ts(ctx.collections_until))    # the coverage's moment: one rule
    return execute(cr.select(*_LATEST_COLUMNS, C.watermark))


def latest_runs(ctx: Context) -> pd.DataFrame:
    """Each scope's latest collection run before the coverage's moment, by cloud and scope. Worked out once
    per context: failed runs, missing log groups, logging levels and the coverage's failed collections each
    read them; callers only read the frame."""
    return ctx.cached("latest_collection_runs", lambda: _read_latest_runs(ctx))


def _read_latest_runs(ctx: Context) -> pd.DataFrame:
    df = runs_before(ctx)[_LATEST_COLUMNS]
    if df.empty:
        return df
    df = df.sort_values([C.cloud, C.scope, C.started_at])
    return df.groupby([C.cloud, C.scope], as_index=False).tail(1)


def failed_runs(ctx: Context) -> list[Finding]:
    latest = latest_runs(ctx)
    superseded = superseded_failures(latest.to_dict("records")) if not latest.empty else {}
    out = []
    for r in latest.itertuples(index=False):
        details = run_details(r.details)
        stopped = interrupted(r._asdict(), ctx.now, details)     # the analyses' now, as every age they give
        if (r.status not in (RunStatus.FAILED, RunStatus.PARTIAL) and not stopped) or r.run_id in superseded:
            continue
        failed = r.status == RunStatus.FAILED
        warnings = details.get("warnings")
        said = f"was interrupted ({stopped})" if stopped else "failed" if failed else "was partial"
        out.append(Finding(
            kind=FindingKind.COLLECTION_GAP, severity=Severity.CRITICAL if failed else Severity.HIGH,
            cloud=r.cloud, workflow=None, workflow_id=r.scope, step=None,
            window_start=to_utc(r.started_at), window_end=to_utc(r.ended_at) if stopped is None else None,
            title=(f"Last collection of {r.scope} {said}"
                   + (f": {truncate(r.error, TITLE_ERROR_CHARS)}" if isinstance(r.error, str) and r.error else "")
                   + " - its findings may be missing, not absent"),
            evidence={"run_id": r.run_id, "status": "interrupted" if stopped else r.status,
                      "error": r.error if isinstance(r.error, str) else None,
                      "warnings": warnings if isinstance(warnings, list) else None},
            recommendation=_rerun_recommendation(r.cloud),
        ))
    return out


MISSING_GROUP_RECOMMENDATION = (
    "Create the log group (or point the state machine's loggingConfiguration at one that exists, level ALL with "
    "includeExecutionData) and give Step Functions' log delivery its resource policy; Express has no execution "
    "history API, so until the group exists its executions reach no store, flowscope's included.")


def missing_log_groups(ctx: Context) -> list[Finding]:
    """One `collection_gap` (high) per log group the scope's latest run found missing that an Express state
    machine logs to: its executions are not collected at all, so the workflow reads as quiet, never failing.
    The run itself succeeded with a warning (an absent group holds nothing unread), so `failed_runs` is silent
    on it. A group only Standard machines log to is not a gap: their runs are read by GetExecutionHistory,
    unless their Distributed Map's Express children log there (`_children_groups`): no history serves those."""
    out = []
    for r in latest_runs(ctx).itertuples(index=False):
        details = run_details(r.details)
        missing = details.get(LOGS_MISSING_KEY)
        if not isinstance(missing, dict):
            continue
        for group, names in sorted(missing.items()):
            names = [str(n) for n in names] if isinstance(names, list) else []
            kinds = {_every_kind(ctx).get((r.cloud, wf_id)) for name in names for wf_id in _ids_named(ctx, r, name)}
            only_standard = bool(kinds) and kinds <= {str(Kind.SFN_STANDARD)}
            if only_standard and str(group) not in _children_groups(details):
                continue
            said = truncate(', '.join(names), TITLE_ERROR_CHARS) or 'its state machines'
            out.append(Finding(
                kind=FindingKind.COLLECTION_GAP, severity=Severity.HIGH, cloud=r.cloud, workflow=None,
                workflow_id=r.scope, step=None, window_start=to_utc(r.started_at), window_end=to_utc(r.ended_at),
                title=(f"Log group {truncate(str(group), TITLE_ERROR_CHARS)} does not exist: "
                       + (f"the steps of the Express child executions of {said}'s Distributed Map are not "
                          "collected - which steps fail is unseen" if only_standard
                          else f"the Express executions of {said} are not collected - they may be failing unseen")),
                evidence={"run_id": r.run_id, "log_group": str(group), "state_machines": names},
                recommendation=MISSING_GROUP_RECOMMENDATION, id_detail=f"log-group:{group}"))
    return out


def _children_groups(details: dict[str, Any]) -> set[str]:
    """The log groups a run's Standard machines' Distributed Map Express children log to
    (`machines[arn].express_children.log_group`): their steps' only source, whatever the parent's kind."""
    machines = details.get("machines")
    entries = machines.values() if isinstance(machines, dict) else []
    return {str(e["express_children"].get("log_group")) for e in entries
            if isinstance(e, dict) and isinstance(e.get("express_children"), dict)
            and e["express_children"].get("log_group")}


def _every_kind(ctx: Context) -> dict[tuple[str, str], str]:
    """(cloud, workflow_id) -> kind of every workflow, those a workflow filter left out too: a run
    names the machines of its scope, and what it says of them must read the same under any filter
    (`suite.select_findings`)."""
    def kinds() -> dict[tuple[str, str], str]:
        frame = ctx.all_workflows if ctx.all_workflows is not None else ctx.workflows
        return {(str(c), str(w)): str(k) for c, w, k in zip(frame[C.cloud], frame[C.workflow_id], frame[C.kind],
                                                            strict=True)}
    return ctx.cached("collection_every_kind", kinds)


def _ids_named(ctx: Context, run_row: Any, name: str) -> list[str]:
    """The workflow ids a collection run (`run_row`: its cloud and scope) means by `name`: the id itself (an
    undescribed machine is named by its ARN), else its cloud's workflows of that name, those of the
    run's scope when some are (a run names the machines it collected). Two machines of one name (two
    regions or accounts) out of its scope are both meant: one is never silently picked. None: [].
    Workflows a filter left out are among them (`_every_kind`)."""
    if (run_row.cloud, name) in _every_kind(ctx):
        return [name]

    def index() -> dict[tuple[str, str], list[str]]:
        by_name: dict[tuple[str, str], list[str]] = {}
        for c, w in _every_kind(ctx):
            by_name.setdefault((c, str(ctx.workflow_name(c, w))), []).append(w)
        return by_name

    named = ctx.cached("collection_ids_by_name", index).get((run_row.cloud, name), [])
    return [w for w in named if _of_scope(w, str(run_row.scope))] or named


def _of_scope(workflow_id: str, scope: str) -> bool:
    """Whether a workflow is of a collection scope, where its id says so: an AWS state machine ARN
    (`arn:<partition>:states:<region>:<account>:...`) of the scope `aws:<account>:<region>[#globs]`.
    Azure and GCP runs name no machine by name alone (False: the name decides). The formats are
    `aws_ids`', the collector's own."""
    where = scope_account_region(scope)
    return where is not None and arn_account_region(workflow_id) == where


def _rerun_recommendation(cloud: str) -> str:
    perms_by_cloud: dict[str, str] = {
        Cloud.AWS: "states:ListStateMachines, states:ListExecutions, states:GetExecutionHistory, "
                   "states:DescribeStateMachine, logs:FilterLogEvents, cloudwatch:GetMetricData",
        Cloud.AZURE: "Logic App Operator (or Reader) on the resource group, and Log Analytics Reader for "
                     "the workspace",
        Cloud.GCP: "roles/workflows.viewer and roles/logging.viewer",
    }
    perms = perms_by_cloud.get(cloud, "read access")
    return (f"Fix the error and run `flowscope sync` again; check the credentials and the read permissions "
            f"({perms}). Until it succeeds, treat this scope's numbers as incomplete.")


def express_gaps(ctx: Context) -> list[Finding]:
    """One `collection_gap` per Express workflow whose runs are only partly visible: it logs below ALL
    (high), runs of it were seen running past Express's 5 minutes and have no end (medium), or both
    (high, one finding saying both: a finding's id is its kind and workflow)."""
    levels = _logging_levels(ctx)
    unended = {(r.cloud, r.workflow_id): r for r in stuck.express_runs_without_end(ctx).itertuples(index=False)}
    keys = list(levels) + [k for k in unended if k not in levels]
    return [_express_gap(ctx, cloud, wf_id, levels.get((cloud, wf_id)), unended.get((cloud, wf_id)))
            for cloud, wf_id in keys]


def _logging_levels(ctx: Context) -> dict[tuple[str, str], dict[str, Any]]:
    """Per Express workflow (cloud, workflow_id) logging below ALL (or Standard one whose Express children
    log to its group): its level and where it was read (the latest collection run's details first, a
    machine they name by name resolved by `_ids_named`, else the workflow's attributes)."""
    gaps: dict[tuple[str, str], dict[str, Any]] = {}
    for r in latest_runs(ctx).itertuples(index=False):
        for name, level in _levels(_json(r.details)):
            for wf_id in _ids_named(ctx, r, name) or [name]:
                if ctx.all_workflows is not None and ctx.workflow_kind(r.cloud, wf_id) is None:
                    continue          # a workflow the filter left out
                gaps.setdefault((r.cloud, wf_id), {"level": level, "source": "collection_run", "run_id": r.run_id})
    w = ctx.table("workflows")
    w = w.filter(w[C.kind] == str(Kind.SFN_EXPRESS))
    latest = execute(w.group_by([C.cloud, C.workflow_id]).aggregate(
        attrs=w[C.attributes].argmax(w[C.seen_at]), name=w[C.name].argmax(w[C.seen_at])))
    for r in latest.itertuples(index=False):
        for _, level in _levels(_json(r.attrs), default_name=r.workflow_id):
            gaps.setdefault((r.cloud, r.workflow_id), {"level": level, "source": "workflow_attributes"})
    return gaps


LOGGING_RECOMMENDATION = (
    "Set the state machine's logging configuration to level ALL with includeExecutionData true "
    "(UpdateStateMachine loggingConfiguration) so every execution's steps reach CloudWatch Logs; Express has "
    "no execution history API.")
CHILDREN_LOGGING_RECOMMENDATION = (
    "Set the state machine's logging configuration to level ALL with includeExecutionData true "
    "(UpdateStateMachine loggingConfiguration): the Express child executions of its Distributed Map log to its "
    "log group, their steps' only source (no execution history API serves them).")
UNENDED_RECOMMENDATION = (
    "Express stops every run at 5 minutes, so these are missing log records, not stuck runs. Check that the "
    "log group receives every event (logging level ALL, the log group's resource policy for delivery, no "
    "subscription filter or expiry dropping records) and sync (or import) the window again; their outcome "
    "and duration count nowhere until their end is read.")


def _express_gap(ctx: Context, cloud: str, wf_id: str, level: dict[str, Any] | None, unended: Any) -> Finding:
    """The one gap of an Express workflow from its logging level (or None) and its runs without an end
    (a row of `stuck.express_runs_without_end`, or None); at least one is given."""
    wf_name = ctx.workflow_name(cloud, wf_id)
    evidence: dict[str, Any] = dict(level or {})
    n, samples = (int(unended.n), list(unended.samples)) if unended is not None else (0, [])
    if unended is not None:
        evidence.update(runs_without_end=n, oldest_start=to_utc(unended.oldest), last_seen=to_utc(unended.as_of))
    if level is not None:
        # a Standard machine's own runs are read whole from their history: a level of one is that of
        # its Distributed Map's Express children (`details.machines[arn].express_children`)
        children = ctx.workflow_kind(cloud, wf_id) == str(Kind.SFN_STANDARD)
        title = (f"Standard state machine {wf_name} logs at {level['level']}, not ALL: the Express child "
                 "executions of its Distributed Map, read from its log group, are only partly visible" if children
                 else f"Express state machine {wf_name} logs at {level['level']}, not ALL: its executions and "
                 "failures are only partly visible")
        if unended is not None:
            title += f"; {n} run(s) seen running past Express's 5 minutes have no end record"
        return Finding(
            kind=FindingKind.COLLECTION_GAP, severity=Severity.HIGH, cloud=cloud, workflow=wf_name,
            workflow_id=wf_id, step=None, window_start=ctx.since, window_end=ctx.until, title=title,
            evidence=evidence, recommendation=CHILDREN_LOGGING_RECOMMENDATION if children else LOGGING_RECOMMENDATION,
            executions_affected=n, sample_execution_ids=samples)
    return Finding(
        kind=FindingKind.COLLECTION_GAP, severity=Severity.MEDIUM, cloud=cloud, workflow=wf_name,
        workflow_id=wf_id, step=None, window_start=to_utc(unended.oldest), window_end=to_utc(unended.as_of),
        title=(f"{n} Express execution(s) of {wf_name} were seen running past Express's 5 minutes: they "
               "ended, but their end records were never read, so their outcome is unknown"),
        evidence=evidence, recommendation=UNENDED_RECOMMENDATION,
        executions_affected=n, sample_execution_ids=samples)


def _json(text: Any) -> Any:
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return {}
    if isinstance(text, (dict, list)):
        return text
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return {}


def _levels(doc: Any, default_name: str | None = None) -> list[tuple[str, str]]:
    """(machine, level) for every logging level below ALL found in a JSON document.

    Reads objects that carry a level key (level, logging_level, loggingLevel, ...) beside a name
    (arn, name, workflow_id, ...) or inside an object that has one, and maps keyed by machine
    under a key containing "logging" ({"express_logging": {"arn:...": "ERROR"}}).
    """
    found: list[tuple[str, str]] = []

    def walk(node: Any, name: str | None, under_logging: bool) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, name, under_logging)
            return
        if not isinstance(node, dict):
            return
        here = next((str(node[k]) for k in NAME_KEYS if isinstance(node.get(k), str)), name)
        for key, value in node.items():
            if isinstance(value, str):
                if key.lower().replace("-", "_") in LEVEL_KEYS and here:
                    level = value.upper()
                elif under_logging and key.lower() not in {k.lower() for k in NAME_KEYS}:
                    here_key, level = key, value.upper()
                    if level != FULL_LEVEL and level in {"OFF", "ERROR", "FATAL"}:
                        found.append((here_key, level))
                    continue
                else:
                    continue
                if level != FULL_LEVEL:
                    found.append((here, level))
            else:
                walk(value, here, under_logging or "logging" in key.lower())

    walk(doc, default_name, False)
    return found
