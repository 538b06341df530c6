"""The demo in chunks (issue 15): bounded chunks, a workload fixed by the spec alone, faithful clones."""

from __future__ import annotations

import bisect
import datetime as dt
import os
from collections import Counter

import pyarrow as pa
import pytest

from flowscope.model import EXECUTION_TABLES, UTC, C, Cloud
from flowscope.simulate import aws, azure, demo, gcp
from flowscope.simulate.base import CHUNK_EXECUTIONS, Clone, SimSpec, chunk_windows
from flowscope.simulate.clone import clone_tables, renamed
from flowscope.store import Store, StoreError

END = dt.datetime(2026, 3, 31, tzinfo=UTC)
SIMULATORS = {Cloud.AWS: aws, Cloud.AZURE: azure, Cloud.GCP: gcp}


def _spec(executions: int, days: int = 2, share: float = 1.0, seed: int = 5) -> SimSpec:
    return SimSpec(END - dt.timedelta(days=days), END, executions, seed=seed, native_share=share)


@pytest.mark.parametrize("cloud", list(SIMULATORS))
def test_a_chunk_depends_on_the_spec_only_not_on_the_chunks_built_before(cloud):
    sim = SIMULATORS[cloud]
    spec = _spec(400)
    in_order = [sim.chunk(sim.plan(spec), i) for i in range(len(sim.plan(spec).chunks))]
    fresh = sim.plan(spec)
    last = len(fresh.chunks) - 1
    assert sim.chunk(fresh, last) == in_order[last]          # built alone, first: the same documents
    assert sim.simulate(spec).documents == sim.simulate(spec).documents
    assert sim.simulate(_spec(400, seed=6)).documents != sim.simulate(spec).documents


def test_chunks_cover_the_range_and_hold_a_bounded_number_of_executions():
    spec = _spec(500_000, days=30)                           # AWS's half of a million-execution demo
    windows = chunk_windows(spec)
    assert windows[0][0] == int(spec.start.timestamp()) and windows[-1][1] == int(spec.end.timestamp())
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False))
    plan = aws.plan(spec)
    starts = [lo * 1000 for lo, _hi in windows]
    per_chunk = Counter(bisect.bisect_right(starts, t) - 1 for times in plan.times.values() for t in times)
    assert sum(per_chunk.values()) >= spec.executions
    # hour-of-day and weekday weights make peak chunks busier than the average, never unbounded;
    # the payments storm comes with a burst of a tenth of its executions within three hours
    burst = round(spec.executions * aws.SHARE[aws.PAYMENTS]) // 10
    storm = {i for i, (lo, hi) in enumerate(windows) if lo * 1000 < plan.storm_ms[1] and plan.storm_ms[0] < hi * 1000}
    assert max(n for i, n in per_chunk.items() if i not in storm) <= 3 * CHUNK_EXECUTIONS
    assert max(per_chunk[i] for i in storm) <= 3 * CHUNK_EXECUTIONS + burst


def test_ordinary_executions_beyond_the_native_share_become_clones_and_anomalies_never_do():
    spec = _spec(3_000, days=4, share=0.25)
    plan = aws.plan(spec)
    chunks = [aws.chunk(plan, i) for i in range(len(plan.chunks))]
    clones = [c for part in chunks for c in part.clones]
    native = {r["execution_arn"] for part in chunks for _fmt, doc in part.documents for r in doc}
    assert 0.55 < len(clones) / (len(clones) + len(native)) < 0.8
    workflow_of = {arn.split(":")[7]: arn.split(":")[6] for arn in native}
    assert {c.template for c in clones} <= workflow_of.keys()
    lo, hi = plan.storm_ms
    in_storm = [workflow_of[c.template] for c in clones if lo <= c.start_us / 1000 < hi]
    assert in_storm and aws.PAYMENTS not in in_storm          # other workflows are ordinary there
    lo, hi = plan.failing_ms
    assert aws.PAYMENTS not in {workflow_of[c.template] for c in clones if lo <= c.start_us / 1000 < hi}


def _chunk_tables(cloud: Cloud, share: float) -> tuple[dict[str, pa.Table], list[Clone]]:
    specs = demo.cloud_specs(END - dt.timedelta(days=1), END, 1_200, seed=3)
    spec = SimSpec(specs[cloud].start, specs[cloud].end, specs[cloud].executions, specs[cloud].seed, share)
    part = demo.build_chunk(cloud, spec, 0, END)
    plan = SIMULATORS[cloud].plan(spec)
    return part.tables, SIMULATORS[cloud].chunk(plan, 0).clones


@pytest.mark.parametrize("cloud", list(SIMULATORS))
def test_a_clone_is_its_template_under_a_new_id_shifted_in_time(cloud):
    tables, clones = _chunk_tables(cloud, 0.3)
    assert clones
    ex = tables["executions"].to_pylist()
    by_name = {e[C.name]: e for e in ex}
    assert len({e[C.execution_id] for e in ex}) == len(ex)            # every id unique
    rows = {name: Counter(r[C.execution_id] for r in tables[name].to_pylist()) for name in EXECUTION_TABLES}
    steps = {}
    for s in tables["steps"].to_pylist():
        steps.setdefault(s[C.execution_id], []).append(s)
    # failures and retries are drawn before, from their own stream: they are never copied, so
    # copies cannot crowd them into a storm the workload never had
    eventful = {a[C.execution_id] for a in tables["attempts"].to_pylist() if a[C.error] is not None}
    eventful |= {e[C.execution_id] for e in ex if e[C.status] != "SUCCEEDED"}
    assert eventful and not eventful & {by_name[c.template][C.execution_id] for c in clones}
    for clone in clones[:50]:
        copy, template = by_name[clone.name], by_name[clone.template]
        shift = copy[C.started_at] - template[C.started_at]
        assert copy[C.started_at] == dt.datetime.fromtimestamp(clone.start_us / 1e6, UTC)
        assert copy[C.start_date] == copy[C.started_at].date()
        assert copy[C.status] == template[C.status] and copy[C.duration_ms] == template[C.duration_ms]
        assert copy[C.attributes] is None
        for name in EXECUTION_TABLES[1:]:
            assert rows[name][copy[C.execution_id]] == rows[name][template[C.execution_id]]
        mine = sorted(steps[copy[C.execution_id]], key=lambda s: s[C.step_key])
        theirs = sorted(steps[template[C.execution_id]], key=lambda s: s[C.step_key])
        for a, b in zip(mine, theirs, strict=True):
            assert (a[C.step_key], a[C.name], a[C.status], a[C.duration_ms]) == \
                   (b[C.step_key], b[C.name], b[C.status], b[C.duration_ms])
            assert a[C.started_at] is None or a[C.started_at] - b[C.started_at] == shift
            assert a[C.start_date] == copy[C.start_date]


def test_clones_of_a_template_missing_from_the_chunk_are_an_error():
    tables, _clones = _chunk_tables(Cloud.GCP, 1.0)
    with pytest.raises(ValueError, match="not native executions of the chunk"):
        clone_tables(tables, [Clone("no-such-execution", "new", 0)])
    assert clone_tables(tables, []) is tables


def test_renamed_handles_lower_cased_ids():
    assert renamed("/runs/0858abcCU01", "0858abcCU01", "0858defCU02") == "/runs/0858defCU02"
    assert renamed("/runs/0858abccu01", "0858abcCU01", "0858defCU02") == "/runs/0858defcu02"
    with pytest.raises(ValueError):
        renamed("/runs/other", "0858abcCU01", "x")


def _everything(path) -> dict[str, list]:
    store = Store.open(path)
    keys = {"executions": "execution_id", "steps": "execution_id, step_key", "attempts":
            "execution_id, step_key, attempt", "usage": "execution_id, step_key, meter"}
    return {name: store.sql(f"SELECT * FROM {name} ORDER BY {order}").values.tolist()
            for name, order in keys.items()}


@pytest.mark.slow  # builds two small demo stores, one through worker processes
def test_the_workload_does_not_depend_on_workers_or_write_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "NATIVE_EXECUTIONS", 200)        # clones in every cloud
    first = demo.build_demo(Store(tmp_path / "a"), days=3, executions=1_500, seed=4, end=END, workers=2)
    monkeypatch.setattr(demo, "WRITE_ROWS", 5_000)             # many small writes
    second = demo.build_demo(Store(tmp_path / "b"), days=3, executions=1_500, seed=4, end=END, workers=1)
    assert second.writes > first.writes >= 1
    assert all(first.cloned.values()) and first.cloned == second.cloned
    assert first.truth == second.truth and first.written == second.written
    assert _everything(tmp_path / "a") == _everything(tmp_path / "b")
    runs = Store.open(tmp_path / "b").sql("SELECT scope, status, counts FROM collection_runs ORDER BY scope")
    assert list(runs["status"]).count("failed") == 1 and len(runs) == 4


class _FakeStore:
    def __init__(self) -> None:
        self.batches: list = []

    def write(self, batch) -> dict[str, int]:
        self.batches.append(batch)
        return {"executions": batch.executions.num_rows}


def test_writes_wait_for_a_new_day_so_each_partition_is_written_once(monkeypatch):
    monkeypatch.setattr(demo, "WRITE_ROWS", 100)
    store = _FakeStore()
    writer = demo._Writer(store, demo.DemoResult(), lambda _m: None)   # type: ignore[arg-type]
    day = 86_400

    def part(lo: int, rows: int) -> demo.ChunkPart:
        table = pa.table({C.execution_id: [f"{lo}-{i}" for i in range(rows)], "lo": [lo] * rows})
        return demo.ChunkPart(Cloud.AWS, 0, lo, {"executions": table}, None, 0, 0, 0.0)

    for d in range(3):
        for hour in (0, 8, 16):                      # 3 chunks a day, 40 rows each: 120 rows a day
            writer.add(part(d * day + hour * 3600, 40))
    writer.add(part(3 * day, 250))                   # a big day: written mid-day once over 2x
    writer.add(part(3 * day + 8 * 3600, 10))
    writer.flush()
    writer.close()
    days = [sorted({lo // day for lo in b.executions.column("lo").to_pylist()}) for b in store.batches]
    assert days == [[0], [1], [2], [3], [3]]
    assert writer.result.writes == 5 and writer.result.written["executions"] == 3 * 120 + 260


def test_a_failed_chunk_stops_the_demo_and_writes_no_ground_truth(tmp_path, monkeypatch):
    real = demo.build_chunk

    def failing(cloud, spec, index, seen_at):
        if index == 1:
            raise RuntimeError("simulated failure in a chunk")
        return real(cloud, spec, index, seen_at)

    monkeypatch.setattr(demo, "build_chunk", failing)
    store = Store(tmp_path / "store")
    with pytest.raises(RuntimeError, match="simulated failure"):
        demo.build_demo(store, days=2, executions=60, seed=1, end=END, workers=1)
    assert not demo.truth_path(store).exists()      # a partial store never looks like a finished demo



def test_a_second_demo_into_a_new_folder_while_the_first_builds_is_refused_not_stacked(tmp_path):
    """Two demos started into one new folder (two terminals, a parallel Makefile) both found it empty and both
    wrote: the store held both workloads (3,566 executions for two 2,000-execution demos of other seeds), with
    the ground truth of whichever finished last. The second is refused while the first builds, naming it."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Event

    path = tmp_path / "store"
    started, go = Event(), Event()

    def held(message: str) -> None:             # the first demo, stopped before its first write
        if message.startswith("simulating"):
            started.set()
            go.wait(60)

    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(demo.build_demo, Store(path), days=1, executions=30, seed=1, end=END, progress=held,
                            workers=1)
        assert started.wait(60)
        try:
            with pytest.raises(StoreError, match=rf"another `flowscope demo` \(pid {os.getpid()}\)"):
                demo.build_demo(Store(path), days=1, executions=30, seed=2, end=END, workers=1)
        finally:
            go.set()
        built = first.result()
    stored = Store.open(path).row_counts(["executions"])["executions"]
    assert stored == built.written["executions"]



def test_a_demo_still_filling_its_store_is_not_replaced_under_it(tmp_path):
    """A second `flowscope demo` found the first's store holding simulated executions (its first writes) and
    replaced it, built beside and swapped in, while the first went on writing: its later writes landed in the
    replacement (51,920 executions for an 80,803 demo and a 70 one, with the ground truth of the first). The
    replacement is refused while a demo fills the store."""
    from typer.testing import CliRunner

    from flowscope.cli import app

    path = tmp_path / "store"
    demo.build_demo(Store(path), days=1, executions=30, seed=1, end=END, workers=1)
    before = Store.open(path).version()
    args = ["demo", "--store", str(path), "--no-serve", "--executions", "30", "--days", "1", "--seed", "2",
            "--end", END.isoformat()]
    with demo.only_demo(Store(path)):           # a demo still filling it
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "being filled by another `flowscope demo`" in result.output, result.output
    assert "replacing" not in result.output
    assert Store.open(path).version() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


@pytest.mark.slow  # builds small demo stores
def test_the_demo_refuses_a_store_that_already_holds_real_data_and_replaces_an_earlier_demo(tmp_path):
    """A demo written over stored executions mixed its simulated rows into them: a second `flowscope
    demo` an hour later left 504 executions for a 334-execution workload (two workloads stacked, the
    ground truth of the last only), and a demo pointed at a synced store mixed into real data. The
    library refuses any store with data; the command builds an earlier demo again (the README's first
    command, run twice, works) and refuses a store holding one synced or imported execution."""
    from typer.testing import CliRunner

    from flowscope.cli import app
    from flowscope.model import Batch, C, Source

    path = tmp_path / "store"
    demo.build_demo(Store(path), days=1, executions=30, seed=1, end=END, workers=1)
    once = Store.open(path).row_counts(["executions"])["executions"]
    with pytest.raises(StoreError, match=r"already holds \d+ executions.*new folder.*delete"):
        demo.build_demo(Store(path), days=1, executions=30, seed=1, end=END + dt.timedelta(hours=5), workers=1)
    args = ["demo", "--store", str(path), "--no-serve", "--executions", "30", "--days", "1", "--seed", "1",
            "--end", (END + dt.timedelta(hours=5)).isoformat()]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0 and "replacing the demo built earlier" in result.output, result.output
    assert Store.open(path).row_counts(["executions"])["executions"] == once       # replaced, not stacked
    assert demo.truth_path(Store.open(path)).exists()

    real = Store.open(path).sql("SELECT * FROM executions LIMIT 1").to_dict("records")[0]
    real.update({C.execution_id: real[C.execution_id] + "-synced", C.source: str(Source.API)})
    Store(path).write(Batch(executions=[real]))
    before = Store.open(path).version()
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "already holds" in result.output, result.output
    assert Store.open(path).version() == before        # nothing written, nothing deleted


def test_an_earlier_demo_stays_readable_while_its_replacement_is_built_and_a_failed_build_keeps_it(
        tmp_path, monkeypatch):
    """`flowscope demo` deleted the earlier demo before building the new one: a dashboard or notebook
    reading it was told, for the whole build, that the store was damaged. The new demo is built beside it
    and swapped in; a build that fails leaves the old demo whole and no half-built folder."""
    from typer.testing import CliRunner

    from flowscope.cli import app
    from flowscope.store import Store

    path = tmp_path / "store"
    demo.build_demo(Store(path), days=1, executions=30, seed=1, end=END, workers=1)
    before = Store.open(path).row_counts(["executions"])["executions"]
    seen: list[int] = []
    real_build = demo.build_demo

    def build(store, **options):
        seen.append(Store.open(path).row_counts(["executions"])["executions"])   # the old demo, mid-build
        return real_build(store, **{**options, "workers": 1})

    monkeypatch.setattr(demo, "build_demo", build)
    args = ["demo", "--store", str(path), "--no-serve", "--executions", "40", "--days", "1", "--seed", "2",
            "--end", END.isoformat()]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0 and "replacing the demo built earlier" in result.output, result.output
    assert seen == [before]
    after = Store.open(path).row_counts(["executions"])["executions"]
    assert after != before and demo.truth_path(Store.open(path)).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]        # nothing left beside it

    def failing(store, **options):
        real_build(store, **{**options, "workers": 1})
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo, "build_demo", failing)
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert Store.open(path).row_counts(["executions"])["executions"] == after
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]
