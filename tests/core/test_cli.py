"""The `flowscope` command through Typer's runner: demo, import, errors and exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from flowscope.model import Cloud
from flowscope.store import Store
from tests.core.helpers import small_sim, write_documents

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "store"
    result = runner.invoke(app, ["demo", "--store", str(path), "--no-serve", "--executions", "600", "--days", "3"])
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.slow  # builds a three-cloud demo store
def test_demo_fills_three_clouds_with_ground_truth(demo_store):
    store = Store(demo_store)
    per_cloud = store.sql("SELECT cloud, count(*) AS n, count(DISTINCT workflow_id) AS w "
                          "FROM executions GROUP BY cloud ORDER BY cloud")
    assert list(per_cloud["cloud"]) == ["aws", "azure", "gcp"]
    assert per_cloud["n"].sum() >= 600
    assert store.sql("SELECT count(*) AS n FROM workflows")["n"][0] >= 12
    assert store.sql("SELECT count(*) AS n FROM steps")["n"][0] > per_cloud["n"].sum()
    meters = set(store.sql("SELECT DISTINCT meter FROM usage")["meter"])
    assert {"aws.sfn.state_transition", "aws.sfn.express_request", "azure.logic.builtin_action",
            "gcp.workflows.internal_step", "gcp.workflows.external_step"} <= meters
    truth = json.loads((demo_store / "_flowscope" / "demo_truth.json").read_text())
    kinds = {a["kind"] for a in truth["anomalies"]}
    assert {"failing_step", "retry_storm", "synchronized_retries", "polling_loop", "stuck_execution",
            "express_candidate", "collection_gap"} <= kinds
    failed = store.sql("SELECT scope FROM collection_runs WHERE status = 'failed'")
    assert len(failed) == 1


@pytest.mark.slow  # builds two demo stores
def test_demo_is_deterministic_for_a_seed(tmp_path):
    args = ["demo", "--no-serve", "--executions", "200", "--days", "2", "--seed", "5", "--end", "2026-11-01"]
    for name in ("a", "b"):
        assert runner.invoke(app, [*args, "--store", str(tmp_path / name)]).exit_code == 0
    query = "SELECT execution_id, status, duration_ms FROM executions ORDER BY execution_id"
    first, second = Store(tmp_path / "a").sql(query), Store(tmp_path / "b").sql(query)
    assert len(first) > 0 and first.equals(second)


def test_import_reports_counts_and_is_idempotent(tmp_path):
    paths = write_documents(tmp_path / "files", small_sim(Cloud.GCP, executions=20).documents)
    store_path = tmp_path / "store"
    result = runner.invoke(app, ["import", "--store", str(store_path), *map(str, paths)])
    assert result.exit_code == 0, result.output
    assert "executions" in result.output and "gcp.step_entries" in result.output
    count = Store(store_path).sql("SELECT count(*) AS n FROM steps")["n"][0]
    assert runner.invoke(app, ["import", "--store", str(store_path), *map(str, paths)]).exit_code == 0
    assert Store(store_path).sql("SELECT count(*) AS n FROM steps")["n"][0] == count


def test_import_errors_are_one_clear_line_and_non_zero(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"executions": [')
    result = runner.invoke(app, ["import", "--store", str(tmp_path / "s"), str(bad)])
    assert result.exit_code == 2
    assert "bad.json" in result.output and "nothing was written" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["import", "--store", str(tmp_path / "s"), "--cloud", "oracle", str(bad)])
    assert result.exit_code == 2 and "--cloud" in result.output
    for typo in ("aws.nope", "history"):    # the formats are listed nowhere else: the error names them
        result = runner.invoke(app, ["import", "--store", str(tmp_path / "s"), "--format", typo, str(bad)])
        assert result.exit_code == 2, result.output
        assert (f"unknown format {typo!r}; formats: aws.execution, aws.history, aws.log_records, "
                "aws.state_machine, azure.action_repetitions") in " ".join(result.output.split())
        assert "gcp.step_entries" in result.output


def test_config_file_errors_are_reported(tmp_path):
    config = tmp_path / "flowscope.toml"
    config.write_text("stroe = '/x'\n")
    result = runner.invoke(app, ["import", "--config", str(config), str(config)])
    assert result.exit_code == 2 and "stroe" in result.output


@pytest.mark.slow  # a sync of an unreachable scope, then analyze
def test_a_failed_sync_exits_non_zero_and_surfaces_as_a_finding(tmp_path, monkeypatch):
    """An unreachable scope: exit 3 (collection failed), recorded in collection_runs, and analyze reports the gap."""
    import socket

    with socket.socket() as sock:          # a loopback port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    store_path = tmp_path / "store"
    config = tmp_path / "flowscope.toml"
    config.write_text(f'store = "{store_path}"\n[[sources]]\ncloud = "aws"\nregions = ["eu-west-1"]\n'
                      f'endpoint_url = "http://127.0.0.1:{port}"\nmax_attempts = 1\n')
    result = runner.invoke(app, ["sync", "--config", str(config)])
    assert result.exit_code == ExitCode.NO_DATA, result.output
    assert "failed" in result.output and "eu-west-1" in result.output and "{}" not in result.output
    runs = Store(store_path).sql("SELECT cloud, scope, status, error FROM collection_runs")
    assert list(runs["status"]) == ["failed"] and runs["error"][0]
    result = runner.invoke(app, ["analyze", "--config", str(config), "--format", "json", "--fail-on", "high"])
    assert result.exit_code == ExitCode.FINDINGS          # a finding at --fail-on wins over "no data"
    doc = json.loads(result.stdout)
    assert doc["status"] == "no_data" and doc["counts"]["executions"] == 0
    assert [f["scope"] for f in doc["failed_collections"]] == [runs["scope"][0]]
    findings = doc["findings"]
    assert [f["kind"] for f in findings] == ["collection_gap"]
    assert "eu-west-1" in findings[0]["title"]
    result = runner.invoke(app, ["analyze", "--config", str(config)])
    assert result.exit_code == ExitCode.NO_DATA and "no executions yet" in result.stderr
    # the gap prices nothing: its money cell says so, as the reports do, rather than "$0" (nothing to lose)
    assert "no cost measured" in result.stdout and "$0" not in result.stdout


def _help_strings(command) -> list[str]:
    """The help a command was written with: its own text and each option's."""
    import re

    texts = [command.help or "", *[getattr(p, "help", None) or "" for p in command.params]]
    return [re.sub(r"\\(\[)", r"\1", text) for text in texts]      # as written, before markup escaping


def test_help_shows_what_was_written():
    """Rich markup must not eat config section names ("[auth]", "[[notify]]") from help texts, and
    paragraphs break where written (no literal backslash-n)."""
    import re

    import typer.main

    root = typer.main.get_command(app)
    overview = runner.invoke(app, ["--help"], terminal_width=200).output
    assert "\\n" not in overview and "[]" not in overview
    checked = 0
    for name, command in root.commands.items():
        shown = runner.invoke(app, [name, "--help"], terminal_width=200).output
        assert "\\n" not in shown, f"{name} --help shows a literal \\n"
        for written in _help_strings(command):
            for token in re.findall(r"\[+[a-z_]+\]+", written):
                assert token in shown, f"{name} --help lost {token!r}"
                checked += 1
    assert checked >= 5          # [auth], [report] twice, [[notify]] twice at least


def test_each_command_summary_in_the_overview_is_one_row_on_a_wide_terminal():
    """`flowscope --help` broke demo's and dashboard's summaries where their docstrings' source lines
    ended ("... then open the dashboard. A store" / "holding an earlier demo ..."): the overview lists
    each command's first paragraph, line breaks and all. On a wide terminal each summary is one row."""
    import typer.main

    names = set(typer.main.get_command(app).commands)
    overview = runner.invoke(app, ["--help"], env={"COLUMNS": "400"}).output
    panel = [line for line in overview[overview.index("Commands"):].splitlines() if line.startswith("│")]
    rows = [line.strip("│ ").split(" ", 1)[0] for line in panel]
    assert sorted(rows) == sorted(names), panel      # a continuation row starts with no command name


@pytest.mark.parametrize("port", ["0", "99999", "-1"])
def test_a_port_that_cannot_be_bound_is_a_usage_error(tmp_path, port, monkeypatch):
    """`dashboard --port 99999` announced http://127.0.0.1:99999, printed Streamlit's OverflowError
    traceback and exited 0; now refused before anything starts (exit 2)."""
    import flowscope.ui.server

    monkeypatch.setattr(flowscope.ui.server, "serve", lambda *args, **kwargs: 0)   # never a real server here
    store = tmp_path / "s"
    Store(store)
    for command in (["dashboard", "--store", str(store)],
                    ["demo", "--store", str(tmp_path / "d"), "--executions", "30", "--days", "1"]):
        result = runner.invoke(app, [*command, "--port", port])
        assert result.exit_code == ExitCode.USAGE, result.output
        assert "Traceback" not in result.output and "--port" in result.output
    assert not (tmp_path / "d").exists()


def test_a_dashboard_server_that_fails_is_not_exit_0(tmp_path, monkeypatch):
    """A port already in use: Streamlit said "Port 8501 is not available" and exited 1, and
    `flowscope dashboard` exited 0, so systemd or a script read a server that never served as a clean stop."""
    import flowscope.ui.server

    monkeypatch.setattr(flowscope.ui.server, "serve", lambda *args, **kwargs: 1)
    store = tmp_path / "s"
    Store(store)
    result = runner.invoke(app, ["dashboard", "--store", str(store)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "the dashboard server stopped with exit code 1" in " ".join(result.output.split())


def test_a_demo_ending_in_the_future_is_refused(tmp_path):
    """`demo --end 2027-06-01` built a store of executions that have not happened: analyze then told to use
    `--since 2027-05-30`, which it refuses as in the future, and doctor said syncs ran "-180 d 8 h ago"."""
    result = runner.invoke(app, ["demo", "--no-serve", "--store", str(tmp_path / "d"), "--executions", "30",
                                 "--days", "1", "--end", "2200-01-01"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "--end: 2200-01-01 is in the future" in " ".join(result.output.split())
    assert not (tmp_path / "d").exists()


DEMO = ["demo", "--no-serve", "--executions", "30", "--days", "1"]


def test_demo_never_deletes_files_that_are_not_the_store(tmp_path):
    """`flowscope demo --store ~/work` wrote its tables beside the files there, and the next demo
    "replaced the demo built earlier" with shutil.rmtree of the whole folder: the user's files were gone
    (`--store ~` would have taken the home folder). A folder holding anything but a store is refused."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    result = runner.invoke(app, [*DEMO, "--store", str(folder)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "holds files that are not a flowscope store's: notes.txt" in " ".join(result.output.split())
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]

    store = tmp_path / "demo"
    assert runner.invoke(app, [*DEMO, "--store", str(store)]).exit_code == 0
    (store / "notes.txt").write_text("mine")            # put beside a demo store later
    result = runner.invoke(app, [*DEMO, "--store", str(store)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "holds files that are not a flowscope store's: notes.txt" in " ".join(result.output.split())
    assert (store / "notes.txt").read_text() == "mine" and Store.open(str(store)).has_data()
    (store / "notes.txt").unlink()
    result = runner.invoke(app, [*DEMO, "--store", str(store)])     # a demo store alone is still rebuilt
    assert result.exit_code == 0 and "replacing the demo built earlier" in result.output, result.output


def test_a_store_named_as_a_file_url_is_checked_for_other_files_too(tmp_path):
    """`--store file:///home/me/work` skipped the check for other files (the URL was looked for as a relative
    folder `file:`): the demo wrote its tables beside notes.txt, and the next demo, replacing it, deleted the
    folder with notes.txt in it. `import` and `sync` created their store among such files the same way."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    for args in ([*DEMO, "--store", f"file://{folder}"], ["import", str(tmp_path / "none.json"), "--store",
                                                             f"file://{folder}"]):
        result = runner.invoke(app, args)
        assert result.exit_code == ExitCode.USAGE, result.output
        assert "holds files that are not a flowscope store's: notes.txt" in " ".join(result.output.split())
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_spark_without_java_is_a_usage_error_not_a_bug(tmp_path, monkeypatch):
    """`analyze --engine spark` where JAVA_HOME names no Java (or none is on PATH) said "PySparkRuntimeError:
    [JAVA_GATEWAY_EXITED] ... a bug in flowscope" and exit 5: a missing runtime is the environment's."""
    pytest.importorskip("pyspark")
    store = tmp_path / "s"
    Store(store)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    result = runner.invoke(app, ["analyze", "--store", str(store), "--engine", "spark"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"--engine spark needs a Java runtime: JAVA_HOME is {tmp_path / 'no-java'}, which holds no bin/java" \
        in " ".join(result.output.split())
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path))
    result = runner.invoke(app, ["analyze", "--store", str(store), "--engine", "spark"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "--engine spark needs a Java runtime: no java on PATH and JAVA_HOME is not set" \
        in " ".join(result.output.split())


def test_import_and_sync_create_no_store_among_other_files(tmp_path):
    """`flowscope import exports/ --store exports/` (or `--store .` in the exports' folder) wrote the store's
    tables beside the user's files; the next import of that folder then read the store's own files as
    exports ("_flowscope/...: unknown format", exit 2). A new store goes only into a new or empty folder."""
    folder = tmp_path / "exports"
    folder.mkdir()
    files = write_documents(folder, small_sim(Cloud.GCP, executions=5).documents)
    before = sorted(p.name for p in folder.iterdir())
    result = runner.invoke(app, ["import", str(files[0]), "--store", str(folder)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"{folder} holds files that are not a flowscope store's: {before[0]}" in " ".join(result.output.split())
    assert sorted(p.name for p in folder.iterdir()) == before
    config = tmp_path / "flowscope.toml"
    config.write_text(f'store = "{folder}"\n[[sources]]\ncloud = "gcp"\nproject = "p"\n'
                      'endpoint = "http://127.0.0.1:9"\nmax_attempts = 1\n')
    result = runner.invoke(app, ["sync", "--config", str(config)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "holds files that are not a flowscope store's" in result.output
    assert sorted(p.name for p in folder.iterdir()) == before
    store = tmp_path / "store"                       # an existing store may hold other files: it is used
    assert runner.invoke(app, ["import", str(files[0]), "--store", str(store)]).exit_code == 0
    (store / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["import", *map(str, files), "--store", str(store)])
    assert result.exit_code == 0, result.output


def test_a_store_path_the_delta_writer_refuses_is_a_clear_error(tmp_path):
    """A store folder named with brackets ('runs[1]') crashed the demo, import or sync with delta-rs's
    panic 'Invalid object store url' (a traceback, exit 1) after creating the folder. It is exit 2 naming
    the path, before anything is written."""
    path = tmp_path / "runs[1]"
    result = runner.invoke(app, ["demo", "--store", str(path), "--no-serve", "--executions", "20", "--days", "1"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "cannot hold [, ], ^ or |" in result.output.replace("\n", "") and not path.exists()


def test_version_flag_prints_the_version():
    """`flowscope --version` was "No such option" (exit 2): the first thing a bug report asks for."""
    from flowscope import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"flowscope {__version__}", result.output
    assert "Observability and cost analysis" in runner.invoke(app, ["--help"]).output


def test_demo_checks_the_dashboard_environment_before_building(tmp_path, monkeypatch):
    """`demo` with FLOWSCOPE_UI_ANALYSES_NICE=high built its store (minutes for the default size), then the
    dashboard refused the variable: it is refused first, and nothing is built."""
    monkeypatch.setenv("FLOWSCOPE_UI_ANALYSES_NICE", "high")
    monkeypatch.delenv("FLOWSCOPE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["demo", "--store", str(tmp_path / "demo"), "--executions", "10", "--days", "1"])
    assert result.exit_code == 2 and "FLOWSCOPE_UI_ANALYSES_NICE" in result.output, result.output
    assert not (tmp_path / "demo").exists()


def test_help_names_every_report_format_and_the_exit_order():
    """`report --help` named "md (or markdown)" while `txt` and `htm` are read too; `run --help` gave exit 6
    before 4, where `verdict` gives 4 first (people not told outrank a history not recorded)."""
    import typer.main

    from flowscope.report import FORMAT_ALIASES, FORMATS

    root = typer.main.get_command(app)
    report_help = " ".join(p.help or "" for p in root.commands["report"].params if p.name == "format")
    for word in (*FORMATS, *FORMAT_ALIASES):
        assert word in report_help, word
    run_help = root.commands["run"].help or ""
    assert run_help.index("else 4") < run_help.index("else 6"), run_help


def test_every_line_the_commands_print_leaves_credentials_and_escapes_out(tmp_path, capsys):
    """`fail`, `tagged`, `note` and the crash line print through one rule (`cli.shown`): each caller had cleaned
    its part or not, and an import's warnings quoting a record's id, or an error quoting a path or URL the
    user typed, printed a `user:pass@` or a `sig=` as read."""
    from typer.testing import CliRunner

    from flowscope import cli

    result = CliRunner().invoke(cli.app, ["analyze", "--store", "https://admin:hunter2@example.invalid/x?sig=abc123"])
    assert result.exit_code == 2 and "hunter2" not in result.output and "abc123" not in result.output
    assert "REDACTED" in result.output, result.output
    for say in (lambda text: cli.tagged("warning:", text), cli.note, lambda text: cli.fail(text)):
        say("record /subscriptions/s/x https://bob:s3cret@h.example/\x1b[31mred Authorization: Bearer tok.en.x")
        printed = capsys.readouterr().err
        assert "s3cret" not in printed and "tok.en.x" not in printed and "\x1b" not in printed, printed


@pytest.mark.parametrize("command", [["analyze"], ["report", "--format", "md", "--out", "-", "--no-history"]])
def test_a_one_shot_analysis_freezes_what_it_imported_first(demo_store, monkeypatch, command):
    """`analyze` and `report` run in a process of their own: what they imported and opened lives to their end, so
    it is frozen (`gc.freeze`) before the analyses, whose collections then skip it (30k demo: 3.20 s to 2.93 s)."""
    import gc

    frozen: list[int] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(1))
    result = runner.invoke(app, [*command, "--store", str(demo_store), "--since", "30d"])
    assert result.exit_code in (ExitCode.OK, ExitCode.FINDINGS, ExitCode.NO_DATA), result.output
    assert frozen == [1]
