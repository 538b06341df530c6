"""The demo store: three simulated clouds taken through the same path live data takes.

native documents (simulate/<cloud>.py) -> transforms -> assemble -> store, then compaction,
one chunk of time at a time: worker processes build chunks (simulate, transform, assemble,
Arrow), this process writes them in batches of bounded size while the workers go on, so memory
is bounded by a few chunks and a write batch, whatever the number of executions.

Big demos take a fast path for the bulk of ORDINARY executions (outside every anomaly window):
beyond NATIVE_EXECUTIONS per cloud, they are copies of native executions of the same workflow
and chunk (simulate/clone.py) rather than documents of their own. Every anomalous execution,
and a sample of the ordinary ones, still goes through the native formats and the transforms.
The ground truth is saved beside the data so a user can check what the analyses find.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import json
import multiprocessing
import os
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from flowscope.collectors.assemble import assemble_batch
from flowscope.collectors.importer import transform_documents
from flowscope.collectors.native import ImportContext
from flowscope.collectors.registry import transforms_for
from flowscope.collectors.store_upgrades import upgrade_store
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
from flowscope.simulate import aws, azure, gcp
from flowscope.simulate.base import Anomaly, AnomalyKind, SimPlan, SimSpec, SimulatedCloud, chunk_windows
from flowscope.simulate.clone import clone_tables

if TYPE_CHECKING:
    from flowscope.store import Store

SHARES = {Cloud.AWS: 0.5, Cloud.AZURE: 0.25, Cloud.GCP: 0.25}
"""How the demo's executions split across clouds."""

NATIVE_EXECUTIONS = 5_000
"""Per cloud, about how many ordinary executions are written as native documents; beyond that
the rest are clones (a demo of up to ~10,000 executions is native throughout)."""

WRITE_ROWS = 1_000_000
"""Rows (all execution tables) gathered before a store write, which waits for the next UTC day so
that each (cloud, start date) partition is written once and compaction has little to do; at
twice this, it writes mid-day. Bounds this process's memory."""
_DAY_S = 86_400

FAILED_SCOPE = "gcp:analytics-sandbox:europe-west1"
"""A scope whose simulated collection failed: the demo shows that a gap is never '0 failures'. Its id is
the one a live sync writes (`live_scope_id`)."""

Progress = Callable[[str], None]


@dataclass
class DemoResult:
    written: dict[str, int] = field(default_factory=dict)
    truth: list[Anomaly] = field(default_factory=list)
    healthy_workflows: dict[str, list[str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    cloned: dict[str, int] = field(default_factory=dict)      # executions per cloud written as clones
    skips: dict[str, int] = field(default_factory=dict)       # records the transforms skipped, per cloud
    writes: int = 0


def demo_end(now: dt.datetime | None = None) -> dt.datetime:
    """The demo ends at the last whole hour, so 'since 7d' filters show recent data."""
    now = now or dt.datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0)


SIMULATORS: dict[Cloud, ModuleType] = {Cloud.AWS: aws, Cloud.AZURE: azure, Cloud.GCP: gcp}
"""Each cloud's simulator (`simulate(spec)`, `plan(spec)`, `chunk(plan, i)`, in its native formats). Here,
above the collectors, not in their registry: the demo feeds these documents through the clouds' transforms."""


def simulator_for(cloud: str | Cloud) -> ModuleType:
    """The simulator of a cloud (ValueError for a name that is not a cloud)."""
    return SIMULATORS[Cloud(cloud)]


def simulate_cloud(cloud: Cloud, spec: SimSpec) -> SimulatedCloud:
    """One cloud's simulated workload, in its native formats (`SIMULATORS`)."""
    return simulator_for(cloud).simulate(spec)


def transform_simulated(sim: SimulatedCloud, seen_at: dt.datetime) -> Batch:
    ctx = ImportContext(source_name=f"simulate:{sim.cloud.value}", seen_at=seen_at, source=Source.SIMULATE)
    return transform_documents((fmt, doc, ctx) for fmt, doc in sim.documents)


def native_share(executions: int) -> float:
    """Share of a cloud's ordinary executions written natively (see NATIVE_EXECUTIONS)."""
    return 1.0 if executions <= NATIVE_EXECUTIONS else NATIVE_EXECUTIONS / executions


def cloud_specs(start: dt.datetime, end: dt.datetime, executions: int, seed: int) -> dict[Cloud, SimSpec]:
    """Each cloud's share of the demo: the whole workload follows from these specs."""
    specs = {}
    for index, cloud in enumerate(SHARES):
        n = max(1, round(executions * SHARES[cloud]))
        specs[cloud] = SimSpec(start=start, end=end, seed=seed + index, executions=n, native_share=native_share(n))
    return specs


def live_scope_id(cloud: str, account: str | None, region: str | None) -> str:
    """The scope id a live sync of this account and region writes (`aws_ids.scope_id`, `AzureScope.scope_id`,
    `GcpScope.scope_id`): the demo wrote `aws:123456789012/us-east-1`, a form no sync writes, so the
    dashboard, doctor and findings showed ids a user never sees live, and an AWS scope's account and region
    (`aws_ids.scope_account_region`) could not be read back from it."""
    from flowscope import aws_ids
    from flowscope.collectors.azure.source import AzureScope
    from flowscope.collectors.gcp.source import GcpScope

    if cloud == Cloud.AWS:
        return aws_ids.scope_id(account or "default", region or "us-east-1")
    if cloud == Cloud.AZURE:
        return AzureScope(subscription=account or "-").scope_id()
    return GcpScope(project=account or "-", location=region).scope_id()


def collection_rows(counts: dict[tuple[str, str | None, str | None], int], end: dt.datetime) -> list[dict]:
    """A succeeded run per simulated scope ((cloud, account, region) -> executions), and one failed scope."""
    rows = []
    for (cloud, account, region), n in sorted(counts.items(), key=lambda kv: tuple(str(k) for k in kv[0])):
        scope = live_scope_id(cloud, account, region)
        rows.append({C.run_id: f"demo-{uuid.uuid5(uuid.NAMESPACE_URL, scope)}", C.cloud: cloud, C.scope: scope,
                     C.started_at: end - dt.timedelta(minutes=5), C.ended_at: end - dt.timedelta(minutes=4),
                     C.status: RunStatus.SUCCEEDED.value, C.watermark: end,
                     C.counts: json.dumps({"executions": n}),
                     C.error: None, C.details: json.dumps({"path": "simulate"})})
    rows.append({C.run_id: f"demo-{uuid.uuid5(uuid.NAMESPACE_URL, FAILED_SCOPE)}", C.cloud: Cloud.GCP.value,
                 C.scope: FAILED_SCOPE, C.started_at: end - dt.timedelta(minutes=5),
                 C.ended_at: end - dt.timedelta(minutes=5) + dt.timedelta(seconds=2),
                 C.status: RunStatus.FAILED.value, C.watermark: None, C.counts: json.dumps({}),
                 C.error: "PermissionDenied: 403 Permission 'workflows.executions.list' denied on "
                          "'projects/analytics-sandbox/locations/europe-west1/workflows/-'",
                 C.details: json.dumps({"path": "simulate"})})
    return rows


@functools.lru_cache(maxsize=len(SHARES))
def _plan(cloud: Cloud, spec: SimSpec) -> SimPlan:
    """A cloud's plan, made once per process (each worker builds many chunks of it)."""
    plan: SimPlan = simulator_for(cloud).plan(spec)
    return plan


@dataclass
class ChunkPart:
    """One chunk of one cloud, as Arrow tables (cheap to send between processes)."""

    cloud: Cloud
    index: int
    lo: int                          # start of the chunk (epoch seconds)
    tables: dict[str, pa.Table]
    workflows: pa.Table | None       # the first chunk of a cloud carries its workflows
    cloned: int
    skips: int
    seconds: float


def build_chunk(cloud: Cloud, spec: SimSpec, index: int, seen_at: dt.datetime) -> ChunkPart:
    """simulate -> transform -> assemble -> Arrow (+ clones) for one chunk (runs in a worker)."""
    began = time.perf_counter()
    plan = _plan(cloud, spec)
    part = simulator_for(cloud).chunk(plan, index)
    ctx = ImportContext(source_name=f"simulate:{cloud.value}", seen_at=seen_at, source=Source.SIMULATE)
    batch = transform_documents((fmt, doc, ctx) for fmt, doc in [*plan.head, *part.documents])
    del part.documents
    complete = assemble_batch(batch, None, transforms_for=transforms_for)
    del batch
    tables = {name: to_arrow(name, complete.rows(name)) for name in EXECUTION_TABLES}
    workflows = to_arrow("workflows", complete.workflows) if index == 0 else None
    skips = len(complete.skips)
    del complete
    tables = clone_tables(tables, part.clones)
    lo = plan.chunks[index][0]
    return ChunkPart(cloud, index, lo, tables, workflows, len(part.clones), skips, time.perf_counter() - began)


def _tasks(specs: dict[Cloud, SimSpec]) -> list[tuple[Cloud, SimSpec, int]]:
    """Every (cloud, chunk), in time order: writes then fill the store's days in turn."""
    keyed = [(lo, cloud.value, cloud, spec, index)
             for cloud, spec in specs.items() for index, (lo, _hi) in enumerate(chunk_windows(spec))]
    return [(cloud, spec, index) for _lo, _name, cloud, spec, index in sorted(keyed, key=lambda k: k[:2])]


def _parts(tasks: list[tuple[Cloud, SimSpec, int]], seen_at: dt.datetime, workers: int) -> Iterator[ChunkPart]:
    """Chunks built by `workers` processes, in task order, at most 2 per worker ahead of the
    consumer (memory stays bounded however many chunks there are)."""
    if workers <= 1:
        for cloud, spec, index in tasks:
            yield build_chunk(cloud, spec, index, seen_at)
        return
    # Not "fork": the caller may run threads (DuckDB, Arrow pools, a test's servers), and a
    # forked copy of a threaded process can deadlock or crash. The fork server starts clean,
    # imports this module once, and forks the workers from there (no spawn-per-worker import).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: deque[Future[ChunkPart]] = deque()
        try:
            for cloud, spec, index in tasks:
                pending.append(pool.submit(build_chunk, cloud, spec, index, seen_at))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:                # a failed chunk or write: do not build the chunks queued behind it
            for future in pending:
                future.cancel()


class _Writer:
    """Gathers chunks into write batches of about WRITE_ROWS rows; writes one batch in a
    background thread while the next fills (the store has one writer: this one)."""

    def __init__(self, store: "Store", result: DemoResult, say: Progress) -> None:
        self.store, self.result, self.say = store, result, say
        self.buffer: dict[str, list[pa.Table]] = {name: [] for name in ("workflows", *EXECUTION_TABLES)}
        self.rows = 0
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowscope-demo-write")
        self.writing: Future[dict[str, int]] | None = None
        self.seconds = 0.0
        self.last_lo = -1

    def add(self, part: ChunkPart) -> None:
        new_day = part.lo % _DAY_S == 0 and part.lo > self.last_lo
        self.last_lo = max(self.last_lo, part.lo)
        if self.rows >= (WRITE_ROWS if new_day else 2 * WRITE_ROWS):
            self.flush()
        if part.workflows is not None:
            self.buffer["workflows"].append(part.workflows)
        for name, table in part.tables.items():
            self.buffer[name].append(table)
            self.rows += table.num_rows

    def flush(self, collection_runs: list[dict[str, Any]] | None = None) -> None:
        tables = {name: pa.concat_tables(parts) for name, parts in self.buffer.items() if parts}
        self.buffer = {name: [] for name in self.buffer}
        self.rows = 0
        self.wait()
        if tables or collection_runs:
            batch = Batch(**tables, collection_runs=collection_runs or [])
            self.writing = self.thread.submit(self._write, batch)

    def _write(self, batch: Batch) -> dict[str, int]:
        began = time.perf_counter()
        written = self.store.write(batch)
        self.seconds += time.perf_counter() - began
        return written

    def wait(self) -> None:
        if self.writing is not None:
            written, self.writing = self.writing.result(), None
            self.result.writes += 1
            for name, n in written.items():
                self.result.written[name] = self.result.written.get(name, 0) + n
            self.say(f"written {self.result.written.get('executions', 0):,} executions")

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self.thread.shutdown(wait=True)


def build_demo(store: "Store", *, days: int = 30, executions: int = 30_000, seed: int = 7,
               end: dt.datetime | None = None, progress: Progress | None = None,
               workers: int | None = None) -> DemoResult:
    """Fill `store` with a realistic multi-cloud workload and return what was injected.

    Chunks of time are built in parallel worker processes (one per core, at most two); the store
    is written by this process, a batch at a time. The seed and the end (with days and
    executions) fix the workload; the number of workers does not change it. The store, empty
    (`refuse_stored_data`) and written by today's rules, is marked as needing none of the one-off
    upgrades of stored rows (`store_upgrades`), so the first sync into it scans nothing for them.
    """
    with only_demo(store):
        return _build_demo(store, days=days, executions=executions, seed=seed, end=end, progress=progress,
                           workers=workers)


DEMO_LOCK = "demo.lock"
"""`_flowscope/demo.lock`: held (`flock`) by the demo filling the store, from its check that the store is empty
until its ground truth is saved."""


@contextlib.contextmanager
def only_demo(store: "Store") -> Iterator[None]:
    """One demo at a time fills a store: a second, started into the same new folder while the first built, found
    it empty as the first had, and both wrote (two workloads stacked, the ground truth of the last to finish).
    It is refused with a StoreError naming the first's pid. The kernel frees the lock however the build ends.
    `flowscope demo` holds it on the earlier demo while it builds a replacement beside it: a demo still filling
    that store went on writing into the replacement once swapped in (a mix of both, the ground truth of one)."""
    from flowscope.store import StoreError
    from flowscope.store.layout import META_DIR

    fd = os.open(Path(store.path) / META_DIR / DEMO_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            who = f"pid {holder}" if holder.isdigit() else "another process"
            raise StoreError(f"{store.path} is being filled by another `flowscope demo` ({who}): wait for it to "
                             "finish, or pass --store with another folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def _build_demo(store: "Store", *, days: int, executions: int, seed: int, end: dt.datetime | None,
                progress: Progress | None, workers: int | None) -> DemoResult:
    """`build_demo`, the store held by this demo alone (`only_demo`)."""
    say = progress or (lambda _message: None)
    refuse_stored_data(store)
    upgrade_store(store)        # an empty store, written by today's rules: marked as needing no upgrade, no scan
    began = time.perf_counter()
    end = end or demo_end()
    specs = cloud_specs(end - dt.timedelta(days=days), end, executions, seed)
    tasks = _tasks(specs)
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    say(f"simulating {executions:,} executions in {len(tasks)} chunks on {workers} worker(s)")
    result = DemoResult()
    scopes: Counter[tuple[str, str | None, str | None]] = Counter()
    seconds: dict[str, float] = {}
    writer = _Writer(store, result, say)
    try:
        for part in _parts(tasks, end, workers):
            key = part.cloud.value
            seconds[key] = seconds.get(key, 0.0) + part.seconds
            result.cloned[key] = result.cloned.get(key, 0) + part.cloned
            result.skips[key] = result.skips.get(key, 0) + part.skips
            ex = part.tables["executions"]
            for row in ex.group_by([C.cloud, C.account, C.region]).aggregate([([], "count_all")]).to_pylist():
                scopes[(row[C.cloud], row[C.account], row[C.region])] += row["count_all"]
            writer.add(part)
        writer.flush(collection_runs=collection_rows(dict(scopes), end))
    finally:
        writer.close()
    result.seconds.update(seconds)
    result.seconds["write"] = writer.seconds
    for cloud, spec in specs.items():
        plan = _plan(cloud, spec)
        result.truth.extend(plan.truth)
        result.healthy_workflows[cloud.value] = list(plan.healthy_workflows)
    _plan.cache_clear()        # every start time of the range: not kept once the demo is built
    result.truth.append(Anomaly(kind=AnomalyKind.COLLECTION_GAP, cloud=Cloud.GCP, workflow="", step=None,
                                window_start=end - dt.timedelta(minutes=5), window_end=end,
                                detail={"scope": FAILED_SCOPE}))
    compact_began = time.perf_counter()
    say("compacting")
    store.compact()
    result.seconds["compact"] = time.perf_counter() - compact_began
    result.seconds["total"] = time.perf_counter() - began
    save_truth(store, result)
    return result


def refuse_stored_data(store: "Store") -> None:
    """A demo is built into an empty store only: written over stored executions it mixed its simulated
    rows into them (a second demo stacked two workloads, with the ground truth of the last alone; a demo
    pointed at a synced store mixed into real data). A StoreError says how many are there and what to do."""
    if not store.has_data():
        return
    from flowscope.store import StoreError

    stored = store.row_counts(["executions"])["executions"]
    raise StoreError(f"{store.path} already holds {stored:,} executions: the demo fills an empty store, and "
                     "written here its simulated executions would mix with them. Pass --store with a new "
                     f"folder, or delete this one to build the demo again (rm -r {store.path}); to look at "
                     f"what it holds: flowscope dashboard --store {store.path}")


def holds_a_demo_only(store: "Store") -> bool:
    """True when the store holds data and every execution in it was simulated (`Source.SIMULATE`): an
    earlier demo, which `flowscope demo` replaces rather than refuses. A synced or imported execution
    makes it a store of real data."""
    if not store.has_data():
        return False
    real = store.sql(f"SELECT count(*) AS n FROM executions WHERE source IS DISTINCT FROM '{Source.SIMULATE}'")
    return int(real["n"].iloc[0]) == 0


def truth_path(store: "Store") -> Path:
    return Path(store.path) / "_flowscope" / "demo_truth.json"


def save_truth(store: "Store", result: DemoResult) -> None:
    path = truth_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"anomalies": [{**asdict(a), "cloud": a.cloud.value,
                              "window_start": a.window_start.isoformat(),
                              "window_end": a.window_end.isoformat()} for a in result.truth],
               "healthy_workflows": result.healthy_workflows}
    # private like the rest of the store (0600; 0640 under FLOWSCOPE_STORE_MODE=0750), whatever the umask
    mode = store.mode & 0o666
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(handle, mode)
    with os.fdopen(handle, "w") as out:
        out.write(json.dumps(payload, indent=1))


__all__ = ["DemoResult", "build_demo", "demo_end", "only_demo"]
