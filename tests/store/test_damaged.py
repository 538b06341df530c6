"""A damaged store (a file cut short, deleted or overwritten behind flowscope's back) is a
StoreDamagedError naming the store and the file, and `flowscope analyze` / `doctor` say it in one line
with exit 2, not "a bug in flowscope" (exit 5) or a bare JSONDecodeError without a path."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from flowscope.store import Store, StoreDamagedError
from tests.store.helpers import batch

runner = CliRunner()


def _store(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    Store(path).write(batch(range(6)))
    return path


def _cut_manifest(path: Path) -> str:
    newest = sorted((path / "_flowscope" / "manifest").glob("*.json"))[-1]
    newest.write_text(newest.read_text()[:20])
    return str(newest)


def _delete_parquet(path: Path) -> str:
    victim = sorted((path / "steps").rglob("*.parquet"))[0]
    victim.unlink()
    return victim.name


def _overwrite_parquet(path: Path) -> str:
    victim = sorted((path / "executions").rglob("*.parquet"))[0]
    victim.write_text("garbage")
    return victim.name


def _delete_log_version(path: Path) -> str:
    newest = sorted((path / "executions" / "_delta_log").glob("*.json"))[-1]
    newest.unlink()
    return str(path / "executions" / "_delta_log")


def _manifest_folder_a_file(path: Path) -> str:
    """A file where the manifests' folder goes: `analyze` said a NotADirectoryError as a bug (exit 5)."""
    import shutil

    folder = path / "_flowscope" / "manifest"
    shutil.rmtree(folder)
    folder.write_text("not a folder")
    return str(folder)


DAMAGES = [_cut_manifest, _delete_parquet, _overwrite_parquet, _delete_log_version, _manifest_folder_a_file]


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda f: f.__name__.strip("_"))
def test_reader_names_the_damaged_file(tmp_path, damage):
    path = _store(tmp_path)
    named = damage(path)
    with pytest.raises(StoreDamagedError) as caught:
        Store.open(path).row_counts()
    assert str(path) in str(caught.value) and named in str(caught.value)
    with pytest.raises(StoreDamagedError):
        Store.open(path).sql("SELECT count(*) FROM executions")


@pytest.mark.parametrize("command", ["analyze", "doctor"])
@pytest.mark.parametrize("damage", DAMAGES, ids=lambda f: f.__name__.strip("_"))
def test_cli_says_damaged_with_exit_2(tmp_path, damage, command):
    path = _store(tmp_path)
    named = damage(path)
    result = runner.invoke(app, [command, "--store", str(path)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "is damaged" in result.output and named in result.output
    assert "a bug in flowscope" not in result.output and "Traceback" not in result.output
    assert result.output.count(f"store {path}") == 1, result.output


def test_manifests_gone_is_damage_not_an_empty_store(tmp_path):
    """With `_flowscope/manifest/` deleted (or left out of a copy), the store read as empty ("no executions
    yet", exit 3) and the next write made a snapshot of its own tables alone, hiding the others."""
    import shutil

    path = _store(tmp_path)
    shutil.rmtree(path / "_flowscope" / "manifest")
    with pytest.raises(StoreDamagedError, match="snapshot manifest .*there is none, while the tables hold data"):
        Store.open(path).row_counts()
    with pytest.raises(StoreDamagedError):
        Store(path).write(batch(range(100, 102)))
    assert not (path / "_flowscope" / "manifest").exists()
    result = runner.invoke(app, ["analyze", "--store", str(path)])
    assert result.exit_code == ExitCode.USAGE and "is damaged" in result.output, result.output


def test_a_killed_first_write_is_not_damage(tmp_path):
    """Tables committed without a manifest because the first write was killed (its intent left behind):
    readers see the empty store that was, the next writer finishes the write."""
    import signal
    import subprocess

    from flowscope.store.faults import ENV
    from tests.store.helpers import env, worker_cmd

    path = tmp_path / "store"
    Store(path)
    proc = subprocess.run(worker_cmd("write", path, 0, 5, "SUCCEEDED"), env={**env(), ENV: "commit:steps"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert Store.open(path).row_counts(["executions"]) == {"executions": 0}
    Store(path).write(batch(range(10, 12)))
    assert Store.open(path).row_counts(["executions"]) == {"executions": 7}


def test_a_first_write_finishing_while_read_is_not_damage(tmp_path, monkeypatch):
    """A reader that listed no manifest just before a first write wrote its manifest and removed its intent
    takes a second look rather than calling the store damaged."""
    from flowscope.store import manifest

    path = _store(tmp_path)
    real = manifest.latest
    looks = []

    def listed_too_early(directory):
        looks.append(directory)
        return manifest.Manifest(0) if len(looks) == 1 else real(directory)

    monkeypatch.setattr(manifest, "latest", listed_too_early)
    assert Store.open(path).version()["executions"] >= 1
    assert len(looks) == 2
