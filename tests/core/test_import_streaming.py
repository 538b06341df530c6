"""`flowscope import` of big JSON Lines log exports: streamed in chunks of whole executions (issue 15).

Every streamed import is compared with the whole-file path (one transform of every record, then
the assembly), with chunks made small so a 60-execution file commits many times.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest

from flowscope.collectors import importer, streaming
from flowscope.collectors.assemble import assemble_batch
from flowscope.collectors.aws.transform import stream_key
from flowscope.collectors.importer import PartlyImportedError, import_files
from flowscope.collectors.native import ImportContext, NativeFormatError
from flowscope.collectors.registry import transforms_for
from flowscope.collectors.streaming import ExecutionGroups
from flowscope.model import EXECUTION_TABLES, C, Cloud, Source
from flowscope.store import Store
from tests.core.helpers import END, small_sim, table_rows

CHUNK = 1200


@pytest.fixture
def sim():
    return small_sim(Cloud.AWS, executions=60, seed=5)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr("flowscope.collectors.import_stream.CHUNK_RECORDS", CHUNK)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 50_000)      # ~150 records: several blocks per chunk


def export(sim) -> list[dict]:
    """Every log record of the simulation in time order, as a CloudWatch export interleaves them."""
    records = [r for fmt, doc in sim.documents if fmt == "aws.log_records" for r in doc]
    return sorted(records, key=lambda r: int(r["event_timestamp"]))


def write_jsonl(path: Path, records: list, *, opener=open) -> Path:
    with opener(path, "wt") as handle:
        handle.write("".join(json.dumps(r) + "\n" for r in records))
    return path


def machine_files(folder: Path, sim) -> list[Path]:
    paths = []
    for n, (_, doc) in enumerate(d for d in sim.documents if d[0] == "aws.state_machine"):
        path = folder / f"machine-{n}.json"
        path.write_text(json.dumps(doc))
        paths.append(path)
    return paths


def reference(tmp_path: Path, sim, records: list) -> Store:
    """The whole-file path: every record through one transform, then assembled and written once."""
    ctx = ImportContext(source_name="ref", seen_at=END, source=Source.IMPORT)
    docs = [("aws.log_records", records, ctx)] + [(f, d, ctx) for f, d in sim.documents if f == "aws.state_machine"]
    store = Store(tmp_path / "reference")
    store.write(assemble_batch(importer.transform_documents(docs), None, transforms_for=transforms_for))
    return store


def rows(store: Store) -> dict[str, list[tuple]]:
    return {table: table_rows(store, table) for table in EXECUTION_TABLES}


def test_a_streamed_export_commits_in_chunks_and_equals_the_whole_file_path(tmp_path, sim, monkeypatch):
    records = export(sim)
    assert len(records) > 4 * CHUNK
    path = write_jsonl(tmp_path / "export.jsonl", records)
    reads, writes = [], []
    original_read, original_write = Store.read_execution_rows, Store.write
    monkeypatch.setattr(Store, "read_execution_rows", lambda self, *a: reads.append(1) or original_read(self, *a))
    monkeypatch.setattr(Store, "write", lambda self, batch: writes.append(1) or original_write(self, batch))
    store = Store(tmp_path / "store")
    result = import_files(store, [path, *machine_files(tmp_path, sim)])
    assert len(writes) >= 4                         # several commits, not one at the end
    assert len(reads) <= len(writes)                # stored rows read once per write (at most), not twice
    assert rows(store) == rows(reference(tmp_path, sim, records))
    assert result.new_executions == len({r["execution_arn"] for r in records})
    assert result.formats == {"aws.log_records": 1, "aws.state_machine": len(machine_files(tmp_path, sim))}
    runs = store.read_rows("collection_runs")
    assert [r[C.status] for r in runs] == ["succeeded"]
    assert json.loads(runs[0][C.counts])["executions"] == result.new_executions


@pytest.mark.parametrize("stop", [KeyboardInterrupt, OSError])
def test_an_import_stopped_after_a_chunk_was_stored_leaves_a_trace(tmp_path, sim, monkeypatch, stop):
    """Ctrl-C, a full disk or a SIGKILL after a streamed import committed its first chunks: its executions
    were stored and no collection_runs row said that an import had begun (a failed row is written only for a
    bad line). The first chunk is written with a `running` row naming its process (a sync's rule, so
    `doctor` reads it as stopped once the process is gone); the import's end replaces it."""
    from flowscope.runstate import WRITER_KEY

    path = write_jsonl(tmp_path / "export.jsonl", export(sim))
    writes: list[int] = []
    original_write = Store.write

    def write(self, batch):
        writes.append(1)
        if len(writes) == 3:
            raise stop("stopped")
        return original_write(self, batch)

    monkeypatch.setattr(Store, "write", write)
    store = Store(tmp_path / "store")
    with pytest.raises(stop):
        import_files(store, [path])
    (run,) = store.read_rows("collection_runs")
    assert run[C.status] == "running" and run[C.scope] == "import:aws" and run[C.ended_at] is None
    assert json.loads(run[C.details])[WRITER_KEY]["pid"] > 0
    assert json.loads(run[C.counts])["executions"] == len(store.read_rows("executions")) > 0
    monkeypatch.setattr(Store, "write", original_write)
    import_files(store, [path])
    assert sorted(r[C.status] for r in store.read_rows("collection_runs")) == ["running", "succeeded"]


def test_a_streamed_import_that_ends_leaves_one_row_not_its_running_one(tmp_path, sim):
    store = Store(tmp_path / "store")
    import_files(store, [write_jsonl(tmp_path / "export.jsonl", export(sim))])
    assert [r[C.status] for r in store.read_rows("collection_runs")] == ["succeeded"]


def test_reimporting_a_streamed_export_rewrites_nothing(tmp_path, sim):
    path = write_jsonl(tmp_path / "export.jsonl", export(sim))
    store = Store(tmp_path / "store")
    first = import_files(store, [path])
    versions = {t: v for t, v in store.version().items() if t != "collection_runs"}
    again = import_files(store, [path])
    assert {t: v for t, v in store.version().items() if t != "collection_runs"} == versions
    assert again.unchanged_executions == first.new_executions and again.new_executions == 0


def test_a_record_after_its_execution_was_written_rebuilds_it_from_every_record(tmp_path, sim):
    records = export(sim)
    first = records[0]["execution_arn"]
    late = [r for r in records if r["execution_arn"] == first]
    clash = dict(late[1], details={"name": "Elsewhere"})          # same id, other content: skipped
    records = [*records, dict(late[2]), clash]                     # an identical duplicate: fine
    path = write_jsonl(tmp_path / "export.jsonl", records)
    store = Store(tmp_path / "store")
    result = import_files(store, [path])
    assert rows(store) == rows(reference(tmp_path, sim, records))
    assert [(s.location, f"event id {late[1]['id']}" in s.reason) for s in result.skips] == [
        (f"line {len(records)}", True)]


def test_a_bad_line_after_committed_chunks_stores_whole_executions_only_and_a_reimport_completes(tmp_path, sim):
    records = export(sim)
    cut = len(records) * 2 // 3
    path = tmp_path / "export.jsonl"
    lines = [json.dumps(r) for r in records]
    path.write_text("\n".join([*lines[:cut], '{"id": "1", "type": ', *lines[cut:]]) + "\n")
    store = Store(tmp_path / "store")
    with pytest.raises(PartlyImportedError, match=rf"export.jsonl: line {cut + 1} column \d+: invalid JSON") as caught:
        import_files(store, [path])
    stored = {r[C.execution_id] for r in store.read_rows("executions")}
    assert 0 < len(stored) == caught.value.executions_written
    want = reference(tmp_path, sim, records)
    for table in EXECUTION_TABLES:                  # every stored execution is whole: as the full file gives it
        assert table_rows(store, table) == [row for row in table_rows(want, table) if any(
            value in stored for value in row)], table
    assert [r[C.status] for r in store.read_rows("collection_runs")] == ["failed"]
    path.write_text("\n".join(lines) + "\n")
    result = import_files(store, [path])
    assert rows(store) == rows(want)
    assert result.unchanged_executions == len(stored)


def test_a_truncated_gzip_export_names_the_line_it_ends_in_and_keeps_what_came_before(tmp_path, sim):
    """A .gz cut short (a copy or a download stopped): the lines decompressed in the block that hit the end were
    dropped and the error named that block's first line ("line 1" for a small file), not where the data ends.
    It names the line the data ends in, and stores the whole executions before it, as for a bad line."""
    import zlib

    data = gzip.compress("".join(json.dumps(r) + "\n" for r in export(sim)).encode())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) * 3 // 4])
    whole_lines = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut.read_bytes()).count(b"\n")
    store = Store(tmp_path / "store")
    with pytest.raises(PartlyImportedError, match=rf"cut.jsonl.gz: line {whole_lines + 1}: truncated or corrupt"):
        import_files(store, [cut])
    assert store.read_rows("executions")


def test_a_bad_line_in_the_first_chunk_writes_nothing(tmp_path, sim):
    lines = [json.dumps(r) for r in export(sim)]
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join([*lines[:CHUNK // 2], "not json", *lines[CHUNK // 2:]]) + "\n")
    with pytest.raises(NativeFormatError, match=rf"line {CHUNK // 2 + 1} column 1") as caught:
        import_files(tmp_path / "new", [path])
    assert not isinstance(caught.value, PartlyImportedError)
    assert not (tmp_path / "new").exists()


def test_gzipped_exports_stream_and_a_truncated_one_names_itself(tmp_path, sim):
    records = export(sim)
    packed = write_jsonl(tmp_path / "export.jsonl.gz", records, opener=gzip.open)
    store = Store(tmp_path / "store")
    import_files(store, [packed])
    assert rows(store) == rows(_logs_only(tmp_path, records))
    data = packed.read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(NativeFormatError, match=r"cut.jsonl.gz: line \d+: truncated or corrupt gzip"):
        import_files(Store(tmp_path / "other"), [cut])


def _exported(records: list) -> str:
    """Lines as a CloudWatch Logs export to S3 writes them (`create-export-task`'s 000000.gz): the
    ingestion time, a space, the log message."""
    def stamp(record: dict) -> str:
        ms = int(record.get("event_timestamp", 0)) + 40
        return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return "".join(f"{stamp(r)} {json.dumps(r)}\n" if isinstance(r, dict) else f"{r}\n" for r in records)


@pytest.mark.slow
def test_a_cloudwatch_export_to_s3_is_read_by_line_streamed_or_whole(tmp_path, sim, monkeypatch):
    """`aws logs create-export-task` writes each event as "<time> <message>": the import refused the
    000000.gz files ("neither JSON nor valid YAML"). A bad line is still reported by its number."""
    records = export(sim)
    packed = tmp_path / "000000.gz"
    with gzip.open(packed, "wt") as handle:
        handle.write(_exported([*records[:3], "2026-11-20T10:00:00.000Z not json", *records[3:]]))
    with pytest.raises(NativeFormatError, match=r"000000.gz: line 4 column \d+: invalid JSON Lines record"):
        import_files(Store(tmp_path / "refused"), [packed])
    with gzip.open(packed, "wt") as handle:
        handle.write(_exported([*records[:3], {"id": "1"}, *records[3:]]))
    store = Store(tmp_path / "store")
    result = import_files(store, [packed])
    assert rows(store) == rows(_logs_only(tmp_path, records))
    assert [s.location for s in result.skips] == ["line 4"]
    # the folder `aws s3 cp --recursive` makes of the export: the marker CloudWatch Logs writes beside it
    bucket = tmp_path / "bucket" / "exports"
    (bucket / "4f3c2a1e-task" / "states-abc").mkdir(parents=True)
    (bucket / "aws-logs-write-test").write_text("Permission Check Successful")
    packed.rename(bucket / "4f3c2a1e-task" / "states-abc" / packed.name)
    packed = bucket / "4f3c2a1e-task" / "states-abc" / packed.name
    folder = import_files(Store(tmp_path / "folder"), [tmp_path / "bucket"])
    assert folder.files == 1 and rows(Store(tmp_path / "folder")) == rows(store)
    monkeypatch.setattr(streaming, "sniff_json_lines", lambda path: None)     # the whole-document path
    whole = Store(tmp_path / "whole")
    result = import_files(whole, [packed])
    assert rows(whole) == rows(store) and [s.location for s in result.skips] == ["line 4"]


def _logs_only(tmp_path: Path, records: list) -> Store:
    ctx = ImportContext(source_name="ref", seen_at=END, source=Source.IMPORT)
    store = Store(tmp_path / "logs-only")
    batch = importer.transform_documents([("aws.log_records", records, ctx)])
    store.write(assemble_batch(batch, None, transforms_for=transforms_for))
    return store


def test_odd_lines_are_reported_by_line_and_lone_surrogates_repaired(tmp_path, sim):
    records = export(sim)[:CHUNK * 2]
    name = next(r for r in records if r["type"].endswith("StateEntered"))
    name["details"]["name"] = "Step\ud800"
    lines = [json.dumps(r) for r in records]
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join([*lines[:5], "[1, 2]", '{"id": "1"}', "", *lines[5:]]) + "\n")
    result = import_files(Store(tmp_path / "store"), [path])
    assert [(s.location, s.reason) for s in result.skips[:2]] == [
        ("line 6", "not a record of an execution (no readable execution id)"),
        ("line 7", "not a record of an execution (no readable execution id)")]
    assert any("1 lone UTF-16 surrogate(s) replaced" in w for w in result.warnings)
    steps = Store.open(tmp_path / "store").read_rows("steps", f"execution_id = '{name['execution_arn']}'")
    assert "Step\ufffd" in {s[C.name] for s in steps}


def test_open_executions_bound_what_the_groups_hold():
    """Executions that run one after another: never more than the running ones are held."""
    def records(n: int) -> list[dict]:
        arn = f"arn:aws:states:eu-west-1:111111111111:express:m:run-{n}:x"
        types = ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
        return [{"id": str(i), "type": t, "execution_arn": arn, "event_timestamp": "1"}
                for i, t in enumerate(types, start=1)]
    groups = ExecutionGroups(stream_key)
    held = []
    for n in range(0, 200, 2):                      # two executions interleaved at a time
        for pair in zip(records(n), records(n + 1), strict=True):
            for record in pair:
                assert groups.add(1, record)
        held.append(len(groups.open))
        groups.take_ready()
    assert max(held) == 0 and len(groups.handed_out) == 200 and not groups.revisit
    late = records(3)[2]
    groups.add(1, late)
    assert groups.revisit == {late["execution_arn"]}


def test_only_json_lines_files_are_streamed(tmp_path, monkeypatch):
    record = {"id": "1", "execution_arn": "arn:aws:states:eu-west-1:1:express:m:r:x", "event_timestamp": "1"}
    two = write_jsonl(tmp_path / "two.jsonl", [record, record])
    assert streaming.sniff_json_lines(two) == [record, record]
    one = write_jsonl(tmp_path / "one.jsonl", [record])
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps([record, record], indent=1))
    listed = tmp_path / "list.jsonl"
    listed.write_text("[1]\n[2]\n")
    assert [streaming.sniff_json_lines(p) for p in (one, pretty, listed)] == [None, None, None]
    monkeypatch.setattr(streaming, "MAX_LINE_BYTES", 40)    # a first line this long: a minified document
    assert streaming.sniff_json_lines(two) is None


def test_the_log_transform_leaves_no_cyclic_garbage(sim):
    """The import pauses the cyclic collector: what a chunk's transform builds must free itself."""
    import gc

    from flowscope.collectors.aws.transform import FORMATS

    ctx = ImportContext(source_name="gc", seen_at=END, source=Source.IMPORT)
    records = export(sim)
    FORMATS["aws.log_records"](records[:100], ctx)          # warm: first-use caches are not garbage
    gc.collect()
    gc.disable()
    try:
        batch = FORMATS["aws.log_records"](records, ctx)
        assert batch.steps
        del batch
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_a_transform_that_breaks_on_a_chunk_names_the_file_and_its_lines(tmp_path, sim, monkeypatch):
    from flowscope.collectors.aws.transform import FORMATS

    real = FORMATS["aws.log_records"]

    def breaks_on_chunks(doc, ctx):
        if len(doc) > 100:                          # the 50-record format check passes, chunks do not
            raise RuntimeError("surprise")
        return real(doc, ctx)
    monkeypatch.setitem(FORMATS, "aws.log_records", breaks_on_chunks)
    path = write_jsonl(tmp_path / "export.jsonl", export(sim))
    with pytest.raises(NativeFormatError, match=r"export.jsonl: lines \d+-\d+: could not be read as "
                                                r"aws.log_records: RuntimeError: surprise"):
        import_files(tmp_path / "new", [path])
    assert not (tmp_path / "new").exists()


def test_bench_stage_breakdown_times_every_stage(tmp_path, sim):
    """`bench_import.py --stages` wraps the import's stage functions by name: a renamed stage must
    fail here, not silently drop out of the figures."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    logs = write_jsonl(tmp_path / "logs.jsonl", export(sim))
    done = subprocess.run([sys.executable, str(root / "bench" / "bench_import.py"), "--child", "import-stages",
                           str(tmp_path / "store"), str(logs), *map(str, machine_files(tmp_path, sim))],
                          capture_output=True, text=True, check=False, cwd=root, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["executions"] == len({r["execution_arn"] for r in export(sim)})
    for stage in ("decode (orjson, per 4 MB block)", "group by execution", "transform (log records -> rows)",
                  "assemble (with stored rows)", "store: validate (rows -> Arrow)", "store: Delta append"):
        assert out[f"stage: {stage}"] > 0, stage
    assert sum(v for k, v in out.items() if k.startswith("stage: ")) <= out["cpu_s"]


def test_an_import_says_how_far_it_is(sim, tmp_path):
    """A 10M-record export imports for minutes behind a spinner that said only "importing": each file read whole is
    named as it is read, and a streamed file says its last line read and the executions stored so far, both only
    growing, the last line the file's last, the count at most what the import stores. Paths and counts only."""
    records = export(sim)
    logs = write_jsonl(tmp_path / "logs.jsonl", records)
    machines = machine_files(tmp_path, sim)
    said: list[str] = []
    result = import_files(tmp_path / "store", [logs, *machines], progress=said.append)
    reading = [line for line in said if line.startswith("reading ")]
    assert reading == [f"reading {path} ({n:,} of {len(machines):,} file(s))"
                       for n, path in enumerate(sorted(machines), start=1)]
    streamed = [line for line in said if line.startswith(f"{logs}: line ")]
    lines = [int(line.split(": line ", 1)[1].split(" ", 1)[0].replace(",", "")) for line in streamed]
    stored = [int(line.split(" read, ", 1)[1].split(" ", 1)[0].replace(",", "")) for line in streamed]
    assert len(streamed) > 3 and lines == sorted(lines) and lines[-1] == len(records)
    assert stored == sorted(stored) and 0 < stored[-1] <= result.written["executions"]
    assert not any(str(records[0]["execution_arn"]) in line for line in said)      # no record's content
