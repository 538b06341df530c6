"""`flowscope import` on hostile and malformed files, through the real command (issue 9).

Each case: the exit code, a message naming the file (and the line when one record is at fault),
no traceback, and the store unchanged whenever the import is refused.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from flowscope.model import C
from flowscope.store import Store

runner = CliRunner(env={"COLUMNS": "400"})

ARN = "arn:aws:states:eu-west-1:111111111111:execution:hello:run-1"
ARN2 = "arn:aws:states:eu-west-1:111111111111:execution:hello:run-2"
START = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.timezone.utc)


def _ts(ms: int) -> str:
    return (START + dt.timedelta(milliseconds=ms)).isoformat().replace("+00:00", "Z")


def history_events(cause: str = "boom", name: str = "Hello") -> list[dict]:
    """A small real-shaped get-execution-history: one Pass state, then a failure."""
    return [
        {"id": 1, "previousEventId": 0, "timestamp": _ts(0), "type": "ExecutionStarted",
         "executionStartedEventDetails": {"input": "{}", "roleArn": "arn:aws:iam::111111111111:role/r"}},
        {"id": 2, "previousEventId": 1, "timestamp": _ts(100), "type": "PassStateEntered",
         "stateEnteredEventDetails": {"name": name, "input": "{}"}},
        {"id": 3, "previousEventId": 2, "timestamp": _ts(200), "type": "PassStateExited",
         "stateExitedEventDetails": {"name": name, "output": "{}"}},
        {"id": 4, "previousEventId": 3, "timestamp": _ts(300), "type": "ExecutionFailed",
         "executionFailedEventDetails": {"error": "States.TaskFailed", "cause": cause}},
    ]


def log_records(arn: str = ARN) -> list[dict]:
    """The same execution as CloudWatch Logs records (level ALL), one per JSON Lines line."""
    base = int(START.timestamp() * 1000)
    out = []
    for ev in history_events():
        details = next((v for k, v in ev.items() if k.endswith("EventDetails")), None)
        out.append({"id": str(ev["id"]), "previous_event_id": str(ev["previousEventId"]), "type": ev["type"],
                    "details": details, "execution_arn": arn,
                    "event_timestamp": str(base + 100 * (ev["id"] - 1)), "redrive_count": "0"})
    return out


def write_history(path: Path, events: list[dict]) -> Path:
    path.write_text(json.dumps({"events": events}, indent=2))
    return path


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def run_import(store: Path, *args: str):
    result = runner.invoke(app, ["import", "--store", str(store), *args])
    text = " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result, text


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


@pytest.fixture
def store_with_data(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    good = write_history(tmp_path / "seed.json", history_events())
    result, _ = run_import(store, "--execution-arn", ARN2, str(good))
    assert result.exit_code == 0, result.output
    return store


# ---------------------------------------------------------------- fatal: file-level errors

def _deep(path: Path) -> Path:
    path.write_text('{"events": ' + "[" * 200_000 + "]" * 200_000 + "}")
    return path


def _truncated_gz(path: Path) -> Path:
    data = gzip.compress(json.dumps({"events": history_events()}).encode())
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("name, make", [
    ("deep.json", _deep),                       # (c) RecursionError
    ("cut.json.gz", _truncated_gz),             # (e) truncated .gz: was "Aborted." with no name
])
def test_a_fatal_file_names_itself_and_leaves_the_store_as_it_was(tmp_path, store_with_data, name, make):
    bad = make(tmp_path / name)
    good = write_history(tmp_path / "good.json", history_events())
    before = Store(store_with_data).version()
    result, text = run_import(store_with_data, "--execution-arn", ARN, str(good), str(bad))
    assert result.exit_code == ExitCode.USAGE, result.output
    assert name in text and "nothing was written" in text
    assert Store(store_with_data).version() == before


# ---------------------------------------------------------------- one bad record: skipped, by line

def test_log_record_whose_details_is_a_string_is_skipped_by_line(tmp_path):
    records = log_records()
    records[1]["details"] = "not an object"           # (a) the StateEntered record, line 2
    path = write_jsonl(tmp_path / "logs.jsonl", records)
    result, text = run_import(tmp_path / "store", str(path))
    assert result.exit_code == 0, result.output
    assert f"{path}: line 2" in text and "details" in text
    assert "1 record(s) skipped" in text or "skipped" in text


@pytest.mark.parametrize("bad", [["ExecutionSucceeded"], {"a": 1}])
def test_log_record_whose_type_is_not_text_is_skipped_by_line(tmp_path, bad):
    """A type holding a list or an object was "TypeError: unhashable type - a bug in flowscope" (exit 5) in a
    JSON Lines file, where the bounded-memory reader looks for the record that ends its execution; a JSON array
    of the same records skipped it."""
    records = log_records()
    records[1]["type"] = bad
    path = write_jsonl(tmp_path / "logs.jsonl", records)
    result, text = run_import(tmp_path / "store", str(path))
    assert result.exit_code == 0, result.output
    assert f"{path}: line 2" in text and "1 record(s) skipped" in text, text


@pytest.mark.parametrize("bad", ["a string", ["a", "list"], 42])
def test_history_event_whose_details_is_not_an_object_is_skipped_by_line(tmp_path, bad):
    events = history_events()
    events[1]["stateEnteredEventDetails"] = bad        # (b)
    path = write_history(tmp_path / "history.json", events)
    result, text = run_import(tmp_path / "store", "--execution-arn", ARN, str(path))
    assert result.exit_code == 0, result.output
    line = line_of(path, '"id": 2,')
    assert f"{path}: line {line - 1}" in text or f"{path}: line {line}" in text
    assert "stateEnteredEventDetails" in text


def test_out_of_range_epoch_timestamps_are_skipped_by_line(tmp_path):
    events = history_events()
    events[2]["timestamp"] = 1e20                      # (d) OverflowError in the API shape
    history = write_history(tmp_path / "history.json", events)
    records = log_records()
    records[2]["event_timestamp"] = "9" * 25           # (d) in a log record
    logs = write_jsonl(tmp_path / "logs.jsonl", records)
    result, text = run_import(tmp_path / "store", "--execution-arn", ARN, str(history))
    assert result.exit_code == 0, result.output
    assert f"{history}: line {line_of(history, '1e+20') - 3}" in text
    result, text = run_import(tmp_path / "store2", str(logs))
    assert result.exit_code == 0, result.output
    assert f"{logs}: line 3" in text


def test_a_lone_surrogate_is_replaced_and_every_good_file_imports(tmp_path):
    bad = write_history(tmp_path / "surrogate.json", history_events(cause="bad \ud800 cause", name="Step\udc00"))
    assert "\\ud800" in bad.read_text()                # (f) escaped in JSON, as exporters write it
    good = write_jsonl(tmp_path / "good.jsonl", log_records(ARN2))
    store = tmp_path / "store"
    result, text = run_import(store, "--execution-arn", ARN, str(bad), str(good))
    assert result.exit_code == 0, result.output
    rows = {r[C.execution_id]: r for r in Store.open(store).read_rows("executions")}
    assert set(rows) == {ARN, ARN2}
    assert rows[ARN][C.cause] == "bad \ufffd cause"
    assert [s[C.name] for s in Store.open(store).read_rows("steps", f"execution_id = '{ARN}'")] == ["Step\ufffd"]
    assert "surrogate.json" in text and "U+FFFD" in text


# ---------------------------------------------------------------- item 2: lines of array documents

def test_skips_in_a_json_array_document_name_the_line_where_the_record_starts(tmp_path):
    events = history_events()
    events.insert(2, {"id": "seven", "type": "PassStateExited", "previousEventId": 2, "timestamp": _ts(150)})
    path = write_history(tmp_path / "history.json", events)
    result, text = run_import(tmp_path / "store", "--execution-arn", ARN, str(path))
    assert result.exit_code == 0, result.output
    start = line_of(path, '"id": "seven"') - 1          # the record's "{" is on the line before
    assert f"{path}: line {start}" in text
    assert "events[2]" not in text.replace(f"line {start} (events[2])", "")


# ---------------------------------------------------------------- item 3: nothing usable -> fail

def test_importing_only_skipped_records_fails_with_no_data_and_writes_nothing(tmp_path, store_with_data):
    records = log_records()
    for record in records:
        del record["type"]
    path = write_jsonl(tmp_path / "logs.jsonl", records)
    before = Store(store_with_data).version()
    result, text = run_import(store_with_data, str(path))
    assert result.exit_code == ExitCode.NO_DATA, result.output
    assert f"nothing imported: {len(records)} record(s) skipped" in text
    assert f"{path}: line 1" in text and f"{path}: line {len(records)}" in text
    assert Store(store_with_data).version() == before


# ---------------------------------------------------------------- item 4: conflicting duplicate ids

def test_a_conflicting_duplicate_event_id_is_reported_with_file_line_and_id(tmp_path):
    events = history_events()
    clash = dict(events[2], timestamp=_ts(250))       # id 3 again, different content
    path = write_history(tmp_path / "history.json", [*events, clash, dict(events[1])])  # + an identical dup
    result, text = run_import(tmp_path / "store", "--execution-arn", ARN, str(path))
    assert result.exit_code == 0, result.output
    lines = path.read_text().splitlines()
    starts = [n for n, line in enumerate(lines, start=1) if line == "    {"]
    assert f"{path}: line {starts[4]}" in text and "event id 3" in text
    assert f"line {starts[5]}" not in text             # an identical duplicate is fine
    logs = log_records()
    logs.append(dict(logs[1], details={"name": "Other", "input": "{}"}))
    path = write_jsonl(tmp_path / "logs.jsonl", logs)
    result, text = run_import(tmp_path / "store2", str(path))
    assert result.exit_code == 0, result.output
    assert f"{path}: line {len(logs)}" in text and "event id 2" in text


# ---------------------------------------------------------------- item 6: describe + history

def _describe(arn: str, start_ms: int = 0, status: str = "FAILED") -> dict:
    return {"executionArn": arn, "stateMachineArn": "arn:aws:states:eu-west-1:111111111111:stateMachine:hello",
            "name": arn.rsplit(":", 1)[-1], "status": status, "startDate": _ts(start_ms),
            "stopDate": _ts(start_ms + 300), "input": "{}"}


def test_describe_execution_and_its_history_are_paired_without_execution_arn(tmp_path):
    history = write_history(tmp_path / "history.json", history_events())
    describe = tmp_path / "describe.json"
    describe.write_text(json.dumps(_describe(ARN)))
    store = tmp_path / "store"
    result, text = run_import(store, str(describe), str(history))
    assert result.exit_code == 0, result.output
    rows = Store.open(store).read_rows("executions")
    assert [(r[C.execution_id], r[C.status], r[C.event_count]) for r in rows] == [(ARN, "FAILED", 4)]
    assert len(Store.open(store).read_rows("steps")) == 1


def test_describes_and_histories_are_paired_by_start_time(tmp_path):
    later = [dict(ev, timestamp=_ts(60_000 + i * 100)) for i, ev in enumerate(history_events())]
    paths = [write_history(tmp_path / "h1.json", history_events()), write_history(tmp_path / "h2.json", later)]
    for name, arn, start in (("d2.json", ARN2, 60_000), ("d1.json", ARN, 0)):
        (tmp_path / name).write_text(json.dumps(_describe(arn, start)))
        paths.append(tmp_path / name)
    store = tmp_path / "store"
    result, _ = run_import(store, *map(str, paths))
    assert result.exit_code == 0, result.output
    rows = Store.open(store).read_rows("executions")
    assert sorted((r[C.execution_id], r[C.started_at], r[C.event_count]) for r in rows) == [
        (ARN, START, 4), (ARN2, START + dt.timedelta(minutes=1), 4)]


def test_ambiguous_describes_and_histories_explain_what_to_do(tmp_path):
    paths = [write_history(tmp_path / "h1.json", history_events()),
             write_history(tmp_path / "h2.json", history_events())]
    for name, arn in (("d1.json", ARN), ("d2.json", ARN2)):
        (tmp_path / name).write_text(json.dumps(_describe(arn, 5_000)))
        paths.append(tmp_path / name)
    result, text = run_import(tmp_path / "store", *map(str, paths))
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "h1.json" in text and "--execution-arn" in text and "one pair at a time" in text


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be"])
@pytest.mark.parametrize("lines", [True, False], ids=["json-lines", "json"])
def test_files_with_a_byte_order_mark_or_in_utf16_are_read(tmp_path, encoding, lines):
    """Windows PowerShell 5.1 writes `aws ... > x.json` as UTF-16 with a BOM, and `Out-File -Encoding
    utf8` UTF-8 with a BOM: the import refused them ("byte 0: not UTF-8 text"; a BOM'd JSON Lines
    file "neither JSON nor valid YAML"). A bad record is still skipped by its line."""
    records = log_records()
    records[1]["event_timestamp"] = "not a time"
    text = "".join(json.dumps(r) + "\n" for r in records) if lines \
        else json.dumps({"events": history_events()[:3] + [{**history_events()[3], "timestamp": "x"}]}, indent=2)
    path = tmp_path / ("export.jsonl" if lines else "history.json")
    path.write_bytes(text.encode(encoding) if encoding != "utf-16-be" else b"\xfe\xff" + text.encode(encoding))
    args = [str(path)] if lines else ["--execution-arn", ARN, str(path)]
    result, out = run_import(tmp_path / "store", *args)
    assert result.exit_code == 0, result.output
    assert "1 new" in out
    line = 2 if lines else text[: text.index('"id": 4')].count("\n")      # the line of its "{"
    assert f"{path.name}: line {line}" in out, out


@pytest.mark.parametrize("prefix", [
    lambda at: f"{at.isoformat(timespec='microseconds')} states/hello/2026-11-20-10-00/00000000 ",   # aws logs tail
    lambda at: f"{at.strftime('%Y-%m-%dT%H:%M:%S')} ",                                # aws logs tail --format short
], ids=["detailed", "short"])
def test_aws_logs_tail_output_is_read(tmp_path, prefix):
    """`aws logs tail GROUP --since 1d > logs.txt` prints "<time> <log stream> <message>" per event: the
    import refused it ("neither JSON nor valid YAML"). A bad record is still skipped by its line."""
    records = log_records()
    records[2]["event_timestamp"] = "later"
    path = tmp_path / "logs.txt"
    path.write_text("".join(prefix(START + dt.timedelta(milliseconds=100 * n)) + json.dumps(r) + "\n"
                            for n, r in enumerate(records)))
    result, text = run_import(tmp_path / "store", str(path))
    assert result.exit_code == 0, result.output
    assert "1 aws.log_records" in text and "1 new" in text
    assert "logs.txt: line 3" in text
    (row,) = Store.open(tmp_path / "store").read_rows("executions")
    assert (row[C.execution_id], row[C.status], row[C.started_at]) == (ARN, "FAILED", START)


def test_a_json_lines_file_of_one_record_is_read(tmp_path):
    """A log stream with one event exported alone (one line: one CloudWatch Logs record) was refused as
    "unknown format"; it is a list of one record, and a bad one is skipped by its line."""
    one = write_jsonl(tmp_path / "one.jsonl", log_records()[:1])
    result, text = run_import(tmp_path / "store", str(one))
    assert result.exit_code == 0, result.output
    assert "1 aws.log_records" in text and "1 new" in text
    (row,) = Store.open(tmp_path / "store").read_rows("executions")
    assert (row[C.execution_id], row[C.started_at]) == (ARN, START)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n" + json.dumps({**log_records()[0], "event_timestamp": "soon"}) + "\n")
    result, text = run_import(tmp_path / "other", str(bad))
    assert result.exit_code == ExitCode.NO_DATA, result.output
    assert "bad.jsonl: line 2:" in text


EMPTY_PAGES = {                     # what each cloud's list answers when the query found nothing
    "az-runs.json": '{"value": [], "nextLink": null}',
    "gcloud-executions.json": "[]",
    "rest-executions.json": "{}",
    "list-executions.json": '{"executions": [], "nextToken": null}',
}


def test_an_empty_list_page_is_said_and_never_stops_the_import(tmp_path):
    """A folder of per-workflow exports where one workflow had no runs (`{"value": []}`) was refused
    whole ("unknown format", exit 2, nothing written). Now each empty page is named in a warning and
    the rest imports; an import of empty pages only is "no data" (exit 3), never "0 findings"."""
    folder = tmp_path / "export"
    folder.mkdir()
    for name, text in EMPTY_PAGES.items():
        (folder / name).write_text(text)
    write_history(folder / "history.json", history_events())
    result, text = run_import(tmp_path / "store", "--execution-arn", ARN, str(folder))
    assert result.exit_code == 0, result.output
    assert "1 new" in text
    for name in EMPTY_PAGES:
        assert f"warning: {folder / name}: an empty list (a query that found nothing): no records" in text
    (folder / "history.json").unlink()
    result, text = run_import(tmp_path / "other", str(folder))
    assert result.exit_code == ExitCode.NO_DATA, result.output
    assert "nothing imported: 0 record(s) skipped; 4 document(s) an empty list" in text
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize("empty", ["", "  \n\n", "gz"])
def test_an_empty_file_is_a_query_that_found_nothing_as_an_empty_list_is(tmp_path, empty):
    """gcloud's default YAML output of a query that found nothing is no text at all: such a file was
    "empty file", exit 2 (a usage error) and, beside good files, refused the whole import, where `[]`
    is a warning and, alone, "no data" (exit 3). Now an empty file is said and read as `[]` is."""
    folder = tmp_path / "export"
    folder.mkdir()
    if empty == "gz":
        blank = folder / "gcloud-executions.yaml.gz"
        blank.write_bytes(gzip.compress(b""))
    else:
        blank = folder / "gcloud-executions.yaml"
        blank.write_text(empty)
    write_history(folder / "history.json", history_events())
    result, text = run_import(tmp_path / "store", "--execution-arn", ARN, str(folder))
    assert result.exit_code == 0, result.output
    assert "1 new" in text
    assert f"warning: {blank}: an empty file (a query that found nothing): no records" in text
    result, text = run_import(tmp_path / "other", str(blank))
    assert result.exit_code == ExitCode.NO_DATA, result.output
    assert "nothing imported" in text and str(blank) in text
    assert not (tmp_path / "other").exists()


def _retyped(doc, key: str, index: int, path: tuple, value):
    """`doc` with one field of its record `key`[`index`] given a value of another JSON type."""
    import copy

    doc = copy.deepcopy(doc)
    record = (doc[key] if key else doc)[index]
    for step in path[:-1]:
        record = record[step]
    record[path[-1]] = value
    return doc


def _azure_runs() -> dict:
    from tests.azure.test_transform_azure import SAMPLES

    body = json.loads((SAMPLES / "WorkflowRuns_List.json").read_text())["responses"]["200"]["body"]
    body["value"].append({**json.loads(json.dumps(body["value"][0])), "name": "second",
                          "id": body["value"][0]["id"].rsplit("/", 1)[0] + "/second"})
    return body


@pytest.mark.parametrize("make, key, index", [
    # was: "TypeError: unhashable type: 'dict' - a bug in flowscope"
    (lambda g: _retyped({"executions": g.EXECUTIONS}, "executions", 1, ("workflowRevisionId",), {"id": 2}),
     "executions", 1),
    # was: "workflows: column 'definition' expects string, got list", no file named, nothing written
    (lambda g: _retyped({"workflows": [g.WORKFLOW, {**g.WORKFLOW, "revisionId": "000003-x"}]}, "workflows", 1,
                        ("sourceContents",), ["main"]), "workflows", 1),
    # was: "AttributeError: 'bool' object has no attribute 'rpartition' - a bug in flowscope"
    (lambda g: _retyped({"stepEntries": g.ENTRIES}, "stepEntries", 2, ("step",), True), "stepEntries", 2),
    (lambda g: _retyped(g.LOGS, "", 1, ("jsonPayload", "step"), 5), "", 1),
    # was: "executions: column 'native_status' expects string, got int"
    (lambda g: _retyped(_azure_runs(), "value", 1, ("properties", "status"), -1), "value", 1),
], ids=["gcp-execution-revision", "gcp-workflow-source", "gcp-step-name", "gcp-call-log-step", "azure-run-status"])
def test_a_field_of_the_wrong_json_type_skips_its_record_by_line(tmp_path, make, key, index):
    """A record whose text field holds a number, list or object failed the whole import: at the
    write with no file named, or as "a bug in flowscope". It is now skipped with its line, the rest
    imported."""
    from tests.gcp import test_transform as g

    doc = make(g)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(doc, indent=2))
    result, text = run_import(tmp_path / "store", str(path))
    assert result.exit_code == 0, result.output
    starts = [n for n, t in enumerate(path.read_text().splitlines(), 1) if t == " " * (4 if key else 2) + "{"]
    line = starts[index]                        # the line of the record's "{" (indent=2)
    assert f"export.json: line {line}" in text and "not text" in text, text
    assert "1 record(s) skipped" in text


# ---------------------------------------------------------------- item 7: gcloud YAML

GCP_EXEC = "projects/demo-project/locations/us-central1/workflows/orders/executions/{}"

DESCRIBE_YAML = """\
argument: '{{}}'
createTime: '2026-11-01T10:00:00.123456789Z'
duration: 2.500s
endTime: {end}
name: {name}
result: '"ok"'
startTime: '2026-11-01T10:00:00.123456789Z'
state: SUCCEEDED
status:
  currentSteps:
  - routine: main
    step: done
workflowRevisionId: 000001-abc
"""


def test_gcloud_yaml_describe_and_list_are_read_like_json(tmp_path):
    one = tmp_path / "describe.yaml"
    # quoted (gcloud's own) and unquoted (YAML parses it into a datetime) timestamps
    one.write_text(DESCRIBE_YAML.format(end="'2026-11-01T10:00:02.623456789Z'", name=GCP_EXEC.format("e-1")))
    stream = tmp_path / "list.yaml"
    stream.write_text("---\n".join(DESCRIBE_YAML.format(end="2026-11-01T10:00:02.623456Z",
                                                        name=GCP_EXEC.format(f"e-{n}"))
                                   for n in (2, 3)))
    store = tmp_path / "store"
    result, text = run_import(store, str(one), str(stream))
    assert result.exit_code == 0, result.output
    rows = sorted(Store.open(store).read_rows("executions"), key=lambda r: r[C.execution_id])
    assert [r[C.execution_id].rsplit("/", 1)[-1] for r in rows] == ["e-1", "e-2", "e-3"]
    assert all(r[C.status] == "SUCCEEDED" and r[C.duration_ms] == 2500 for r in rows)


def test_gcloud_json_lists_of_executions_and_workflows_are_read(tmp_path):
    """`gcloud workflows executions list --format=json` (and `gcloud workflows list`) print a
    top-level JSON array of resources; the import refused it as "unknown format" though the same
    list as YAML was read. A bad item is skipped by its line."""
    import yaml

    executions = [yaml.safe_load(DESCRIBE_YAML.format(end="'2026-11-01T10:00:02.623456789Z'",
                                                      name=GCP_EXEC.format(f"e-{n}"))) for n in (1, 2)]
    listed = tmp_path / "executions.json"
    listed.write_text(json.dumps([*executions, {"name": "not-a-resource"}], indent=2))
    workflows = tmp_path / "workflows.json"
    workflows.write_text(json.dumps([{"name": GCP_EXEC.split("/executions/")[0], "revisionId": "000001-abc",
                                      "sourceContents": "main:\n  steps:\n    - done:\n        return: 1\n",
                                      "updateTime": "2026-11-01T09:00:00Z"}]))
    store = tmp_path / "store"
    result, text = run_import(store, str(listed), str(workflows))
    assert result.exit_code == 0, result.output
    assert "1 gcp.executions" in text and "1 gcp.workflow" in text
    rows = sorted(Store.open(store).read_rows("executions"), key=lambda r: r[C.execution_id])
    assert [r[C.execution_id].rsplit("/", 1)[-1] for r in rows] == ["e-1", "e-2"]
    assert f"executions.json: line {line_of(listed, 'not-a-resource') - 1}: not an execution resource name" in text
    assert [r[C.name] for r in Store.open(store).read_rows("workflows")] == ["orders"]


def test_yaml_that_is_broken_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstate: [unclosed\n")
    result, text = run_import(tmp_path / "store", str(bad))
    assert result.exit_code == ExitCode.USAGE
    assert "bad.yaml: line" in text


# ---------------------------------------------------------------- item 8: re-import

def test_reimporting_unchanged_files_says_nothing_new_and_rewrites_nothing(tmp_path):
    one = write_history(tmp_path / "one.json", history_events())
    store = tmp_path / "store"
    result, text = run_import(store, "--execution-arn", ARN, str(one))
    assert result.exit_code == 0 and "1 new" in text
    versions = {t: v for t, v in Store(store).version().items() if t != "collection_runs"}
    result, text = run_import(store, "--execution-arn", ARN, str(one))
    assert result.exit_code == 0, result.output
    assert "nothing new: 1 execution(s) already stored unchanged" in text
    assert {t: v for t, v in Store(store).version().items() if t != "collection_runs"} == versions
    changed = write_history(tmp_path / "changed.json", history_events(cause="another cause"))
    result, text = run_import(store, "--execution-arn", ARN, str(changed))
    assert result.exit_code == 0 and "1 changed" in text
    assert Store.open(store).read_rows("executions")[0][C.cause] == "another cause"


# ---------------------------------------------------------------- a refused import creates no store

def _only_skipped(path: Path) -> Path:
    records = log_records()
    for record in records:
        del record["type"]
    return write_jsonl(path, records)


@pytest.mark.parametrize("make, code", [
    (lambda path: (path.write_text('{"events": [{"id": 1,'), path)[1], ExitCode.USAGE),   # not JSON
    (lambda path: (path.write_text('{"hello": "world"}'), path)[1], ExitCode.USAGE),      # unknown format
    (_only_skipped, ExitCode.NO_DATA),                                                   # nothing usable
])
def test_a_refused_import_into_a_new_path_leaves_no_folder_behind(tmp_path, make, code):
    bad = make(tmp_path / "bad.json")
    new = tmp_path / "new"
    result, text = run_import(new, str(bad))
    assert result.exit_code == code, result.output
    assert "bad.json" in text or "nothing imported" in text
    assert not new.exists()
    deeper = tmp_path / "a" / "b" / "new"
    result, _ = run_import(deeper, str(bad))
    assert result.exit_code == code and not (tmp_path / "a").exists()


def test_a_good_import_into_a_new_path_creates_the_store(tmp_path):
    good = write_history(tmp_path / "good.json", history_events())
    new = tmp_path / "a" / "new"
    result, _ = run_import(new, "--execution-arn", ARN, str(good))
    assert result.exit_code == 0, result.output
    assert [r[C.execution_id] for r in Store.open(new).read_rows("executions")] == [ARN]


def test_import_files_takes_a_path_and_creates_the_store_only_to_write(tmp_path):
    from flowscope.collectors.importer import NothingImportedError, import_files

    bad = _only_skipped(tmp_path / "bad.jsonl")
    with pytest.raises(NothingImportedError):
        import_files(tmp_path / "lib", [bad])
    assert not (tmp_path / "lib").exists()
    opened: list[Path] = []

    def factory() -> Store:
        opened.append(tmp_path / "lib")
        return Store(tmp_path / "lib")
    with pytest.raises(NothingImportedError):
        import_files(factory, [bad])
    assert opened == [] and not (tmp_path / "lib").exists()
    good = write_history(tmp_path / "good.json", history_events())
    result = import_files(tmp_path / "lib", [good], execution_id=ARN)
    assert result.written["executions"] == 1 and Store.open(tmp_path / "lib").has_data()


def test_a_store_path_that_is_a_file_is_an_error_naming_it(tmp_path):
    good = write_history(tmp_path / "good.json", history_events())
    taken = tmp_path / "taken"
    taken.write_text("not a store")
    result, text = run_import(taken, "--execution-arn", ARN, str(good))
    assert result.exit_code == ExitCode.USAGE, result.output
    assert str(taken) in text and "nothing was written" in text
    assert taken.read_text() == "not a store"


# ---------------------------------------------------------------- numbers no column can hold

GCP_WF = "projects/p1/locations/europe-west1/workflows/zahlung"
AZ_RUN = ("/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Logic/workflows/orders/runs/R1")


def _gcp_execution(name: str, **extra) -> dict:
    return {"name": f"{GCP_WF}/executions/{name}", "startTime": "2026-11-20T10:00:00Z",
            "state": "ACTIVE", **extra}


def _gcp_step(entry: int, **meta) -> dict:
    return {"name": f"{GCP_WF}/executions/e1/stepEntries/{entry}", "step": "call_api",
            "stepType": "STEP_CALL", "state": "STATE_FAILED", "entryId": str(entry),
            "createTime": f"2026-11-20T10:00:0{entry}Z", "updateTime": f"2026-11-20T10:00:0{entry}.5Z",
            "stepEntryMetadata": {"progressType": "PROGRESS_TYPE_RETRY", **meta}}


def _azure_repetition(index) -> dict:
    return {"id": f"{AZ_RUN}/actions/Call/repetitions/000001", "name": "000001",
            "properties": {"repetitionIndexes": [{"scopeName": "For_each", "itemIndex": index}],
                           "startTime": "2026-11-20T10:00:00Z", "endTime": "2026-11-20T10:00:01Z",
                           "status": "Succeeded"}}


def _record_start(path: Path, needle: str) -> int:
    """The line of the `{` opening the array element (at depth 2 under indent=2) holding `needle`."""
    lines = path.read_text().splitlines()
    number = line_of(path, needle)
    while lines[number - 1] != "    {":
        number -= 1
    return number


@pytest.mark.parametrize("bad_duration", ["1e30s", "1e400s"])
def test_numbers_beyond_the_columns_skip_their_record_by_line_not_the_import(tmp_path, bad_duration):
    """A hand-edited number no column holds (a duration of 1e30 s, a retry number of 23 digits, a
    loop index beyond 32 bits) used to fail the whole import at the store ("column 'attempt' expects
    int32", no file named) or with the file but no line; now that record is skipped by line."""
    execs = tmp_path / "executions.json"
    execs.write_text(json.dumps({"executions": [
        _gcp_execution("e1"), _gcp_execution("e2", duration=bad_duration)]}, indent=2))
    steps = tmp_path / "steps.json"
    steps.write_text(json.dumps({"stepEntries": [
        _gcp_step(1, progressNumber="1"), _gcp_step(2, progressNumber="9" * 23)]}, indent=2))
    reps = tmp_path / "repetitions.json"
    reps.write_text(json.dumps({"value": [_azure_repetition(0), _azure_repetition(2 ** 40)]}, indent=2))
    store = tmp_path / "store"
    result, text = run_import(store, str(execs), str(steps), str(reps))
    assert result.exit_code == 0, result.output
    assert f"{execs}: line {_record_start(execs, bad_duration)}: bad execution: duration" in text
    assert f"{steps}: line {_record_start(steps, '9' * 23)}: bad step entry: progressNumber" in text
    assert f"{reps}: line {_record_start(reps, str(2 ** 40))} " in text
    assert "3 record(s) skipped" in text
    s = Store.open(store)
    assert [r[C.name] for r in s.read_rows("executions")] == ["e1"]
    assert [(r[C.step_key], r[C.attempt]) for r in s.read_rows("attempts", "cloud = 'gcp'")] == [("1", 1)]
    assert [r[C.iteration] for r in s.read_rows("steps", "cloud = 'azure'")] == [0]


def test_trigger_polls_that_started_no_run_are_not_said_to_wait_for_their_run(tmp_path):
    """Trigger histories of polls that fired nothing are billed rows with no run, ever. Importing
    them with the runs list used to warn "2 execution(s) have steps or usage but no run record ...
    import the runs list": advice about runs that do not exist. Only a fired history whose run is
    missing is said."""
    wf = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Logic/workflows/orders"
    runs = tmp_path / "runs.json"
    runs.write_text(json.dumps({"value": [{"id": f"{wf}/runs/R1", "name": "R1", "properties": {
        "startTime": "2026-11-20T06:00:00Z", "endTime": "2026-11-20T06:00:10Z", "status": "Succeeded",
        "trigger": {"name": "manual", "startTime": "2026-11-20T06:00:00Z", "status": "Succeeded"}}}]}))

    def history(name: str, fired: bool, run: str | None = None) -> dict:
        props = {"startTime": "2026-11-20T05:00:00Z", "endTime": "2026-11-20T05:00:01Z",
                 "status": "Succeeded" if fired else "Skipped", "fired": fired}
        if run:
            props["run"] = {"id": f"{wf}/runs/{run}", "name": run}
        return {"id": f"{wf}/triggers/manual/histories/{name}", "name": name, "properties": props}

    polls = tmp_path / "histories.json"
    polls.write_text(json.dumps({"value": [history("R1", True, "R1"), history("P1", False), history("P2", False)]}))
    result, text = run_import(tmp_path / "store", str(runs), str(polls))
    assert result.exit_code == 0, result.output
    assert "no run record" not in text
    said = " ".join(text.split())
    assert "1 new, 0 changed, 0 unchanged execution(s), 2 trigger poll(s) that started no run" in said, said
    assert len(Store.open(tmp_path / "store").read_rows("usage")) == 3       # the polls are still billed
    fired = tmp_path / "fired.json"
    fired.write_text(json.dumps({"value": [history("R9", True, "R9"), history("P3", False)]}))
    result, text = run_import(tmp_path / "store", str(fired))
    assert "1 execution(s) have steps or usage but no run record" in text


def _system_log(ts: str, execution: str, **payload) -> dict:
    return {"resource": {"type": "workflows.googleapis.com/Workflow",
                         "labels": {"project_id": "p1", "location": "us-central1", "workflow_id": "wf"}},
            "timestamp": ts, "labels": {"workflows.googleapis.com/execution_id": execution},
            "jsonPayload": {"@type": "type.googleapis.com/google.cloud.workflows.type.ExecutionsSystemLog",
                            "activityTime": ts, **payload}}


def test_gcp_system_logs_split_across_files_give_the_execution_its_end(tmp_path):
    """A Cloud Logging sink writes hourly files: an execution started at 10:59 ends in the 11:00 file.
    Its end used to be skipped ("end logged without its start in this document") and the run stayed
    RUNNING for ever, whether both files were imported together or one after the other."""
    first = write_jsonl(tmp_path / "10.json", [
        _system_log("2026-11-20T10:59:00Z", "x1", state="ACTIVE", start={"argument": "{}"}),
        _system_log("2026-11-20T10:59:30Z", "x2", state="ACTIVE", start={"argument": "{}"}),
        _system_log("2026-11-20T10:59:40Z", "x2", state="SUCCEEDED", success={"result": "1"})])
    second = write_jsonl(tmp_path / "11.json", [
        _system_log("2026-11-20T11:00:20Z", "x1", state="FAILED",
                    failure={"exception": json.dumps({"message": "boom"}), "source": "step1"})])

    def runs(store: Path) -> dict:
        return {r[C.name]: (r[C.status], r[C.started_at], r[C.duration_ms])
                for r in Store.open(store).read_rows("executions")}

    expected = {"x1": ("FAILED", START.replace(minute=59), 80_000),
                "x2": ("SUCCEEDED", START.replace(minute=59, second=30), 10_000)}
    for order in ([second, first], [first, second]):
        result, text = run_import(tmp_path / f"together-{order[0].stem}", *map(str, order))
        assert result.exit_code == 0, result.output
        assert "skipped" not in text
        assert runs(tmp_path / f"together-{order[0].stem}") == expected
    run_import(tmp_path / "apart", str(first))
    result, text = run_import(tmp_path / "apart", str(second))
    assert result.exit_code == 0 and "skipped" not in text, result.output
    assert runs(tmp_path / "apart") == expected
    # an end whose start nobody has is still said, and writes nothing (no store folder either)
    result, text = run_import(tmp_path / "alone", str(second))
    assert result.exit_code == ExitCode.NO_DATA
    assert "end logged without its start" in text and not (tmp_path / "alone").exists()


def test_a_conflicting_duplicate_gcp_step_entry_is_reported_by_line_and_the_first_kept(tmp_path):
    """The README's rule for a second record under an id already seen with different content (the
    first is kept, the second reported with its line) held for AWS events only: a hand-edited GCP
    stepEntries export with entry 1 twice silently took the second one (SUCCEEDED became FAILED)."""
    ok = _gcp_step(1, progressNumber="1")
    ok.update(state="STATE_SUCCEEDED", stepType="STEP_ASSIGN", step="init")
    ok.pop("stepEntryMetadata")
    edited = {**ok, "state": "STATE_FAILED", "exception": {"payload": json.dumps({"message": "edited"})}}
    path = tmp_path / "steps.json"
    path.write_text(json.dumps({"stepEntries": [ok, dict(ok), edited]}, indent=2))
    result, text = run_import(tmp_path / "store", str(path))
    assert result.exit_code == 0, result.output
    assert f"{path}: line {_record_start(path, 'edited')}: step entry 1 of" in text
    assert "already seen with different content (the first is kept)" in text
    assert "1 record(s) skipped" in text                  # the identical copy is no skip
    rows = Store.open(tmp_path / "store").read_rows("steps")
    assert [(r[C.step_key], r[C.status], r[C.error]) for r in rows] == [("1", "SUCCEEDED", None)]


def test_credentials_quoted_in_error_texts_are_not_stored(tmp_path):
    """A failed HTTP action's error quotes the URL it called: a Logic Apps callback URL's `sig` (whoever
    holds it can run that workflow), an Azure Functions `code`. They were stored, and shown in reports,
    exports and chat messages as they came. The store keeps the texts without them, and a re-import of
    the same file still finds the execution unchanged."""
    wf = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Logic/workflows/orders"
    secret = "Zk9mR2x4bVRzS2Vj"
    message = (f"POST https://prod-07.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke"
               f"?api-version=2016-10-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={secret} returned 502; then "
               f"https://fn.azurewebsites.net/api/x?code={secret}== and Authorization: Bearer {secret}.{secret}")
    runs = tmp_path / "runs.json"
    runs.write_text(json.dumps({"value": [{"id": f"{wf}/runs/R1", "name": "R1", "properties": {
        "startTime": "2026-11-20T06:00:00Z", "endTime": "2026-11-20T06:00:10Z", "status": "Failed",
        "error": {"code": "BadGateway", "message": message},
        "trigger": {"name": "manual", "startTime": "2026-11-20T06:00:00Z", "status": "Succeeded"}}}]}))
    result, _ = run_import(tmp_path / "store", str(runs))
    assert result.exit_code == 0, result.output
    [row] = Store.open(tmp_path / "store").read_rows("executions")
    stored = " ".join(str(row[c]) for c in ("error", "cause"))
    assert secret not in stored, stored
    assert "sig=REDACTED" in stored and "code=REDACTED" in stored and "Bearer REDACTED" in stored
    assert "api-version=2016-10-01" in stored                       # what is not a credential stays
    again, text = run_import(tmp_path / "store", str(runs))
    assert again.exit_code == 0 and "nothing new: 1 execution(s) already stored unchanged" in text, text


def test_an_empty_execution_arn_says_so(tmp_path):
    """`--execution-arn "$ARN"` with ARN unset read as no ARN: "get-execution-history output does not name
    its execution ... import each history with --execution-arn ARN", which the command line had."""
    history = write_history(tmp_path / "h.json", history_events())
    result, text = run_import(tmp_path / "s", "--execution-arn", " ", str(history))
    assert result.exit_code == ExitCode.USAGE, result.output
    assert '--execution-arn is empty (an unset variable in --execution-arn "$VAR"?)' in text, text
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(("key", "value"), [("stopDate", "yesterday-ish"), ("redriveCount", "lots"),
                                            ("billingDetails", "n/a"), ("status", ["SUCCEEDED"]),
                                            ("startDate", {"at": 1})])
def test_a_bad_field_of_a_paired_describe_names_the_describe_file(tmp_path, store_with_data, key, value):
    """A describe-execution paired with its history, holding a value no timestamp, count or status
    reads as: the error named the history file ("history.json: document: could not be read as
    aws.history: ValueError: Invalid isoformat string"), which was fine; the describe file is the one
    to fix."""
    running = history_events()[:2]                                 # still running: the describe's end is read
    history = write_history(tmp_path / "history.json", running)
    describe = tmp_path / "describe.json"
    describe.write_text(json.dumps({**_describe(ARN, status="SUCCEEDED"), key: value}, indent=2))
    before = Store.open(store_with_data).version()
    result, text = run_import(store_with_data, str(history), str(describe))
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"{describe}: {key}:" in text, text
    assert "could not be read as" not in text, text
    assert Store.open(store_with_data).version() == before


def test_one_execution_arn_for_several_histories_is_refused(tmp_path, store_with_data):
    """`--execution-arn ARN h1.json h2.json`: each history was stored as that one execution, the last
    read replacing the others ("1 new execution"): all but one history lost without a word."""
    later = [dict(ev, timestamp=_ts(60_000 + i * 100)) for i, ev in enumerate(history_events())]
    paths = [write_history(tmp_path / "h1.json", history_events()), write_history(tmp_path / "h2.json", later)]
    before = Store.open(store_with_data).version()
    result, text = run_import(store_with_data, "--execution-arn", ARN, *map(str, paths))
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "h1.json" in text and "h2.json" in text and "--execution-arn" in text, text
    assert Store.open(store_with_data).version() == before
    result, _ = run_import(store_with_data, "--execution-arn", ARN, str(paths[0]))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("key", ["nextToken", "NextToken"])
def test_a_page_of_a_history_is_said_to_be_one(tmp_path, key):
    """`get-execution-history --max-items 2` (or one API page) ends with a token for the rest: imported as
    if whole, the run read as running (or, with its describe, finished with steps missing), unsaid."""
    path = tmp_path / "page.json"
    path.write_text(json.dumps({"events": history_events()[:2], key: "eyJuZXh0VG9rZW4iOiBudWxsfQ=="}))
    result, text = run_import(tmp_path / "store", "--execution-arn", ARN, str(path))
    assert result.exit_code == 0, result.output
    assert f"warning: {path}: " in text and "one page" in text and "--max-items" in text, text


def test_a_page_of_filter_log_events_output_is_said_to_be_one(tmp_path):
    """`aws logs filter-log-events --max-items` output ends with a token for the rest: the executions whose
    records go on in the next page were stored cut short, unsaid."""
    events = [{"eventId": str(i), "timestamp": 1, "logStreamName": "s", "message": json.dumps(r)}
              for i, r in enumerate(log_records()[:2])]
    path = tmp_path / "logs-page.json"
    path.write_text(json.dumps({"events": events, "searchedLogStreams": [], "nextToken": "abc"}))
    result, text = run_import(tmp_path / "store", str(path))
    assert result.exit_code == 0, result.output
    assert f"warning: {path}: " in text and "one page" in text, text


AZURE_RUNS = Path("/work/shared/samples/azure/WorkflowRuns_List.json")


@pytest.mark.parametrize("kind", ["log records", "azure runs"])
def test_an_execution_arn_no_file_can_use_is_refused_before_anything_is_written(tmp_path, kind):
    """`--execution-arn ARN` names the execution of a bare get-execution-history. Given with CloudWatch log
    records or an Azure runs list, it was ignored without a word (exit 0): the user who meant a history
    and passed the wrong file read "1 new execution" as done. It is exit 2 naming the flag and the formats
    read, and no store is made."""
    if kind == "log records":
        path = write_jsonl(tmp_path / "records.jsonl", log_records())
    else:
        path = tmp_path / "runs.json"
        path.write_text(json.dumps(json.loads(AZURE_RUNS.read_text())["responses"]["200"]["body"]))
    store = tmp_path / "store"
    result, text = run_import(store, "--execution-arn", ARN2, str(path))
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "--execution-arn" in text and "no file here is one" in text and "nothing was written" in text, text
    assert not store.exists()
    result, text = run_import(store, str(path))        # the same files without it: imported
    assert result.exit_code == ExitCode.OK, result.output


def test_an_execution_arn_with_its_history_among_other_files_is_used(tmp_path):
    history = write_history(tmp_path / "history.json", history_events())
    records = write_jsonl(tmp_path / "records.jsonl", log_records(ARN))
    result, text = run_import(tmp_path / "store", "--execution-arn", ARN2, str(history), str(records))
    assert result.exit_code == ExitCode.OK, result.output
    ids = {r[C.execution_id] for r in Store.open(tmp_path / "store").read_rows("executions")}
    assert ids == {ARN, ARN2}


def test_a_forced_format_in_any_case_is_that_format(tmp_path):
    """`import --format AWS.History` was "unknown format 'AWS.History'; formats: ..., aws.history, ...", while
    every other command reads its flag words in any case (`--format JSON`, `--fail-on High`)."""
    history = write_history(tmp_path / "history.json", history_events())
    result, text = run_import(tmp_path / "store", "--format", " AWS.History", "--execution-arn", ARN, str(history))
    assert result.exit_code == ExitCode.OK, result.output
    assert "1 aws.history" in text, text


def test_a_blank_forced_format_is_refused(tmp_path):
    """`import --format "$FMT"` with FMT unset detected the format as if no --format were given (exit 0),
    where a blank --execution-arn, --cloud or --workflow is exit 2."""
    history = write_history(tmp_path / "history.json", history_events())
    result, text = run_import(tmp_path / "store", "--format", " ", "--execution-arn", ARN, str(history))
    assert result.exit_code == ExitCode.USAGE and "--format is empty" in text, result.output
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("with_good_run", [True, False], ids=["imported", "nothing-imported"])
def test_skip_reasons_print_without_terminal_escapes_or_credentials(tmp_path, with_good_run):
    """A skip names its record by the text the file holds (a Logic Apps record's id) and by exception text
    quoting it; such a text was printed as it came, credentials included. An id holding an OSC escape and a
    `user:pass@` URL prints with neither, whether the import wrote something or nothing."""
    wf = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Logic/workflows/orders"
    bad = {"id": f"{wf}/runs/r\x1b]0;pwned\x07https://svc:Pa55w0rd@h.example/?sig=Zk9mR2x4bVRz",
           "name": "r", "type": "Microsoft.Logic/workflows/runs", "properties": {"status": "Failed"}}
    good = {"id": f"{wf}/runs/ok", "name": "ok", "type": "Microsoft.Logic/workflows/runs",
            "properties": {"status": "Succeeded", "startTime": "2026-11-20T10:00:00Z",
                           "endTime": "2026-11-20T10:00:01Z"}}
    path = tmp_path / "runs.json"
    path.write_text(json.dumps({"value": [good, bad] if with_good_run else [bad]}))
    result, text = run_import(tmp_path / "store", str(path))
    assert result.exit_code == (0 if with_good_run else ExitCode.NO_DATA), result.output
    assert "skipped" in text and "run without startTime" in text, text
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "Pa55w0rd" not in result.output and "Zk9mR2x4bVRz" not in result.output, result.output
    assert "https://REDACTED@h.example/?sig=REDACTED" in text, text


def _azure_actions() -> dict:
    from tests.azure.test_transform_azure import SAMPLES

    return json.loads((SAMPLES / "WorkflowRunActions_List.json").read_text())["responses"]["200"]["body"]


@pytest.mark.parametrize("make, key, index", [
    (lambda g: _retyped({"executions": g.EXECUTIONS}, "executions", 1, ("startTime",), 12345), "executions", 1),
    (lambda g: _retyped({"stepEntries": g.ENTRIES}, "stepEntries", 2, ("createTime",), "1764900000000"),
     "stepEntries", 2),
    (lambda g: _retyped(_azure_runs(), "value", 1, ("properties", "startTime"), 12345), "value", 1),
    (lambda g: _retyped(_azure_actions(), "value", 0, ("properties", "endTime"), 1764900000.5), "value", 0),
], ids=["gcp-execution-start", "gcp-step-entry-created", "azure-run-start", "azure-action-end"])
def test_a_time_given_as_a_number_skips_its_record_by_line(tmp_path, make, key, index):
    """Azure and GCP give times as RFC 3339 text; a number there was read as epoch milliseconds, as AWS's are:
    an export with `startTime: 12345` stored a run started in 1970 and 57 years long, with no word. It is now
    skipped with its line, the rest imported."""
    from tests.gcp import test_transform as g

    path = tmp_path / "export.json"
    path.write_text(json.dumps(make(g), indent=2))
    result, text = run_import(tmp_path / "store", str(path))
    assert result.exit_code in (0, ExitCode.NO_DATA), result.output
    starts = [n for n, t in enumerate(path.read_text().splitlines(), 1) if t == " " * (4 if key else 2) + "{"]
    assert f"export.json: line {starts[index]}" in text and "not RFC 3339 text" in text, text
    assert "1 record(s) skipped" in text
    if result.exit_code == 0:
        s = Store(tmp_path / "store")
        for table in ("executions", "steps", "attempts"):
            early = s.sql(f"SELECT count(*) AS n FROM {table} WHERE started_at < TIMESTAMPTZ '2000-01-01'")
            assert int(early["n"].iloc[0]) == 0, table


@pytest.mark.parametrize("field", ["id", "previous_event_id"])
@pytest.mark.parametrize("layout", ["jsonl", "json"])
def test_a_log_record_id_beyond_any_number_is_skipped_by_line(tmp_path, field, layout):
    """An event id of `1e400` (read as an infinite float) was "OverflowError - a bug in flowscope" (exit 5) in a
    JSON Lines file, where the bounded-memory reader keys each record by its id, and refused the whole file
    ("could not be read as aws.log_records: OverflowError", no line) read whole; a NaN id was already a skip."""
    records = log_records()
    lines = [json.dumps(r) for r in records]
    lines[2] = lines[2].replace(f'"{field}": "{records[2][field]}"', f'"{field}": 1e400')
    assert "1e400" in lines[2]
    path = tmp_path / f"logs.{layout}"
    path.write_text("\n".join(lines) + "\n" if layout == "jsonl" else "[\n" + ",\n".join(lines) + "\n]\n")
    result, text = run_import(tmp_path / "store", str(path))
    assert result.exit_code == 0, result.output
    assert f"{path}: line {3 if layout == 'jsonl' else 4}" in text and "1 record(s) skipped" in text, text
    assert [r[C.execution_id] for r in Store.open(tmp_path / "store").read_rows("executions")] == [ARN]


def test_a_history_event_id_beyond_any_number_is_skipped_by_line(tmp_path):
    """The same in a get-execution-history file: `"id": 1e400` refused the whole file, no line named."""
    path = write_history(tmp_path / "history.json", history_events())
    path.write_text(path.read_text().replace('"id": 3,', '"id": 1e400,'))
    result, text = run_import(tmp_path / "store", "--execution-arn", ARN, str(path))
    assert result.exit_code == 0, result.output
    line = line_of(path, '"id": 1e400')
    assert (f"{path}: line {line - 1}" in text or f"{path}: line {line}" in text) and "1 record(s) skipped" in text


@pytest.mark.parametrize("key", ["previous", "parent"])
def test_a_gcp_step_entry_link_beyond_any_number_does_not_refuse_the_file(tmp_path, key):
    """A step entry's `navigationInfo.previous` or `parent` of `1e400` refused the whole stepEntries file
    ("could not be read as gcp.step_entries: OverflowError", no line); a link that is no number is kept as text."""
    first, second = _gcp_step(1), _gcp_step(2)
    second["navigationInfo"] = {key: 1}
    path = tmp_path / "steps.json"
    path.write_text(json.dumps({"stepEntries": [first, second]}, indent=2).replace(f'"{key}": 1', f'"{key}": 1e400'))
    result, text = run_import(tmp_path / "store", str(path))
    assert result.exit_code == 0, result.output
    assert sorted(r[C.step_key] for r in Store.open(tmp_path / "store").read_rows("steps")) == ["1", "2"]


def test_a_folder_that_cannot_be_read_is_an_error_not_left_out(tmp_path, monkeypatch):
    """`flowscope import exports/` with a subfolder it may not list (another user's, mode 700) said
    "imported 1 file(s)", exit 0: the folder walk passed over it without a word, so its files were never
    read. It is now exit 2 naming the folder, nothing written; a hidden folder is left out unread, as before."""
    import os

    exports = tmp_path / "exports"
    (exports / "locked").mkdir(parents=True)
    (exports / ".cache").mkdir()
    write_history(exports / "run-1.json", history_events())
    write_history(exports / "locked" / "run-2.json", history_events())
    real_scandir = os.scandir

    def scandir(path="."):
        if not isinstance(path, int) and Path(path).name in ("locked", ".cache"):  # as if unreadable, even to root
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    store = tmp_path / "store"
    result, text = run_import(store, "--execution-arn", ARN, str(exports))
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"{exports / 'locked'}: folder: cannot be read: Permission denied" in text, text
    assert "nothing was written" in text and not store.exists()
    (exports / "locked" / "run-2.json").unlink()
    (exports / "locked").rmdir()
    result, text = run_import(store, "--execution-arn", ARN, str(exports))
    assert result.exit_code == 0 and "imported 1 file(s)" in text, result.output


@pytest.mark.parametrize("kind", ["broken link", "pipe"])
def test_a_folder_entry_that_is_no_file_is_an_error_not_left_out(tmp_path, kind):
    """A symbolic link to nothing, or a named pipe, in an imported folder was left out without a word ("imported
    1 file(s)", exit 0): each is now exit 2 naming it, as the same path named on the command line is."""
    import os

    exports = tmp_path / "exports"
    exports.mkdir()
    write_history(exports / "run-1.json", history_events())
    odd = exports / "run-2.json"
    if kind == "broken link":
        odd.symlink_to(tmp_path / "moved-away.json")
    else:
        os.mkfifo(odd)
    store = tmp_path / "store"
    result, text = run_import(store, "--execution-arn", ARN, str(exports))
    assert result.exit_code == ExitCode.USAGE, result.output
    said = "a symbolic link to nothing" if kind == "broken link" else "not a regular file"
    assert f"{odd}: file: {said}" in text, text
    assert "nothing was written" in text and not store.exists()


def test_a_linked_folder_in_an_imported_folder_is_read_once(tmp_path):
    """A symbolic link to a folder (an archive mounted elsewhere) was left out without a word; it is read, and a
    link back up the tree is not walked again (no loop, no file twice)."""
    exports, archive = tmp_path / "exports", tmp_path / "archive"
    exports.mkdir()
    archive.mkdir()
    write_history(exports / "run-1.json", history_events())
    write_history(archive / "run-2.json", history_events())
    (exports / "2026-11").symlink_to(archive, target_is_directory=True)
    (archive / "up").symlink_to(exports, target_is_directory=True)       # a loop
    result, text = run_import(tmp_path / "store", "--execution-arn", ARN, str(exports))
    assert result.exit_code == 0, result.output
    assert "imported 2 file(s)" in text, text
