"""Stores whose folder is named with characters a URL escapes: a space ("Application Support"), '#',
'?', '%', a non-ASCII letter. delta-rs lists a table's files as percent-encoded paths, which DuckDB
took literally: the first write worked, an overlapping second one failed (exit 5) and every read
called the store damaged."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from flowscope.model import Cloud
from flowscope.store import Store
from flowscope.store.errors import StoreError
from tests.core.helpers import small_sim, write_documents
from tests.store.helpers import batch

ODD = "Application Support #2 ?50%zz é"
runner = CliRunner()


def counts(s: Store) -> dict[str, int]:
    return {t: int(s.sql(f"SELECT count(*) AS n FROM {t}")["n"][0]) for t in ("executions", "steps", "usage")}


def test_a_store_under_an_odd_folder_takes_overlapping_writes_reads_and_compacts(tmp_path):
    store = Store(tmp_path / ODD / "store", vacuum_retention=dt.timedelta(0))
    store.write(batch(range(4), "RUNNING"))
    store.write(batch(range(2, 6), "SUCCEEDED"))       # executions 2, 3 replaced: a merge over stored files
    assert counts(store) == {"executions": 6, "steps": 4 + 12, "usage": 6}
    store.write(batch(range(6, 9)))
    store.compact()
    assert counts(store) == {"executions": 9, "steps": 4 + 21, "usage": 9}
    assert store.unreadable_file() is None
    assert all(f.startswith(str(tmp_path / ODD)) for f in store.snapshot_files()["steps"].files)


@pytest.mark.parametrize("uri, table_uri, expected", [
    ("/a%20b/t/_p_cloud=aws/x.parquet", "file:///a%20b/t/", "/a b/t/_p_cloud=aws/x.parquet"),
    # the table folder is decoded once; what follows it is the name on disk (a partition value escaped by Delta)
    ("/a%2541/t/p=x%20y/x.parquet", "file:///a%2541/t/", "/a%41/t/p=x%20y/x.parquet"),
    ("/plain/t/x.parquet", "file:///plain/t", "/plain/t/x.parquet"),
    ("file:///a%20b/t/x.parquet", "file:///a%20b/t/", "/a b/t/x.parquet"),     # should delta-rs list URLs
    ("/elsewhere/x.parquet", "file:///a%20b/t/", "/elsewhere/x.parquet"),        # an absolute path in the log
    ("s3://bucket/a%20b/t/x.parquet", "s3://bucket/a%20b/t/", "s3://bucket/a%20b/t/x.parquet"),
    ("gs://bucket/t/x.parquet", "gs://bucket/t", "gs://bucket/t/x.parquet"),
    ("az://c/t/x.parquet", "az://c/t/", "az://c/t/x.parquet"),
])
def test_a_delta_file_uri_becomes_the_path_duckdb_reads(uri, table_uri, expected):
    from flowscope.store.fileuri import readable_file

    assert readable_file(uri, table_uri) == expected


def test_a_store_path_with_a_percent_escape_is_refused_before_anything_is_written(tmp_path):
    """delta-rs decodes '%41' in a local path (as 'A') when it reads the log, not when it writes it: the
    first write failed with 'Kernel error: File not found' (exit 5) after making the folders."""
    path = tmp_path / "runs%41" / "store"
    with pytest.raises(StoreError, match="%41"):
        Store(path)
    assert not path.exists()


def test_import_twice_and_analyze_through_the_cli_under_an_odd_folder(tmp_path):
    files = write_documents(tmp_path / "files", small_sim(Cloud.AWS, executions=40).documents)
    path = tmp_path / ODD / "store"
    for _ in range(2):                                   # the second import replaces every execution it holds
        result = runner.invoke(app, ["import", "--store", str(path), *map(str, files)])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["analyze", "--store", str(path), "--since", "2026-11-18", "--until", "2026-11-20"])
    assert result.exit_code == ExitCode.OK, result.output
    stored = int(Store.open(path).sql("SELECT count(*) AS n FROM executions")["n"][0])
    assert stored >= 40 and f"finding(s) in {stored} executions" in result.output


def _demo_and_analyze(path) -> tuple[int, str]:
    result = runner.invoke(app, ["demo", "--no-serve", "--executions", "300", "--days", "3", "--end", "2026-11-01",
                                 "--store", str(path)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["analyze", "--store", str(path), "--since", "2026-10-29", "--until", "2026-11-01",
                                 "--format", "json"])
    return result.exit_code, result.stdout


@pytest.mark.slow  # two demo stores
def test_demo_then_analyze_under_an_odd_folder_finds_what_a_plain_folder_finds(tmp_path):
    plain = _demo_and_analyze(tmp_path / "plain" / "store")
    odd = _demo_and_analyze(tmp_path / ODD / "store")
    assert odd[0] == plain[0] == ExitCode.NO_DATA       # the demo's failed collection
    assert json.loads(odd[1])["findings"] == json.loads(plain[1])["findings"] != []


def test_a_file_url_names_the_folder_its_escapes_spell(tmp_path):
    """`--store file:///.../Application%20Support/flowscope` (a URL, as a file manager copies it) was taken
    as a folder named 'Application%20Support' (refused now, as delta-rs cannot keep one): a URL's escapes
    are decoded, once."""
    from flowscope.store.store import local_root

    folder = tmp_path / ODD / "store"
    assert local_root(folder.as_uri()) == folder
    assert local_root("file://" + str(tmp_path / "plain")) == tmp_path / "plain"
    assert local_root("file://localhost" + str(tmp_path / "a#b")) == tmp_path / "a#b"
    store = Store(folder.as_uri())
    store.write(batch(range(2)))
    assert store.path == folder and counts(Store.open(folder))["executions"] == 2


@pytest.mark.parametrize("name", ["back\\slash", "new\nline", "tab\tx", "esc\x1b[31mred", "a^b", "a|b", "a[b"])
def test_a_store_path_delta_rs_cannot_parse_is_refused_before_anything_is_written(tmp_path, name):
    """A backslash (delta-rs reads it as '/': 'Kernel error: File not found' on the first write) or a control
    character ('Error parsing Path ... illegal character sequence') in a store's path was a raw DeltaError
    (exit 5, 'a bug in flowscope') after the folders were made."""
    path = tmp_path / name / "store"
    with pytest.raises(StoreError, match="cannot hold"):
        Store(path)
    assert not path.parent.exists()


@pytest.mark.parametrize("command", [["demo", "--no-serve", "--executions", "20", "--days", "1"], ["analyze"]])
def test_a_folder_name_longer_than_the_file_system_takes_is_a_usage_error(tmp_path, command):
    """A 256-byte folder name was a raw OSError ('File name too long') from the first look at the folder:
    "a bug in flowscope", exit 5."""
    path = tmp_path / ("é" * 128) / "store"          # 256 bytes in UTF-8
    result = runner.invoke(app, [*command, "--store", str(path)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "longer than 255 bytes" in " ".join(result.output.split())


def test_the_cli_names_a_refused_path_without_running_its_escapes(tmp_path):
    path = tmp_path / "x\x1b]0;pwned\x07y\\z" / "store"
    result = runner.invoke(app, ["demo", "--no-serve", "--executions", "20", "--days", "1", "--store", str(path)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "cannot hold" in result.output and "\x1b" not in result.output and not path.parent.exists()


@pytest.mark.parametrize("empty", ["", " ", "file://"])
def test_an_empty_store_path_is_refused_not_taken_as_the_working_folder(tmp_path, monkeypatch, empty):
    """`Store("")` (a writer's path from an unset variable, in code: the commands and `flowscope.open` refuse
    it already) made the working folder a store, a project's checkout included, beside its files."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match="empty"):
        Store(empty)
    with pytest.raises(StoreError, match="empty"):
        Store.open(empty)
    assert list(tmp_path.iterdir()) == []
