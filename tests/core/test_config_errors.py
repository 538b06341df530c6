"""No silent all-clear in `sync` and `doctor`: an empty selection, a time that cannot be meant and a
config value of the wrong shape are usage errors (exit 2) naming the file and the key, never exit 0
and never exit 5 ("a bug in flowscope")."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from flowscope.model import UTC
from flowscope.timewindow import parse_since, parse_start, parse_window

runner = CliRunner()
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
GCP = '[[sources]]\ncloud = "gcp"\nproject = "p"\nendpoint = "http://127.0.0.1:9"\nmax_attempts = 1\n'


def flat(text: str) -> str:
    return " ".join(text.split())


def config(tmp_path: Path, text: str, store: bool = True) -> str:
    path = tmp_path / "flowscope.toml"
    path.write_text((f'store = "{tmp_path / "store"}"\n' if store else "") + text)
    return str(path)


def test_sync_of_a_cloud_no_source_names_is_a_usage_error(tmp_path):
    """`sync --cloud aws` with only a GCP source exited 0 saying nothing: it names the config and exits 2,
    as a config without any source does; a cloud that is no cloud says the known ones."""
    cfg = config(tmp_path, GCP)
    result = runner.invoke(app, ["sync", "--config", cfg, "--cloud", "aws"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"no [[sources]] for cloud aws in {cfg}" in flat(result.output)
    assert not (tmp_path / "store").exists()
    result = runner.invoke(app, ["sync", "--config", cfg, "--cloud", "amazon"])
    assert result.exit_code == ExitCode.USAGE
    assert "--cloud must be one of aws, azure, gcp, not 'amazon'" in flat(result.output)


@pytest.mark.parametrize("since", ["30", "2026", "1700000000000", " 7 "])
def test_a_number_without_a_unit_is_no_time(since):
    """`--since 30` and `--since 2026` were read as epoch milliseconds (1970)."""
    with pytest.raises(ValueError, match="has no unit: use a duration like 7d.*ISO date"):
        parse_since(since, now=NOW)


def test_a_start_in_the_future_is_refused_by_every_window():
    for since, until in (("2062-11-01", None), ("7d", "2026-12-31"), ("2026-11-26", "2026-11-30")):
        with pytest.raises(ValueError, match="in the future.*use a duration like 7d"):
            parse_window(since, until, now=NOW)
    with pytest.raises(ValueError, match="in the future"):
        parse_start("2062-11-01", now=NOW)
    assert parse_start("1d", now=NOW) == NOW - dt.timedelta(days=1)
    assert parse_window("7d", "2026-11-24", now=NOW)[0] == dt.datetime(2026, 11, 17, tzinfo=UTC)


@pytest.mark.parametrize("since", ["2062-11-01", "30", "2026"])
def test_sync_and_analyze_refuse_a_future_or_unitless_since(tmp_path, since):
    """`sync --since 2062-11-01` stored nothing and moved the watermark to now, hiding the history for
    good: now exit 2 before any call or store, as analyze and report say."""
    cfg = config(tmp_path, GCP)
    result = runner.invoke(app, ["sync", "--config", cfg, "--since", since])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "--since:" in result.output and "ISO date" in flat(result.output)
    assert not (tmp_path / "store").exists()
    runner.invoke(app, ["demo", "--store", str(tmp_path / "demo"), "--no-serve", "--executions", "30", "--days", "1"])
    for command in (["analyze"], ["report", "--out", str(tmp_path / "r.html")]):
        result = runner.invoke(app, [*command, "--store", str(tmp_path / "demo"), "--since", since])
        assert result.exit_code == ExitCode.USAGE, result.output
        assert "ISO date" in flat(result.output)


@pytest.mark.parametrize(("text", "said"), [
    ("store = 5\n", "store must be a folder path or URL in quotes"),
    ('store = 5\n[[sources]]\ncloud="gcp"\nproject="p"\n', "store must be a folder path"),
    ('thresholds = "abc"\n' + GCP, "thresholds must be a table"),
    ('[sources]\ncloud = "gcp"\nproject = "p"\n', "[sources] is a single table; each entry is written [[sources]]"),
    ('sources = ["gcp"]\n', "sources[1] must be a [[sources]] table"),
    ('notify = 3\n', "notify must be [[notify]] tables"),
])
@pytest.mark.parametrize("command", ["sync", "doctor", "analyze"])
def test_a_config_value_of_the_wrong_shape_names_file_and_key(tmp_path, text, said, command):
    cfg = config(tmp_path, text, store=False)
    result = runner.invoke(app, [command, "--config", cfg])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"config file {cfg}: {said}" in flat(result.output)


@pytest.mark.parametrize("where", ["a-file", "a-file/below"])
def test_sync_into_a_path_that_cannot_hold_a_store_is_a_usage_error(tmp_path, where):
    """A file where the store folder should be crashed with FileExistsError / NotADirectoryError (exit 5)."""
    (tmp_path / "a-file").write_text("")
    result = runner.invoke(app, ["sync", "--config", config(tmp_path, GCP), "--store", str(tmp_path / where)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"store {tmp_path / where}: cannot write a store there" in flat(result.output)


def test_sync_help_says_a_partial_scope_exits_0():
    text = flat(runner.invoke(app, ["sync", "--help"], terminal_width=200).output)
    assert "0 every scope collected, completely or partially" in text
    assert "3 a scope failed" in text
