"""Azure step 1: the scope's workflows (Consumption, and Standard apps' through their sites) and the
older revisions its runs ran on. Their rows are queued; the definitions are kept on the context
(which actions are loops, which path a workflow can take)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from flowscope.collectors import source_config as cfg
from flowscope.collectors.azure.context import CLOUD, ScopeContext, props
from flowscope.collectors.native import cleaned
from flowscope.collectors.throttle import bounded_map
from flowscope.model import C, Source

if TYPE_CHECKING:
    from flowscope.collectors.azure.source import AzureScope


def collect_workflows(scope: "AzureScope", sc: ScopeContext) -> dict[str, dict[str, Any]]:
    """The scope's workflows (canonical id -> document); their rows queued, Standard ones with
    their app's plan (`standard.with_plans`).

    A subscription-wide listing failure fails the scope (nothing else can be known); one failing
    resource group is recorded and the others go on (unless every one failed). Standard apps'
    workflows are listed through their sites; a failure there is recorded, Consumption goes on."""
    from flowscope.collectors.azure import arm, standard
    from flowscope.collectors.azure.definition import definition_object, parse_definition
    from flowscope.collectors.azure.transform import FORMATS, canonical_workflow_id

    docs: list[dict[str, Any]] = []
    if not scope.resource_groups:
        docs = cfg.match_names(arm.list_workflows(sc.client, scope.subscription, None), scope.globs,
                               arm.workflow_short_name, sc.result)
    else:
        outcomes = bounded_map(lambda rg: cfg.match_names(arm.list_workflows(sc.client, scope.subscription, rg),
                                                          scope.globs, arm.workflow_short_name, sc.result),
                               list(scope.resource_groups), min(4, scope.concurrency))
        failures = [o for o in outcomes if o.error is not None]
        if len(failures) == len(outcomes):
            raise cast(BaseException, failures[0].error)
        for outcome in outcomes:
            if outcome.error is None:
                docs.extend(cast(list[dict[str, Any]], outcome.result))
            else:
                sc.failed(outcome.error, "workflows.list", f"resourceGroups/{outcome.item}")
    groups: list[str | None] = list(scope.resource_groups) or [None]
    standard_docs, farms = standard.list_standard(sc, scope.subscription, groups, scope.globs)
    docs.extend(standard_docs)
    workflows: dict[str, dict[str, Any]] = {}
    for doc in docs:
        try:
            workflows[canonical_workflow_id(doc["id"])] = doc
        except ValueError:
            sc.result.record_error({"operation": "workflows.list", "code": "BadId",
                                    "message": f"not a workflow id: {cleaned(str(doc.get('id')), 200)}"})
    sc.result.count("workflows", len(workflows))
    sc.result.details["workflows"] = sorted(str(d.get("name")) for d in workflows.values())[:200]
    if not workflows and not scope.globs and sc.result.error_count == 0:
        _say_none_listed(scope, sc)
    if workflows:
        plans = standard.read_plans(sc, farms) if farms else {}
        batch = FORMATS["azure.workflow"]({"value": list(workflows.values())}, sc.ctx("workflows.list"))
        sc.sink.add(standard.with_plans(batch, plans))
    for wf_id, doc in workflows.items():
        definition = definition_object(definition_of(doc))
        sc.definitions[wf_id] = parse_definition(definition) if definition else None
    return workflows


def _say_none_listed(scope: "AzureScope", sc: ScopeContext) -> None:
    """Not one workflow listed: said, not a clean empty success (ARM lists only what the identity may
    read, so a reader of the wrong resource group sees an empty subscription; a glob matching nothing
    is said by `match_names`)."""
    where = f"subscription {scope.subscription}"
    if scope.resource_groups:
        where += f", resource group(s) {', '.join(scope.resource_groups)}"
    sc.result.warn(f"no Logic Apps workflows in {where}: nothing to collect (check the source's subscription_id "
                   "and resource_groups, and that the identity may read Microsoft.Logic/workflows and "
                   "Microsoft.Web/sites there: ARM lists only what it may read)")


def definition_of(doc: Mapping[str, Any]) -> Any:
    """A workflow's definition: `properties.definition` (Consumption), or the one in
    `properties.files["workflow.json"]` (Standard)."""
    properties = props(doc)
    if properties.get("definition") is not None:
        return properties["definition"]
    files = properties.get("files")
    wf_file = files.get("workflow.json") if isinstance(files, dict) else None
    return wf_file.get("definition") if isinstance(wf_file, dict) else None


def _stored_revisions(sc: ScopeContext, workflow_ids: set[str]) -> dict[tuple[str, str], str | None]:
    """(workflow id, revision in lower case) -> stored definition text, for these workflows."""
    ids = sorted(workflow_ids)
    try:
        stored = sc.store.sql(f"SELECT {C.workflow_id}, {C.revision}, {C.definition} FROM workflows "
                              f"WHERE {C.cloud} = ? AND {C.workflow_id} IN ({', '.join('?' * len(ids))})",
                              [CLOUD, *ids])
    except Exception:  # noqa: BLE001 - nothing stored yet: every wanted revision is new
        return {}
    return {(str(w), str(r).lower()): (str(d) if isinstance(d, str) and d else None)
            for w, r, d in zip(stored[C.workflow_id], stored[C.revision], stored[C.definition], strict=True)}


def consumption(workflows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    from flowscope.collectors.azure.arm import standard_parts

    return {k: v for k, v in workflows.items() if standard_parts(str(v.get("id"))) is None}


def collect_versions(sc: ScopeContext, workflows: dict[str, dict[str, Any]], runs: list[dict[str, Any]]) -> None:
    """The older revisions these runs ran on, read once (stored ones from the store): each run is
    then typed, metered and its loops read by the definition it really ran (the current one
    otherwise: `ScopeContext.definition_for`). A failure is a warning."""
    from flowscope.collectors.azure import arm
    from flowscope.collectors.azure.context import run_revision
    from flowscope.collectors.azure.definition import definition_object, parse_definition
    from flowscope.collectors.azure.transform import FORMATS, canonical_workflow_id
    from flowscope.collectors.native import ImportContext

    current = {wf_id: str(props(doc).get("version") or "") for wf_id, doc in workflows.items()}
    wanted: set[tuple[str, str]] = set()
    for run in runs:
        name = run_revision(run)
        wf_id = canonical_workflow_id(run["id"])
        if name and wf_id in workflows and name != current.get(wf_id) \
                and (wf_id, name.lower()) not in sc.revision_definitions:
            wanted.add((wf_id, name))
    if not wanted:
        return
    known = _stored_revisions(sc, {wf_id for wf_id, _ in wanted})
    for wf_id, name in wanted:
        if (wf_id, name.lower()) in known:
            text = known[(wf_id, name.lower())]
            sc.revision_definitions[(wf_id, name.lower())] = parse_definition(text) if text else None
    todo = sorted(item for item in wanted if (item[0], item[1].lower()) not in known)
    docs: list[dict[str, Any]] = []
    failed: list[str] = []
    for outcome in bounded_map(lambda item: arm.get_version(sc.client, workflows[item[0]]["id"], item[1]), todo,
                               min(4, sc.concurrency), thread_name_prefix="flowscope-versions"):
        if outcome.error is None:
            docs.append(cast(dict[str, Any], outcome.result))
            definition = definition_object(definition_of(docs[-1]))
            sc.revision_definitions[(outcome.item[0], outcome.item[1].lower())] = \
                parse_definition(definition) if definition else None
        elif getattr(outcome.error, "unauthenticated", False):
            sc.failed(outcome.error, "versions.get", outcome.item[0])
        else:
            failed.append(f"{outcome.item[0].rsplit('/', 1)[-1]}@{outcome.item[1]}")
    if docs:
        # seen_at from the version's own changedTime, so the current revision stays the latest
        ctx = ImportContext(source_name="versions.get", seen_at=None, source=Source.API)
        sc.sink.add(FORMATS["azure.workflow"]({"value": docs}, ctx))
    sc.result.count("workflow_versions", len(docs))
    if failed:
        sc.result.warn(f"{len(failed)} workflow revision(s) not read (their runs use the current definition), "
                       f"e.g. {failed[0][:200]}")

