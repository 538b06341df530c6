"""Build tiny model tables for the analysis tests: rows as dicts in, Ibis tables on DuckDB out."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import ibis
import pandas as pd

from flowscope.model import TABLES, UTC, C, Kind, Meter, Status, StepType, to_arrow

T0 = dt.datetime(2026, 3, 1, tzinfo=UTC)
DEMO_END = dt.datetime(2026, 3, 31, tzinfo=UTC)
"""Where `conftest.demo_store`'s 14 days end."""
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:"


def at(minutes: float = 0, days: float = 0, hours: float = 0, seconds: float = 0) -> dt.datetime:
    return T0 + dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


class World:
    """Rows for every model table, with the required columns filled in."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
        self._n = 0

    def workflow(self, name: str, *, cloud: str = "aws", kind: str = Kind.SFN_STANDARD, wf_id: str | None = None,
                 definition: str | None = None, attributes: str | None = None, region: str = "us-east-1") -> str:
        wf_id = wf_id or (ARN + name if cloud == "aws" else f"{cloud}/{name}")
        self.rows["workflows"].append({C.cloud: cloud, C.workflow_id: wf_id, C.name: name, C.kind: str(kind),
                                       C.revision: "1", C.definition: definition, C.attributes: attributes,
                                       C.region: region, C.seen_at: T0})
        return wf_id

    def execution(self, wf_id: str, start: dt.datetime, *, duration_ms: int | None = 1000, cloud: str = "aws",
                  status: str = Status.SUCCEEDED, kind: str | None = None, name: str | None = None,
                  event_count: int | None = None, ended_at: dt.datetime | None = None,
                  region: str = "us-east-1", revision: str = "1", collected_at: dt.datetime | None = None,
                  source: str | None = None) -> dict[str, Any]:
        self._n += 1
        wf = next((w for w in self.rows["workflows"] if w[C.workflow_id] == wf_id), None)
        end = ended_at if ended_at is not None else (
            None if duration_ms is None or status == Status.RUNNING else start + dt.timedelta(milliseconds=duration_ms))
        row = {C.cloud: cloud, C.workflow_id: wf_id, C.workflow_name: name or (wf[C.name] if wf else wf_id),
               C.kind: kind or (wf[C.kind] if wf else None), C.execution_id: f"{wf_id}:e{self._n}",
               C.status: str(status), C.started_at: start, C.ended_at: end,
               C.duration_ms: None if status == Status.RUNNING else duration_ms, C.event_count: event_count,
               C.region: region, C.revision: revision, C.start_date: start.date(),
               C.collected_at: collected_at, C.source: source}
        self.rows["executions"].append(row)
        return row

    def step(self, ex: dict[str, Any], name: str, start: dt.datetime, *, duration_ms: int | None = 100,
             type: str = StepType.TASK, status: str = Status.SUCCEEDED, attempts: int = 1,
             error: str | None = None, cause: str | None = None, key: str | None = None,
             iteration: int | None = None, parent: str | None = None, resource: str | None = None,
             meter: str | None = None, quantity: float = 1.0, prev: str | None = None,
             native_type: str | None = None) -> dict[str, Any]:
        key = key or f"{name}#{sum(1 for s in self.rows['steps'] if s[C.execution_id] == ex[C.execution_id])}"
        row = {C.cloud: ex[C.cloud], C.workflow_id: ex[C.workflow_id], C.execution_id: ex[C.execution_id],
               C.step_key: key, C.name: name, C.type: str(type), C.status: str(status), C.started_at: start,
               C.ended_at: None if duration_ms is None else start + dt.timedelta(milliseconds=duration_ms),
               C.duration_ms: duration_ms, C.attempts: attempts, C.error: error, C.cause: cause,
               C.iteration: iteration, C.parent_step_key: parent, C.resource: resource,
               C.previous_step_key: prev, C.native_type: native_type,
               C.start_date: ex[C.start_date]}   # the execution's, on each of its rows (docs/model.md)
        self.rows["steps"].append(row)
        if meter:
            self.usage(ex, key, meter, quantity, name=name)
        return row

    def attempt(self, step: dict[str, Any], n: int, start: dt.datetime, *, duration_ms: int = 50,
                status: str = Status.FAILED, error: str | None = None) -> None:
        self.rows["attempts"].append({
            C.cloud: step[C.cloud], C.workflow_id: step[C.workflow_id], C.execution_id: step[C.execution_id],
            C.step_key: step[C.step_key], C.attempt: n, C.started_at: start,
            C.ended_at: start + dt.timedelta(milliseconds=duration_ms), C.duration_ms: duration_ms,
            C.status: str(status), C.error: error, C.start_date: step[C.start_date]})

    def usage(self, ex: dict[str, Any], step_key: str | None, meter: str, quantity: float,
              name: str | None = None) -> None:
        self.rows["usage"].append({C.cloud: ex[C.cloud], C.region: ex.get(C.region), C.workflow_id: ex[C.workflow_id],
                                   C.execution_id: ex[C.execution_id], C.step_key: step_key, C.name: name,
                                   C.meter: str(meter),
                                   C.quantity: float(quantity), C.started_at: ex[C.started_at],
                                   C.start_date: ex[C.started_at].date()})

    def as_express(self) -> "World":
        """This world's Step Functions machines as Express: billed one request per run (its usage
        replaced), so a step or a retry adds no billable unit."""
        for row in (*self.rows["workflows"], *self.rows["executions"]):
            row[C.kind] = str(Kind.SFN_EXPRESS)
        self.rows["usage"] = []
        for ex in self.rows["executions"]:
            self.usage(ex, None, Meter.AWS_SFN_EXPRESS_REQUEST, 1)
        return self

    def collection_run(self, scope: str, start: dt.datetime, status: str, *, cloud: str = "aws",
                       error: str | None = None, details: str | None = None) -> None:
        self.rows["collection_runs"].append({C.run_id: f"run-{len(self.rows['collection_runs'])}", C.cloud: cloud,
                                             C.scope: scope, C.started_at: start,
                                             C.ended_at: start + dt.timedelta(minutes=1), C.status: status,
                                             C.error: error, C.details: details})

    def tables(self) -> dict[str, ibis.Table]:
        return tables_from_rows(self.rows)


def tables_from_rows(rows: dict[str, list[dict[str, Any]]]) -> dict[str, ibis.Table]:
    """One DuckDB connection holding each model table built from its rows with `model.to_arrow`.

    (ibis 12's `create_table(name, pyarrow_table)` emits a DROP VIEW statement that DuckDB 2.0
    rejects, so the Arrow tables are registered on the raw connection instead.)
    """
    con = ibis.duckdb.connect()
    out = {}
    for name in TABLES:
        con.con.register(name, to_arrow(name, rows.get(name, [])))
        out[name] = con.table(name)
    return out


def transitions(world: World, ex: dict[str, Any], n: int) -> None:
    world.usage(ex, None, Meter.AWS_SFN_STATE_TRANSITION, n)


STANDARD_SITES = "/subscriptions/s/resourcegroups/rg/providers/microsoft.web/sites/"
"""The Logic Apps Standard sites (apps) `standard_workflows` puts workflows in."""


def standard_workflows(world: World, apps_and_plans: list[tuple[str, dict[str, Any] | None]], *,
                       quantity: Callable[[int], float] = lambda i: 10) -> None:
    """Logic Apps Standard workflow `wf{i}` in app i (`app1`, or a slot: `app1/slots/staging`) on plan i
    (`attributes.app_service_plan`; None: no plan, as an export carries), each with one run of `quantity(i)`
    built-in operations: what the plan what-if tests judge."""
    for i, (app, plan) in enumerate(apps_and_plans):
        attributes = None if plan is None else json.dumps({"app_service_plan": plan})
        wf = world.workflow(f"wf{i}", cloud="azure", kind=Kind.LOGICAPP_STANDARD,
                            wf_id=f"{STANDARD_SITES}{app}/workflows/wf{i}", attributes=attributes)
        ex = world.execution(wf, at(minutes=1), cloud="azure")
        world.step(ex, "Compose", at(minutes=1), type=StepType.PASS, meter=Meter.AZURE_LOGIC_BUILTIN_ACTION,
                   quantity=quantity(i))


def plan_findings(world: World, until: dt.datetime, workflows: list[str] | None = None) -> pd.DataFrame:
    """The plan_what_if findings of `world` from T0 to `until`, under a workflow filter or none, with their
    evidence as sorted JSON so that two analyses' findings compare as frames."""
    from flowscope.analysis import analyze

    df = analyze(world.tables(), since=T0, until=until, now=until, workflows=workflows)
    found = df[df["kind"] == "plan_what_if"].reset_index(drop=True)
    return found.assign(evidence=[json.dumps(e, sort_keys=True) for e in found["evidence"]])
