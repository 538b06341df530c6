"""The first sync or import into a store an earlier flowscope wrote rewrites its files with today's encoding
(`stored_encoding`, ~8 s on a 1,000,000-execution store): it said nothing until then. It now says on stderr, before
the rewrite begins, which store and how many files of which tables, then how long it took; nothing when there is
nothing to rewrite."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.collectors.store_upgrades import upgrade_store
from flowscope.exitcodes import ExitCode
from flowscope.store import Store, delta
from tests.aws.test_transform_aws import ARN, history
from tests.store.test_reencode import old_files, old_store

runner = CliRunner()
STARTING = re.compile(r"upgrading the store (.+) to the current file encoding \(once\): rewriting (\d+) file\(s\) of "
                      r"executions, steps, attempts, usage that an earlier flowscope wrote")
ENDED = re.compile(r"rewrote (\d+) file\(s\) an earlier flowscope wrote, with their timestamps as deltas in "
                   r"\d+\.\d s")


def said(stderr: str) -> list[str]:
    """The lines of stderr, each joined back into one (the console wraps long lines)."""
    return [" ".join(line.split()) for line in re.split(r"\n(?=\S)", stderr) if line.strip()]


def upgrade_lines(lines: list[str], store: Path, files: int) -> tuple[int, int]:
    """Where the starting and the ended lines are in `lines`; each once, naming `store` and `files`."""
    starting = [i for i, line in enumerate(lines) if (m := STARTING.search(line))
                and m.group(1) == str(store) and int(m.group(2)) == files]
    ended = [i for i, line in enumerate(lines) if (m := ENDED.search(line)) and int(m.group(1)) == files]
    assert len(starting) == 1 and len(ended) == 1, lines
    assert sum("timestamps as deltas" in line for line in lines) == 1, lines      # not said again in the summary
    return starting[0], ended[0]


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    path = tmp_path / "history.json"
    path.write_text(json.dumps(history("scenarios_test_base_scenarios.snapshot.json", "test_map_state")))
    return path


def test_the_line_is_said_before_the_rewrite_begins(tmp_path, monkeypatch):
    store = old_store(tmp_path / "old", monkeypatch)
    files, lines, at_rewrite = old_files(store), [], []
    rewrite = delta.reencode

    def watched(*args, **kwargs):
        at_rewrite.append(list(lines))
        return rewrite(*args, **kwargs)

    monkeypatch.setattr(delta, "reencode", watched)
    done = upgrade_store(Store(store.path), say=lines.append)

    assert done.files == files and len(at_rewrite) == 4                   # executions, steps, attempts, usage
    assert [STARTING.search(line) is not None for line in at_rewrite[0]] == [True]
    assert len(lines) == 2 and ENDED.search(lines[1]), lines
    assert done.lines() == []                                             # said already, as it ran


def test_an_import_into_an_older_store_says_the_upgrade_before_it_and_its_time_after(exported, tmp_path, monkeypatch):
    store = old_store(tmp_path / "old", monkeypatch)
    files = old_files(store)
    run = runner.invoke(app, ["import", str(exported), "--store", str(store.path), "--execution-arn", ARN])
    assert run.exit_code == 0, run.output
    lines = said(run.stderr)
    starting, ended = upgrade_lines(lines, store.path, files)
    imported = next(i for i, line in enumerate(lines) if line.startswith("imported "))
    assert starting < ended < imported, lines
    assert old_files(Store(store.path)) == 0

    again = runner.invoke(app, ["import", str(exported), "--store", str(store.path), "--execution-arn", ARN])
    assert again.exit_code == 0, again.output
    assert "upgrading" not in again.output and "timestamps as deltas" not in again.output


def test_a_sync_into_an_older_store_says_the_upgrade_before_its_scopes(tmp_path, monkeypatch):
    """The upgrade runs before any scope: said even when the scope then fails (nothing listens at its endpoint)."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    with socket.socket() as sock:                     # a loopback port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = old_store(tmp_path / "old", monkeypatch)
    files = old_files(store)
    config = tmp_path / "flowscope.toml"
    config.write_text(f'store = "{store.path}"\n[[sources]]\ncloud = "aws"\nregions = ["eu-west-1"]\n'
                      f'endpoint_url = "http://127.0.0.1:{port}"\nmax_attempts = 1\n')

    run = runner.invoke(app, ["sync", "--config", str(config)])

    assert run.exit_code == ExitCode.NO_DATA, run.output
    lines = said(run.stderr)
    starting, ended = upgrade_lines(lines, store.path, files)
    scope = next(i for i, line in enumerate(lines) if "eu-west-1" in line and "failed" in line)
    assert starting < ended < scope, lines
    again = runner.invoke(app, ["sync", "--config", str(config)])
    assert again.exit_code == ExitCode.NO_DATA and "upgrading" not in again.output, again.output
