"""The demo store: three simulated clouds taken through the same path live data takes.

native documents (simulate/<cloud>.py) -> transforms -> assemble -> store, then compaction.
The ground truth is saved beside the data so a user can check what the analyses find.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from flowscope.collectors.assemble import assemble_batch
from flowscope.collectors.importer import transform_documents
from flowscope.collectors.native import ImportContext
from flowscope.collectors.registry import simulator_for, transforms_for
from flowscope.model import (
    EXECUTION_TABLES,
    UTC,
    Batch,
    C,
    Cloud,
    RunStatus,
    Source,
    to_arrow,
)
from flowscope.simulate.base import Anomaly, AnomalyKind, SimSpec, SimulatedCloud

if TYPE_CHECKING:
    from flowscope.store import Store

SHARES = {Cloud.AWS: 0.5, Cloud.AZURE: 0.25, Cloud.GCP: 0.25}
"""How the demo's executions split across clouds."""

FAILED_SCOPE = "gcp:projects/analytics-sandbox/locations/europe-west1"
"""A scope whose simulated collection failed: the demo shows that a gap is never '0 failures'."""

Progress = Callable[[str], None]


@dataclass
class DemoResult:
    written: dict[str, int] = field(default_factory=dict)
    truth: list[Anomaly] = field(default_factory=list)
    healthy_workflows: dict[str, list[str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def demo_end(now: dt.datetime | None = None) -> dt.datetime:
    """The demo ends at the last whole hour, so 'since 7d' filters show recent data."""
    now = now or dt.datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0)


def simulate_cloud(cloud: Cloud, spec: SimSpec) -> SimulatedCloud:
    """One cloud's simulated workload, in its native formats (the simulator named by the registry)."""
    return simulator_for(cloud).simulate(spec)


def transform_simulated(sim: SimulatedCloud, seen_at: dt.datetime) -> Batch:
    ctx = ImportContext(source_name=f"simulate:{sim.cloud.value}", seen_at=seen_at, source=Source.SIMULATE)
    return transform_documents((fmt, doc, ctx) for fmt, doc in sim.documents)


def collection_rows(executions: pa.Table, end: dt.datetime) -> list[dict]:
    """A succeeded run per simulated scope (cloud, account, region), and one failed scope."""
    counts = executions.group_by([C.cloud, C.account, C.region]).aggregate([([], "count_all")])
    rows = []
    for row in sorted(counts.to_pylist(), key=lambda r: (r[C.cloud], str(r[C.account]), str(r[C.region]))):
        cloud = row[C.cloud]
        scope = f"{cloud}:{row[C.account] or '-'}/{row[C.region] or '-'}"
        rows.append({C.run_id: f"demo-{uuid.uuid5(uuid.NAMESPACE_URL, scope)}", C.cloud: cloud, C.scope: scope,
                     C.started_at: end - dt.timedelta(minutes=5), C.ended_at: end - dt.timedelta(minutes=4),
                     C.status: RunStatus.SUCCEEDED.value, C.watermark: end,
                     C.counts: json.dumps({"executions": row["count_all"]}),
                     C.error: None, C.details: json.dumps({"path": "simulate"})})
    rows.append({C.run_id: f"demo-{uuid.uuid5(uuid.NAMESPACE_URL, FAILED_SCOPE)}", C.cloud: Cloud.GCP.value,
                 C.scope: FAILED_SCOPE, C.started_at: end - dt.timedelta(minutes=5),
                 C.ended_at: end - dt.timedelta(minutes=5) + dt.timedelta(seconds=2),
                 C.status: RunStatus.FAILED.value, C.watermark: None, C.counts: json.dumps({}),
                 C.error: "PermissionDenied: 403 Permission 'workflows.executions.list' denied on "
                          "'projects/analytics-sandbox/locations/europe-west1/workflows/-'",
                 C.details: json.dumps({"path": "simulate"})})
    return rows


@dataclass
class CloudPart:
    """One cloud's share of the demo, as Arrow tables (cheap to send between processes)."""

    cloud: Cloud
    tables: dict[str, pa.Table]
    truth: list[Anomaly]
    healthy: list[str]
    seconds: float


def build_cloud(cloud: Cloud, spec: SimSpec, seen_at: dt.datetime) -> CloudPart:
    """simulate -> transform -> assemble -> Arrow, for one cloud (runs in a worker process)."""
    began = time.perf_counter()
    sim = simulate_cloud(cloud, spec)
    complete = assemble_batch(transform_simulated(sim, seen_at=seen_at), None, transforms_for=transforms_for)
    tables = {name: to_arrow(name, complete.rows(name)) for name in ("workflows", *EXECUTION_TABLES)}
    return CloudPart(cloud, tables, list(sim.truth), list(sim.healthy_workflows), time.perf_counter() - began)


def build_demo(store: "Store", *, days: int = 30, executions: int = 30_000, seed: int = 7,
               end: dt.datetime | None = None, progress: Progress | None = None,
               workers: int | None = None) -> DemoResult:
    """Fill `store` with a realistic multi-cloud workload and return what was injected.

    The clouds are built in parallel worker processes (one per core, at most one per cloud);
    the store is written once, by this process.
    """
    say = progress or (lambda _message: None)
    end = end or demo_end()
    start = end - dt.timedelta(days=days)
    specs = {cloud: SimSpec(start=start, end=end, seed=seed + index,
                            executions=max(1, round(executions * SHARES[cloud])))
             for index, cloud in enumerate(SHARES)}
    workers = workers if workers is not None else min(len(specs), os.cpu_count() or 1)
    say(f"simulating {executions:,} executions on {workers} worker(s)")
    if workers > 1:
        # Not "fork": the caller may run threads (DuckDB, Arrow pools, a test's servers), and a
        # forked copy of a threaded process can deadlock or crash. The fork server starts clean,
        # imports this module once, and forks the workers from there (no spawn-per-worker import).
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            parts = list(pool.map(build_cloud, specs, specs.values(), [end] * len(specs)))
    else:
        parts = [build_cloud(cloud, spec, end) for cloud, spec in specs.items()]
    result = DemoResult()
    tables: dict[str, pa.Table] = {}
    for name in ("workflows", *EXECUTION_TABLES):
        tables[name] = pa.concat_tables([part.tables[name] for part in parts])
    for part in parts:
        result.truth.extend(part.truth)
        result.healthy_workflows[part.cloud.value] = part.healthy
        result.seconds[part.cloud.value] = part.seconds
    result.truth.append(Anomaly(kind=AnomalyKind.COLLECTION_GAP, cloud=Cloud.GCP, workflow="", step=None,
                                window_start=end - dt.timedelta(minutes=5), window_end=end,
                                detail={"scope": FAILED_SCOPE}))
    batch = Batch(**tables, collection_runs=collection_rows(tables["executions"], end))
    began = time.perf_counter()
    say(f"writing {tables['executions'].num_rows:,} executions, {tables['steps'].num_rows:,} steps")
    result.written = store.write(batch)
    result.seconds["write"] = time.perf_counter() - began
    began = time.perf_counter()
    say("compacting")
    store.compact()
    result.seconds["compact"] = time.perf_counter() - began
    save_truth(store, result)
    return result


def truth_path(store: "Store") -> Path:
    return Path(store.path) / "_flowscope" / "demo_truth.json"


def save_truth(store: "Store", result: DemoResult) -> None:
    path = truth_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"anomalies": [{**asdict(a), "cloud": a.cloud.value,
                              "window_start": a.window_start.isoformat(),
                              "window_end": a.window_end.isoformat()} for a in result.truth],
               "healthy_workflows": result.healthy_workflows}
    path.write_text(json.dumps(payload, indent=1))


__all__ = ["DemoResult", "build_demo", "demo_end"]
