"""An empty path flag (`--out "$OUT"` with OUT unset) is a usage error naming the flag: Typer reads ""
as ".", so reports were written into the working folder and `import ""` read every file under it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from flowscope.store import Store

runner = CliRunner()


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(("command", "flag"), [
    (["report", "--no-history", "--format", "csv", "--out", ""], "--out"),
    (["report", "--no-history", "--out", " "], "--out"),
    (["run", "--no-sync", "--no-notify", "--format", "md", "--report-dir", ""], "--report-dir"),
])
def test_an_empty_output_path_is_a_usage_error_not_the_working_folder(tmp_path, monkeypatch, command, flag):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    Store(tmp_path / "store")
    result = runner.invoke(app, [*command, "--store", str(tmp_path / "store")])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f'{flag} is empty (an unset variable in {flag} "$VAR"?)' in flat(result.output), result.output
    assert list(work.iterdir()) == []


def test_an_empty_import_path_is_a_usage_error_not_the_working_folder(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.json").write_text("[]")
    monkeypatch.chdir(work)
    result = runner.invoke(app, ["import", "--store", str(tmp_path / "store"), str(work / "notes.json"), ""])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "a file to import is empty" in flat(result.output), result.output
    assert not (tmp_path / "store").exists()


def test_an_empty_title_is_a_usage_error_not_a_blank_heading(tmp_path, monkeypatch):
    """`--title "$TITLE"` with TITLE unset wrote a report headed "# " (an untitled page in the browser)."""
    monkeypatch.chdir(tmp_path)
    Store(tmp_path / "store")
    result = runner.invoke(app, ["report", "--no-history", "--out", str(tmp_path / "r.md"), "--title", " ",
                                 "--store", str(tmp_path / "store")])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert '--title is empty (an unset variable in --title "$VAR"?)' in flat(result.output), result.output
    assert not (tmp_path / "r.md").exists()
