"""`[report]` values, `run`'s window and where reports go: a value that cannot be used is exit 2 naming
the config file, its line and key (refused by the rule that refuses the matching flag), `run` says every
report it wrote, and no report lands among the store's own folders, its root included."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from tests.report.helpers import END, make_store

runner = CliRunner()
UNTIL = END.isoformat()
STAMP = f"{END:%Y-%m-%dT%H%MZ}"


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hardening") / "store"
    make_store(path, executions=60, failed_scope=False)
    return path


def config(tmp_path: Path, report: str) -> Path:
    path = tmp_path / "flowscope.toml"
    path.write_text(f"[report]\n{report}\n")
    return path


def run(store: Path, report_dir: Path, *args: str):
    return runner.invoke(app, ["run", "--store", str(store), "--report-dir", str(report_dir), "--no-sync",
                               "--no-notify", *args])


@pytest.mark.parametrize(("line", "said"), [
    ('title = ""', "[report] title is empty"),
    ('title = "   "', "[report] title is empty"),
    ('charts = ""', "[report] charts must be inline or cdn, not ''"),
    ('plotly = ""', "[report] plotly must be inline or cdn, not ''"),     # the former name, refused by its name
    ("formats = []", "[report] formats is empty"),
    ('since = "0d"', "[report] since: since '0d' is a window of no length"),
    ('since = "0h"', "[report] since: since '0h' is a window of no length"),
])
def test_a_report_value_the_flag_would_refuse_is_exit_2_at_its_line(store, tmp_path, line, said):
    """`title = ""` wrote a report headed "# " (and messages headed ": 3 finding(s)") while `--title ''` is
    exit 2; `plotly = ""` and `formats = []` fell back to inline and html in silence; `since = "0d"` was
    refused without the file and line the other bad `since` values name."""
    cfg = config(tmp_path, f'formats = ["md"]\n{line}' if "formats" not in line else line)
    line_no = 3 if "formats" not in line else 2
    for command in ("run", "doctor"):
        args = ["--report-dir", str(tmp_path / "out"), "--no-sync", "--no-notify"] if command == "run" else []
        result = runner.invoke(app, [command, "--config", str(cfg), "--store", str(store), *args])
        assert result.exit_code == ExitCode.USAGE, (command, result.output)
        assert f"config file {cfg}, line {line_no}: {said}" in flat(result.output), (command, result.output)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("flag", "said"), [
    ("--charts", "--charts must be inline or cdn, not ''"),
    ("--fail-on", "--fail-on must be one of critical"),
])
def test_run_refuses_an_empty_flag_rather_than_taking_the_default(store, tmp_path, flag, said):
    """`run --plotly ""` wrote plotly inline and `run --fail-on ""` failed on nothing, both exit 0, where
    `report` refuses them."""
    result = run(store, tmp_path / "out", "--until", UNTIL, "--format", "md", flag, "")
    assert result.exit_code == ExitCode.USAGE, result.output
    assert said in flat(result.output)
    assert not (tmp_path / "out").exists()


def test_a_configured_since_that_leaves_no_window_names_its_line(store, tmp_path):
    """A `[report] since` after the window's end said "the window is empty: ..." without the file or the
    line; a `--since` that does so keeps the flag's plain wording."""
    after = END.replace(hour=1).isoformat()
    cfg = config(tmp_path, f'formats = ["md"]\nsince = "{after}"')
    result = run(store, tmp_path / "out", "--config", str(cfg), "--until", UNTIL)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"config file {cfg}, line 3: [report] since: the window is empty: since" in flat(result.output)
    result = run(store, tmp_path / "out", "--config", str(cfg), "--until", UNTIL, "--since", after)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "error: the window is empty: since" in flat(result.output) and "config file" not in result.output
    assert not (tmp_path / "out").exists()


def test_run_lists_every_report_it_wrote_at_the_top_of_the_folder(store, tmp_path):
    """"reports written to r6: summary.csv, trend.csv, ..." named six files of the csv folder and neither
    the Markdown file nor the parquet folder written beside it."""
    out = tmp_path / "r6"
    result = run(store, out, "--until", UNTIL, "--format", "csv", "--format", "parquet", "--format", "md")
    assert result.exit_code in (ExitCode.OK, ExitCode.NO_DATA), result.output
    csv, parquet = (out / f"flowscope-{STAMP}-{fmt}" for fmt in ("csv", "parquet"))
    n_csv, n_parquet = len(list(csv.iterdir())), len(list(parquet.iterdir()))
    assert n_csv > 6 and n_parquet > 6
    said = flat(result.output)
    assert (f"reports written to {out}: {csv.name}/ ({n_csv} files), {parquet.name}/ ({n_parquet} files), "
            f"flowscope-{STAMP}.md") in said, said


def test_report_says_a_folder_of_tables_by_its_count_not_three_files_and_dots(store, tmp_path):
    out = tmp_path / "tables"
    result = runner.invoke(app, ["report", "--store", str(store), "--out", str(out), "--format", "csv",
                                 "--until", UNTIL, "--no-history"])
    assert result.exit_code in (ExitCode.OK, ExitCode.NO_DATA), result.output
    assert f"report written: {out}/ ({len(list(out.iterdir()))} files)" in flat(result.output), result.output


@pytest.mark.parametrize("command", ["report csv", "report md", "run"])
def test_a_report_into_the_stores_own_folder_is_exit_2(store, tmp_path, command):
    """`report --format csv --out STORE` wrote summary.csv and eight more beside the store's table folders
    (its subfolders were refused already); `run --report-dir STORE` and `--out STORE/r.md` did the same.
    `run` refuses it before its sync, as it refuses a --report-dir that is a file."""
    before = sorted(p.relative_to(store) for p in store.rglob("*"))
    if command == "run":
        result = run(store, store, "--until", UNTIL, "--format", "csv")
        named = store
    else:
        fmt = command.split()[1]
        named = store if fmt == "csv" else store / "r.md"
        result = runner.invoke(app, ["report", "--store", str(store), "--out", str(named), "--format", fmt,
                                     "--until", UNTIL])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"{named}: inside the store {store}" in flat(result.output), result.output
    assert "sync skipped" not in result.output          # run refuses it before its sync
    assert sorted(p.relative_to(store) for p in store.rglob("*")) == before


def test_the_former_plotly_key_with_charts_is_refused_at_its_line(store, tmp_path):
    """`plotly` is the former name of `charts`: one file giving both says which to keep, with the file and
    the line, rather than picking one in silence."""
    cfg = config(tmp_path, 'formats = ["md"]\ncharts = "inline"\nplotly = "cdn"')
    result = runner.invoke(app, ["run", "--config", str(cfg), "--store", str(store), "--report-dir",
                                 str(tmp_path / "out"), "--no-sync", "--no-notify"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "[report] plotly is the former name of [report] charts: give [report] charts only" in flat(result.output)
    assert not (tmp_path / "out").exists()
