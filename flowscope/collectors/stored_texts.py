"""Error texts stored by an earlier flowscope, rewritten once by today's rules.

Two rules changed what a stored error says: GCP exceptions were kept as their JSON text (now an error
name and its message, `gcp/transform/errors.py`), and AWS `.sync` causes as the job's description with
its payloads (now the job's message, `aws/transform/causes.py`). A live sync does not revisit finished
runs, so without this a store kept the old texts (and the payloads) for good, and a window spanning
the change listed one error under two names. `sync` and `import` run the upgrade once per store
(`Store.upgrade_done`; `store_upgrades`, which also marks a store the demo creates as needing none): the
executions holding an old text are read, rewritten and written back whole (a replace by execution, under the
writer lock, so nothing is lost or duplicated), in chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flowscope.collectors.aws.transform.causes import LAMBDA_KEY, readable_cause
from flowscope.collectors.gcp.transform.errors import error_and_cause
from flowscope.collectors.upgrade_once import upgrade_once
from flowscope.model import EXECUTION_TABLES, Batch, C, Cloud

if TYPE_CHECKING:
    from flowscope.store import Store

STEP = "error-texts-1"
"""The upgrade's name in the store's bookkeeping (`_flowscope/upgrades/`)."""

CHUNK = 2_000
"""Executions read and written per commit."""

TEXT_TABLES = ("executions", "steps", "attempts")
"""The execution tables that carry `error` and `cause`."""

_OLD = {
    Cloud.GCP.value: f"({C.error} LIKE '{{%' OR {C.error} LIKE '\"%')",
    Cloud.AWS.value: f"({C.cause} LIKE '{{%' AND {C.cause} NOT LIKE '%\"{LAMBDA_KEY}\"%')",
}
"""Rows that may hold an old text, per cloud (a superset: the rewrite leaves a current text as it is)."""


def upgrade_texts(store: "Store") -> int:
    """Rewrite the old texts of `store` once; the number of executions rewritten."""
    def rewrite_chunk(cloud: str, ids: list[str]) -> int:
        batch = store.read_execution_rows(cloud, ids)
        changed = rewrite(batch, cloud)
        if changed:
            store.write(_only(batch, changed))
        return len(changed)

    return upgrade_once(store, STEP, _stale_executions, rewrite_chunk)


def upgraded_line(executions: int) -> str:
    """What `sync` and `import` say after an upgrade that rewrote something."""
    return (f"rewrote the error texts of {executions:,} execution(s) stored by an earlier flowscope "
            "(GCP exceptions as names and messages, AWS job causes without their payloads)")


def rewrite(batch: Batch, cloud: str) -> set[str]:
    """Today's error and cause for every row of one cloud's executions, in place; the ids of the
    executions whose texts changed (a candidate already in today's form is not one)."""
    changed: set[str] = set()
    for table in TEXT_TABLES:
        for row in getattr(batch, table):
            before = (row.get(C.error), row.get(C.cause))
            after = current_texts(cloud, *before)
            if after != before:
                row[C.error], row[C.cause] = after
                changed.add(row[C.execution_id])
    return changed


def _only(batch: Batch, ids: set[str]) -> Batch:
    """The rows of `ids` only: executions written back whole, the others not written at all."""
    out = Batch()
    for table in EXECUTION_TABLES:
        getattr(out, table).extend(r for r in getattr(batch, table) if r[C.execution_id] in ids)
    return out


def current_texts(cloud: str, error: Any, cause: Any) -> tuple[Any, Any]:
    """(error, cause) as today's transform writes them, from what an earlier one stored (unchanged when
    it is already current: both rules give back what they made)."""
    if cloud == Cloud.GCP.value and isinstance(error, str) and error[:1] in ("{", '"'):
        return error_and_cause(error, cause)
    if cloud == Cloud.AWS.value and isinstance(cause, str) and cause[:1] == "{":
        return error, readable_cause(cause)
    return error, cause


def _stale_executions(store: "Store") -> Iterator[tuple[str, list[str]]]:
    tables = [t for t in TEXT_TABLES if t in EXECUTION_TABLES]
    where = " OR ".join(f"({C.cloud} = '{cloud}' AND {cond})" for cloud, cond in _OLD.items())
    query = " UNION ".join(f"SELECT {C.cloud}, {C.execution_id} FROM {t} WHERE {where}" for t in tables)
    found = store.sql(f"SELECT * FROM ({query}) ORDER BY 1, 2")
    for cloud, group in found.groupby(C.cloud, sort=True):
        ids = group[C.execution_id].tolist()
        for start in range(0, len(ids), CHUNK):
            yield str(cloud), ids[start:start + CHUNK]
