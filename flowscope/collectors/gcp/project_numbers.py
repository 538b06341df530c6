"""GCP rows stored under the project *number*, moved once under the project id.

Before executions were named by project id (`transform/names.under_project_of`), a sync stored them
as the Workflow Executions API names them: `projects/123456789012/...`. The next sync names the same
executions `projects/acme-prod/...`, so every execution of the overlap (the lag, running ones) was
stored twice, and the old ones joined no workflow. While such rows are stored for a scope's
workflows, its sync reads the project's number from the Executions API's own answer (one
`executions.list` of one execution: `executions_api.project_number`) and then, once per (store, number),
re-keys every row stored under it (`Store.upgrade_done`): executions with their steps, attempts and
usage, workflow revisions and metrics. Each chunk is one `Store.write_and_delete` (written under the
id, deleted under the number, in one write), so a killed upgrade loses and duplicates nothing, and
running it again finishes the rest. An execution already stored under the id (collected again by
today's collector) keeps that copy: the numbered one is only deleted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from flowscope.collectors.assemble import assemble_batch
from flowscope.model import EXECUTION_TABLES, TABLES, Batch, C, Cloud

if TYPE_CHECKING:
    from flowscope.collectors.gcp.context import ScopeContext
    from flowscope.collectors.native import CloudTransforms
    from flowscope.store import Store

CLOUD = Cloud.GCP.value
CHUNK = 500
"""Executions re-keyed per write (the writer lock is held for one chunk: small, so the scopes
collecting meanwhile never wait long)."""

NAME_COLUMNS = (C.workflow_id, C.execution_id, C.parent_execution_id, C.resource_id)
"""Columns that hold Workflows resource names (`projects/<project>/...`)."""


def step_name(number: str) -> str:
    """The upgrade's name in the store's bookkeeping, one per project number."""
    return f"gcp-project-number-{number}"


def not_ours_name(project: str, number: str) -> str:
    """The store's note that `project` is not project `number` (its rows are another project's):
    its scopes stop asking their number for them."""
    return f"gcp-project-{project}-is-not-number-{number}"


def upgrade_project_number(store: "Store", number: str, project: str) -> int:
    """Move the rows stored under project `number` to `project` (its id), once; the number of
    executions moved (0 when done before, or nothing was stored under the number)."""
    if not number.isdigit() or not project or project.isdigit() or store.upgrade_done(step_name(number)):
        return 0
    moved = 0
    if store.has_data():
        for table in ("workflows", "metrics"):      # workflows first: the executions join them
            with store.writer():
                _move_keyed(store, table, number, project)
        for ids in _numbered_executions(store, number):
            with store.writer():        # per chunk: other scopes' writes wait for one chunk at most
                moved += _move_executions(store, ids, number, project)
    store.mark_upgrade_done(step_name(number))
    return moved


def moved_line(executions: int, number: str, project: str) -> str:
    """What the scope's collection_runs row says (`details.project_number_upgrade`) after an
    upgrade that moved something."""
    return (f"moved {executions:,} execution(s) stored by an earlier flowscope under project number {number} "
            f"to the project id {project}")


def renamed(row: Mapping[str, Any], number: str, project: str) -> dict[str, Any]:
    """`row` with its resource names (and account) under `project` instead of `number`."""
    prefix, out = f"projects/{number}/", dict(row)
    for column in NAME_COLUMNS:
        value = out.get(column)
        if isinstance(value, str) and value.startswith(prefix):
            out[column] = f"projects/{project}/{value[len(prefix):]}"
    if out.get(C.account) == number:
        out[C.account] = project
    return out


def _move_executions(store: "Store", ids: list[str], number: str, project: str) -> int:
    old = store.read_execution_rows(CLOUD, ids)
    new_id = {i: renamed({C.execution_id: i}, number, project)[C.execution_id] for i in ids}
    present = store.read_execution_rows(CLOUD, new_id.values())
    kept = {r[C.execution_id] for table in EXECUTION_TABLES for r in getattr(present, table)}
    moving = Batch()
    for table in ("executions", "steps", "attempts"):
        getattr(moving, table).extend(renamed(r, number, project) for r in getattr(old, table)
                                      if new_id[r[C.execution_id]] not in kept)
    # assembled again, now that they join their workflow: its definition gives the step types and
    # meters (stored under the number, the calls were billed without it)
    out = assemble_batch(moving, store, transforms_for=_gcp_transforms,
                         absent={(CLOUD, i) for i in new_id.values() if i not in kept})
    store.write_and_delete(out, {"executions": [{C.cloud: CLOUD, C.execution_id: i} for i in ids]})
    return len(ids)


def _move_keyed(store: "Store", table: str, number: str, project: str) -> None:
    """Rows of a table keyed per row (workflow revisions, metrics): each under its new key, unless a
    row already has that key (today's collector wrote it), and deleted under its old one."""
    if table not in store.version():
        return
    columns = [c for c in NAME_COLUMNS if c in TABLES[table].schema.names]
    numbered = " OR ".join(f"{c} LIKE 'projects/{number}/%'" for c in columns)   # digits only: safe inline
    old = store.read_rows(table, f"{C.cloud} = '{CLOUD}' AND ({numbered})")
    if not old:
        return
    key = TABLES[table].replace_key
    existing = {tuple(r[k] for k in key) for r in store.read_rows(table, f"{C.cloud} = '{CLOUD}'")}
    moved = [renamed(r, number, project) for r in old]
    fresh = [r for r in moved if tuple(r[k] for k in key) not in existing]
    store.write_and_delete({table: fresh}, {table: [{k: r[k] for k in key} for r in old]})


def _numbered_executions(store: "Store", number: str) -> Iterator[list[str]]:
    have = store.version()
    query = " UNION ".join(
        f"SELECT {C.execution_id} FROM {t} WHERE {C.cloud} = '{CLOUD}' AND {C.execution_id} LIKE 'projects/{number}/%'"
        for t in EXECUTION_TABLES if t in have)
    if not query:
        return
    ids = sorted(store.sql(f"SELECT DISTINCT * FROM ({query})")[C.execution_id].tolist())
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def upgrade_scope(sc: "ScopeContext") -> int:
    """Before a scope lists executions: rows stored under a project number for this scope's
    workflows are moved to its project id, the number read from the API (one call) only when
    such rows exist; the number of executions moved."""
    from flowscope.collectors.gcp import executions_api
    from flowscope.collectors.gcp.context import as_error, location_of
    from flowscope.collectors.gcp.transform.names import parse_name

    stored = _numbered_workflows(sc.store)
    pending = {n for n in stored.values() if not sc.store.upgrade_done(step_name(n))
               and not sc.store.upgrade_done(not_ours_name(sc.scope.project, n))}
    ours = [name for name in sorted(sc.workflows)
            if (parts := parse_name(name)) and stored.get((parts["l"], parts["w"])) in pending]
    if not ours and pending:
        # Numbered rows of workflows no longer listed (deleted since): the number is the project's,
        # so any listed workflow tells it (asked until known, then never for a number not its own).
        ours = sorted(sc.workflows)
    for name in ours[:3]:
        try:
            number = executions_api.project_number(sc.clients, name, location=location_of(name))
        except Exception as exc:  # noqa: BLE001 - recorded: the upgrade is tried again next sync
            sc.result.record_error(as_error(exc, "executions.list", name))
            return 0
        if number is not None:
            for other in sorted(pending - {number}):
                sc.store.mark_upgrade_done(not_ours_name(sc.scope.project, other))
            moved = upgrade_project_number(sc.store, number, sc.scope.project)
            if moved:
                sc.result.count("executions_moved_from_project_number", moved)
                sc.result.details["project_number_upgrade"] = moved_line(moved, number, sc.scope.project)
            return moved
    return 0


def _numbered_workflows(store: "Store") -> dict[tuple[str, str], str]:
    """(location, workflow) -> the project number GCP executions of that workflow are stored under."""
    if "executions" not in store.version():
        return {}
    found = store.sql(f"SELECT DISTINCT {C.workflow_id} FROM executions WHERE {C.cloud} = '{CLOUD}' "
                      f"AND regexp_matches({C.workflow_id}, '^projects/[0-9]+/')")
    from flowscope.collectors.gcp.transform.names import parse_name

    out: dict[tuple[str, str], str] = {}
    for workflow in found[C.workflow_id].tolist():
        parts = parse_name(workflow)
        if parts:
            out[(parts["l"], parts["w"])] = parts["p"]
    return out


def _gcp_transforms(_cloud: str) -> "CloudTransforms":
    """GCP's own transform package: the moved rows are all GCP's (as a collector's sink assembles them)."""
    from flowscope.collectors.gcp import transform

    return cast("CloudTransforms", transform)
