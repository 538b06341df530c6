"""`flowscope doctor` on a store with one table's file gone: the message names that table and the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from flowscope.store import Store
from tests.store.helpers import batch

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
