"""`flowscope import` of documents built to hurt the reader: YAML aliases that expand without end,
bytes that are not UTF-8 in a file read whole. Each through the real command, on real files.

The YAML cases hung the import (hours, then memory), so they run the command in a child process
with a timeout: a hang fails the test instead of stopping the suite.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from flowscope.model import C
from flowscope.store import Store
from tests.core.test_import_hostile import ARN, history_events, log_records

runner = CliRunner(env={"COLUMNS": "400"})

HANG_SECONDS = 60
"""Far beyond what refusing these files takes (about a second, most of it the interpreter's start)."""

_CHILD = """\
import sys
from typer.testing import CliRunner
from flowscope.cli import app
result = CliRunner(env={"COLUMNS": "400"}).invoke(app, sys.argv[1:])
sys.stdout.write(result.output)
sys.exit(result.exit_code)
"""


def import_in_child(store: Path, *args: str) -> tuple[int, str]:
    """`flowscope import` in its own process, killed (and the test failed) when it hangs."""
    try:
        done = subprocess.run([sys.executable, "-c", _CHILD, "import", "--store", str(store), *args],
                              capture_output=True, text=True, timeout=HANG_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"flowscope import still running after {HANG_SECONDS} s: it hangs")
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done.returncode, " ".join(done.stdout.split())


def run_import(store: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["import", "--store", str(store), *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, " ".join(result.output.split())


# ---------------------------------------------------------------- YAML aliases

def alias_bomb(levels: int) -> str:
    """The "billion laughs" of YAML: each anchored list holds nine aliases of the one before, so a
    ~500-byte file reads as 9**levels strings."""
    names = "abcdefghijklmnopqrstuvwxyz"[:levels]
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"{name}: &{name} [{','.join([f'*{before}'] * 9)}]" for before, name in pairwise(names)]
    return "\n".join([*lines, f"executions: [*{names[-1]}]"]) + "\n"


def test_a_yaml_alias_bomb_is_refused_quickly_naming_the_file(tmp_path):
    """A 9-level alias bomb (9**9 strings from 341 bytes) kept `flowscope import` walking the same
    shared lists for hours. It is refused, naming the file and the line of the list that goes over
    the bound, and nothing is written."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb(9))
    store = tmp_path / "store"
    code, text = import_in_child(store, str(bomb))
    assert code == ExitCode.USAGE, text
    assert "bomb.yaml: line 6 column 4:" in text, text        # f: &f [...], the first list past the bound
    assert "aliases" in text and "100,000" in text and "nothing was written" in text, text
    assert not store.exists()


def test_a_yaml_alias_of_the_list_it_is_in_is_refused(tmp_path):
    """`&a [*a]`: a list that holds itself. The reader built it, and the import walked it for ever."""
    loop = tmp_path / "loop.yaml"
    loop.write_text("name: x\nexecutions: &a\n  - *a\n")
    store = tmp_path / "store"
    code, text = import_in_child(store, str(loop))
    assert code == ExitCode.USAGE, text
    assert "loop.yaml: line 2 column 13:" in text and "holds itself" in text, text
    assert not store.exists()


def test_the_alias_bound_counts_every_document_of_a_stream(tmp_path):
    """A ``---`` stream of small bombs, each far under the bound (9**4 strings): together they are over
    it, and refused. A bound per document would let a stream of many just under it through."""
    stream = tmp_path / "stream.yaml"
    stream.write_text("---\n".join(alias_bomb(4) for _ in range(1000)))
    code, text = import_in_child(tmp_path / "store", str(stream))
    assert code == ExitCode.USAGE, text
    assert "stream.yaml: line" in text and "aliases" in text, text


WORKFLOW_YAML = """\
# gcloud workflows executions list, with anchors and merge keys as a person writing it by hand uses them
executions:
- &first
  argument: '{}'
  createTime: '2026-11-01T10:00:00.123456789Z'
  duration: 2.500s
  endTime: '2026-11-01T10:00:02.623456789Z'
  name: projects/demo-project/locations/us-central1/workflows/orders/executions/e-1
  result: '"ok"'
  startTime: '2026-11-01T10:00:00.123456789Z'
  state: SUCCEEDED
  status: &status
    currentSteps:
    - routine: main
      step: done
  workflowRevisionId: 000001-abc
- <<: *first
  name: projects/demo-project/locations/us-central1/workflows/orders/executions/e-2
  status: *status
"""

DEFINITION_YAML = """\
name: projects/demo-project/locations/us-central1/workflows/orders
revisionId: 000001-abc
updateTime: '2026-11-01T09:00:00Z'
sourceContents: |
  main:
    steps:
      - init:
          assign: &vars
            - total: 0
      - again:
          assign: *vars
      - done:
          return: 1
"""


def test_yaml_with_a_few_anchors_and_aliases_still_imports(tmp_path):
    """What anchors are for (a shared mapping, a merge key; a workflow source using them) is read
    as before: the bound is far above what such files expand to."""
    executions = tmp_path / "executions.yaml"
    executions.write_text(WORKFLOW_YAML)
    workflow = tmp_path / "workflow.yaml"
    workflow.write_text(DEFINITION_YAML)
    store = tmp_path / "store"
    code, text = run_import(store, str(executions), str(workflow))
    assert code == 0, text
    rows = sorted(Store.open(store).read_rows("executions"), key=lambda r: r[C.execution_id])
    assert [r[C.execution_id].rsplit("/", 1)[-1] for r in rows] == ["e-1", "e-2"]
    assert all(r[C.status] == "SUCCEEDED" and r[C.duration_ms] == 2500 for r in rows)
    assert [r[C.name] for r in Store.open(store).read_rows("workflows")] == ["orders"]


# ---------------------------------------------------------------- bytes that are not UTF-8

def latin1_history(path: Path, *, gz: bool = False, bom: bool = False, indent: int | None = 2,
                   crlf: bool = False) -> tuple[int, int]:
    """A get-execution-history whose failure cause holds one Latin-1 byte (0xE9, "é"), ~4,000 bytes
    in; the (line, bytes before it on that line) of that byte."""
    events = history_events(cause="x" * 3000 + "caf\u00e9")
    text = json.dumps({"events": events}, indent=indent, ensure_ascii=False)
    data = (text.replace("\n", "\r\n") if crlf else text).encode().replace("\u00e9".encode(), b"\xe9")
    bad = data.index(b"\xe9")
    where = (data.count(b"\n", 0, bad) + 1, bad - (data.rfind(b"\n", 0, bad) + 1))
    data = b"\xef\xbb\xbf" + data if bom else data
    path.write_bytes(gzip.compress(data) if gz else data)
    return where


@pytest.mark.parametrize("gz, bom, indent, crlf", [
    (False, False, 2, False), (True, False, 2, False), (False, True, None, False), (False, False, 2, True)],
    ids=["json", "gzip", "bom-one-line", "crlf"])
def test_a_json_document_not_utf8_names_line_and_byte(tmp_path, gz, bom, indent, crlf):
    """A JSON document read whole said "latin1c.json: byte 3965: not UTF-8 text": the offset in the
    file, where the docs (and the streamed JSON Lines path) give a line. It names the line and the
    bytes before the bad one on that line (a byte order mark is not counted: editors do not show it;
    Windows line ends count as one line each)."""
    path = tmp_path / ("latin1c.json.gz" if gz else "latin1c.json")
    line, byte = latin1_history(path, gz=gz, bom=bom, indent=indent, crlf=crlf)
    assert line == (40 if indent else 1) and byte > 3000
    store = tmp_path / "store"
    code, text = run_import(store, "--execution-arn", ARN, str(path))
    assert code == ExitCode.USAGE, text
    assert f"{path.name}: line {line} byte {byte}: not UTF-8 text (nothing was written)" in text, text
    assert not store.exists()


@pytest.mark.parametrize("bad_line", [2, 5], ids=["read-whole", "streamed"])
def test_json_lines_not_utf8_name_the_same_place_read_whole_or_streamed(tmp_path, bad_line):
    """A JSON Lines file whose bad byte comes before its second record is read whole (its format is
    told from the records before it), after it streamed: both say `line N byte B` alike."""
    records = log_records() * 2
    records[bad_line - 1] = {**records[bad_line - 1], "details": {"cause": "caf\u00e9"}}
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode().replace(
        "\u00e9".encode(), b"\xe9")
    bad = data.index(b"\xe9")
    byte = bad - (data.rfind(b"\n", 0, bad) + 1)
    path = tmp_path / "records.jsonl"
    path.write_bytes(data)
    code, text = run_import(tmp_path / "store", str(path))
    assert code == ExitCode.USAGE, text
    assert f"records.jsonl: line {bad_line} byte {byte}: not UTF-8 text" in text, text


def test_a_yaml_error_after_leading_blank_lines_names_the_files_own_line(tmp_path):
    """The YAML was read from the text stripped of its leading blank lines, so every line it named was early by
    their number."""
    path = tmp_path / "lead.yaml"
    path.write_text("\n\n\nname: projects/p/locations/l/workflows/w/executions/e\nstate: SUCCEEDED\n  bad: [\n")
    code, text = run_import(tmp_path / "store", str(path))
    assert code == ExitCode.USAGE, text
    assert "lead.yaml: line 6 column" in text, text


def test_a_yaml_document_indented_as_a_whole_is_read(tmp_path):
    """Stripping the text took the first line's indent alone, and a mapping indented as a whole (as pasted from
    an indented block) failed to parse."""
    path = tmp_path / "indented.yaml"
    path.write_text("  name: projects/p/locations/l/workflows/w/executions/e1\n"
                    "  startTime: '2026-11-01T10:00:00.123456789Z'\n  state: SUCCEEDED\n"
                    "  workflowRevisionId: 000001-abc\n")
    code, text = run_import(tmp_path / "store", str(path))
    assert code == 0, text
    assert "1 new" in text, text
