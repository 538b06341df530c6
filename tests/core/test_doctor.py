"""`flowscope doctor` on a store with one table's file gone: the message names that table and the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from flowscope.store import Store
from tests.store.helpers import batch, scramble_data_pages

runner = CliRunner()


@pytest.mark.parametrize("table", ["executions", "steps"])
def test_doctor_names_the_one_table_whose_file_is_gone(tmp_path: Path, table: str) -> None:
    """A deleted file of `steps` was said as "a Parquet file of executions, steps, workflows cannot be
    read": the user went looking in three tables for one file."""
    path = tmp_path / "store"
    Store(path).write(batch(range(6)))
    files = sorted((path / table).rglob("*.parquet"))
    files[0].unlink()
    result = runner.invoke(app, ["doctor", "--store", str(path)])
    assert result.exit_code == ExitCode.USAGE, result.output
    said = " ".join(result.output.split())
    assert f"a Parquet file of {table} cannot be read" in said, said
    assert files[0].name in result.output
    assert "LINE 1:" not in said and "^^^" not in said, said      # DuckDB's query and caret buried the file


@pytest.fixture()
def damaged(tmp_path: Path) -> tuple[Path, Path]:
    path = tmp_path / "store"
    Store(path).write(batch(range(40)))
    [file, *_] = sorted((path / "steps").rglob("*.parquet"), key=lambda f: -f.stat().st_size)
    scramble_data_pages(file)
    return path, file


def test_a_damaged_data_page_is_a_damaged_store_naming_the_file(damaged: tuple[Path, Path]) -> None:
    """Scrambled data pages of one file (a disk error, a partial copy): `analyze` exited 5, "a bug in
    flowscope", with DuckDB's "don't know what type", naming no file; `doctor` said healthy."""
    path, file = damaged
    result = runner.invoke(app, ["analyze", "--store", str(path), "--since", "2000-01-01"])
    assert result.exit_code == ExitCode.USAGE, result.output
    said = " ".join(result.output.split())
    assert "is damaged" in said and file.name in said and "a Parquet file of steps" in said, said
    assert Store.open(path).row_counts(("steps",))["steps"] > 0         # what the other checks read is whole
    checked = runner.invoke(app, ["doctor", "--store", str(path), "--read-all"])
    assert checked.exit_code == ExitCode.USAGE and file.name in checked.output, checked.output


def test_an_engine_error_of_a_whole_store_stays_a_bug(tmp_path: Path) -> None:
    """Only a file that does not read is the store's fault: an engine error over a whole store is ours."""
    import duckdb

    path = tmp_path / "store"
    Store(path).write(batch(range(6)))
    store = Store.open(path)
    assert store.damaged_error(duckdb.BinderException("Binder Error: no column")) is None
    assert store.damaged_error(ValueError("not an engine error")) is None
    assert store.damaged_error(duckdb.Error("don't know what type")) is None     # every file reads whole
