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
from flowscope.model import UTC, Batch
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


@pytest.mark.parametrize(("text", "line", "said"), [
    ("store = 5\n", 1, "store must be a folder path or URL in quotes"),
    ('# shared settings\n\nstore = 5\n[[sources]]\ncloud="gcp"\nproject="p"\n', 3, "store must be a folder path"),
    ('thresholds = "abc"\n' + GCP, 1, "thresholds must be a table"),
    ('store = "s"\n[sources]\ncloud = "gcp"\nproject = "p"\n', 2,
     "[sources] is a single table; each entry is written [[sources]]"),
    ('sources = ["gcp"]\n', 1, "sources[1] must be a [[sources]] table"),
    ('store = "s"\n\nnotify = 3\n', 3, "notify must be [[notify]] tables"),
])
@pytest.mark.parametrize("command", ["sync", "doctor", "analyze"])
def test_a_config_value_of_the_wrong_shape_names_file_and_key(tmp_path, text, line, said, command):
    """...and the line of the key, as every other config mistake does."""
    cfg = config(tmp_path, text, store=False)
    result = runner.invoke(app, [command, "--config", cfg])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"config file {cfg}, line {line}: {said}" in flat(result.output)


@pytest.mark.parametrize("where", ["a-file", "a-file/below"])
def test_sync_into_a_path_that_cannot_hold_a_store_is_a_usage_error(tmp_path, where):
    """A file where the store folder should be crashed with FileExistsError / NotADirectoryError (exit 5)."""
    (tmp_path / "a-file").write_text("")
    result = runner.invoke(app, ["sync", "--config", config(tmp_path, GCP), "--store", str(tmp_path / where)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"store {tmp_path / where}: cannot write a store there" in flat(result.output)


@pytest.mark.parametrize("where", ["a-file", "a-file/below"])
def test_demo_into_a_path_that_cannot_hold_a_store_is_a_usage_error(tmp_path, where):
    """`demo --store FILE` (or a path below a file) exited 5, "FileExistsError ... a bug in flowscope", as
    sync once did; now exit 2 naming the path, as sync and import say it."""
    (tmp_path / "a-file").write_text("")
    result = runner.invoke(app, ["demo", "--no-serve", "--executions", "10", "--store", str(tmp_path / where)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"{tmp_path / where}: cannot write a store there" in flat(result.output), result.output
    assert (tmp_path / "a-file").read_text() == ""


def test_sync_help_says_a_partial_scope_exits_0():
    text = flat(runner.invoke(app, ["sync", "--help"], terminal_width=200).output)
    assert "0 every scope collected, completely or partially" in text
    assert "3 a scope failed" in text


# doctor checks the [[sources]] as sync does ---------------------------------------------------

def _synced_store(path: Path, *scopes: str) -> str:
    from tests.core.test_no_silent_all_clear import make_store, rows, run_row

    now = dt.datetime.now(UTC) - dt.timedelta(hours=1)
    return make_store(path, rows("a", failing=False),
                      Batch(collection_runs=[run_row(s, "succeeded", at=now, cloud=s.split(":")[0]) for s in scopes]))


@pytest.mark.parametrize(("source", "said"), [
    ('cloud = "gcp"\nprojcet = "demo"\n', "sources[1]: gcp source: unknown key(s) projcet"),
    ('cloud = "amazon"\nregions = ["us-east-1"]\n', "sources[1]: unknown cloud 'amazon'"),
    ('cloud = "aws"\nregions = ["us-east-1"]\nquotas = {GetExecutionHistroy = [400, 20]}\n',
     "quotas: unknown API name(s) GetExecutionHistroy; known: AssumeRole, DescribeExecution"),
    ('cloud = "gcp"\nproject = "p"\nquotas = {"stepEntries.lst" = [1, 1]}\n',
     "quotas: unknown API name(s) stepEntries.lst; known: executions.get"),
])
def test_doctor_refuses_the_sources_sync_refuses(tmp_path, source, said):
    """A typo'd key, `cloud = "amazon"` or a misspelt quota passed doctor with exit 0 while sync refused
    the same file (the quota was silently unused by sync too): both say it, exit 2."""
    store = _synced_store(tmp_path / "s", "gcp:p:all-locations")
    cfg = config(tmp_path, "[[sources]]\n" + source, store=False)
    for command in (["doctor", "--store", store], ["sync", "--store", str(tmp_path / "new")]):
        result = runner.invoke(app, [*command, "--config", cfg])
        assert result.exit_code == ExitCode.USAGE, result.output
        assert said in flat(result.output)
    assert not (tmp_path / "new").exists()


def test_doctor_names_configured_scopes_never_synced(tmp_path):
    """Sources configured but never synced were not mentioned and doctor exited 0: each is named, exit 3
    (no data yet for it). An AWS scope's account is learnt when it syncs: any account's row of its
    region counts."""
    two = ('[[sources]]\ncloud = "gcp"\nproject = "p"\n[[sources]]\ncloud = "azure"\n'
           'subscription_id = "00000000-0000-0000-0000-000000000000"\n[[sources]]\ncloud = "aws"\n'
           'regions = ["eu-west-1"]\n')
    cfg = config(tmp_path, two, store=False)
    store = _synced_store(tmp_path / "s", "gcp:p:all-locations")
    result = runner.invoke(app, ["doctor", "--store", store, "--config", cfg])
    assert result.exit_code == ExitCode.NO_DATA, result.output
    text = flat(result.output)
    assert "never synced: azure:00000000-0000-0000-0000-000000000000 (sources[2] of the config)" in text
    assert "never synced: aws:default:eu-west-1 (sources[3]" in text and "never synced: gcp" not in text
    store = _synced_store(tmp_path / "all", "gcp:p:all-locations", "azure:00000000-0000-0000-0000-000000000000",
                          "aws:123456789012:eu-west-1")
    result = runner.invoke(app, ["doctor", "--store", store, "--config", cfg])
    assert result.exit_code == ExitCode.OK, result.output
    assert "never synced" not in result.output


@pytest.mark.parametrize("command", [["analyze"], ["doctor"], ["demo", "--no-serve", "--executions", "10",
                                                               "--days", "1"]])
def test_an_empty_store_flag_is_a_usage_error_not_the_default_store(tmp_path, monkeypatch, command):
    """`--store "$DIR"` with DIR unset read the default store (~/.flowscope, or the demo's): a cron job
    analysed, and a demo wrote, another store than the one it named. Now exit 2 saying the flag is empty."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("FLOWSCOPE_STORE", raising=False)
    monkeypatch.delenv("FLOWSCOPE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [*command, "--store", ""])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "--store is empty" in flat(result.output)
    assert not home.exists()


@pytest.mark.parametrize("given", ["", "folder"])
def test_a_config_that_is_a_folder_is_a_usage_error(tmp_path, monkeypatch, given):
    """`--config ""` (Typer reads it as ".") or `--config DIR` exited 5, "IsADirectoryError ... a bug in
    flowscope"; now exit 2 naming the path."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    result = runner.invoke(app, ["analyze", "--config", given, "--store", str(tmp_path)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "is a folder" in flat(result.output)


@pytest.mark.parametrize(("raw", "line"), [(b"\xff\xfe[\x00t\x00]\x00", 1),           # PowerShell's UTF-16
                                           ('store = "x"\n# caf\u00e9\n'.encode("latin-1"), 2)])
def test_a_config_that_is_not_utf8_is_a_usage_error_naming_file_and_line(tmp_path, raw, line):
    """A flowscope.toml saved as UTF-16 (Windows PowerShell's `>`) or Latin-1 exited 5, "UnicodeDecodeError
    ... a bug in flowscope"; now exit 2 naming the file, the line and the encoding TOML needs."""
    cfg = tmp_path / "flowscope.toml"
    cfg.write_bytes(raw)
    for command in (["doctor"], ["analyze"]):
        result = runner.invoke(app, [*command, "--config", str(cfg), "--store", str(tmp_path)])
        assert result.exit_code == ExitCode.USAGE, result.output
        assert f"config file {cfg}, line {line}: not UTF-8 text" in flat(result.output), result.output


def test_a_config_saved_with_a_utf8_byte_order_mark_is_read(tmp_path):
    """Windows PowerShell 5.1's `Out-File -Encoding utf8` starts the file with a byte order mark: the
    config was refused, "Invalid statement (at line 1, column 1)", on a line that looks right."""
    cfg = tmp_path / "flowscope.toml"
    cfg.write_bytes(b"\xef\xbb\xbf" + f'store = "{tmp_path / "store"}"\n[thresholds]\nfailure_rate = 0.2\n'.encode())
    from flowscope.store import Store

    Store(tmp_path / "store")
    result = runner.invoke(app, ["doctor", "--config", str(cfg)])
    assert result.exit_code == ExitCode.NO_DATA and "no data yet" in result.output, result.output
    cfg.write_bytes(b"\xef\xbb\xbf" + b'store = 5\n')                 # and a mistake on line 1 is placed there
    result = runner.invoke(app, ["doctor", "--config", str(cfg)])
    assert f"config file {cfg}, line 1: store must be" in flat(result.output), result.output


def test_open_of_an_empty_path_is_an_error(tmp_path, monkeypatch):
    import flowscope

    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ValueError, match="the path is empty"):
        flowscope.open("")


@pytest.mark.parametrize("flag", ["--since", "--until"])
@pytest.mark.parametrize("command", [["analyze"], ["report", "--out", "r.md", "--format", "md"]])
def test_an_empty_time_flag_is_a_usage_error_not_all_time(tmp_path, monkeypatch, flag, command):
    """`--since "$SINCE"` with SINCE unset analysed the whole store (since 2026-11-02 in a 7-day report)
    and exited as over a good window: an empty time is exit 2, as an empty --store is."""
    monkeypatch.chdir(tmp_path)
    store = _synced_store(tmp_path / "s", "gcp:p:all-locations")
    result = runner.invoke(app, [*command, "--store", store, flag, ""])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"{flag.removeprefix('--')} is empty" in flat(result.output)
    assert not (tmp_path / "r.md").exists()


@pytest.mark.parametrize("arguments", [{"since": ""}, {"until": " "}])
def test_an_empty_time_is_no_window_edge_in_the_notebook(arguments):
    """s.executions(since="") returned every row, as if no window was asked for."""
    with pytest.raises(ValueError, match="is empty"):
        parse_window(arguments.get("since"), arguments.get("until"), now=NOW)


def test_an_empty_sync_since_is_a_usage_error(tmp_path):
    cfg = config(tmp_path, GCP)
    result = runner.invoke(app, ["sync", "--config", cfg, "--since", ""])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "since is empty" in flat(result.output)
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("flag", ["--since", "--until"])
def test_run_refuses_an_empty_time_flag(tmp_path, flag):
    """`run --since ""` took [report] since instead, `--until ""` the current hour: both silently."""
    store = _synced_store(tmp_path / "s", "gcp:p:all-locations")
    cfg = config(tmp_path, '[report]\nsince = "30d"\n', store=False)
    result = runner.invoke(app, ["run", "--config", cfg, "--store", store, "--report-dir", str(tmp_path / "out"),
                                 "--no-sync", "--no-notify", flag, ""])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"{flag.removeprefix('--')} is empty" in flat(result.output)
    assert not (tmp_path / "out").exists()


SOURCES_OK = '[[sources]]\ncloud = "gcp"\nproject = "p"\n\n'
AWS_SOURCE = SOURCES_OK + '[[sources]]\ncloud = "aws"\nregions = ["us-east-1"]\n'
"""A config whose second source, an AWS one, begins at line 5: its keys from line 8 on."""


@pytest.mark.parametrize(("text", "line", "said", "commands"), [
    (AWS_SOURCE + 'lag = "5x"\n', 8,
     "sources[2]: aws source: lag: cannot read time '5x'", ["sync", "doctor", "run"]),
    # A negative lag moved each sync's window past the runs started since the last (exit 0); inf crashed (exit 5),
    # nan named no key; read_timeout inf/nan, an endpoint without a scheme and a huge concurrency failed or hung
    # the sync at run time.
    (AWS_SOURCE + 'lag = -3600\n', 8, "sources[2]: aws source: lag must be a positive number of seconds",
     ["sync", "doctor", "run"]),
    (AWS_SOURCE + 'lag = "0m"\n', 8, "sources[2]: aws source: lag must be a positive duration", ["sync"]),
    (AWS_SOURCE + 'lag = inf\n', 8, "sources[2]: aws source: lag must be a positive number of seconds", ["sync"]),
    (AWS_SOURCE + 'lag = nan\n', 8, "sources[2]: aws source: lag must be a positive number of seconds", ["sync"]),
    (AWS_SOURCE + 'lag = "99999999d"\n', 8, "sources[2]: aws source: lag", ["sync"]),
    (AWS_SOURCE + 'read_timeout = inf\n', 8,
     "sources[2]: aws source: read_timeout must be a positive number of seconds", ["sync"]),
    (AWS_SOURCE + 'read_timeout = nan\n', 8, "sources[2]: aws source: read_timeout must be a positive number",
     ["sync"]),
    (AWS_SOURCE + 'concurrency = 100000000000000000000\n', 8,
     "sources[2]: aws source: concurrency must be at most 256", ["sync", "doctor"]),
    (AWS_SOURCE + 'endpoint_url = "127.0.0.1:5057"\n', 8,
     "sources[2]: aws source: endpoint_url must be an https:// URL", ["sync", "doctor"]),
    (AWS_SOURCE + 'endpoint_url = "http://example.com:5057"\n', 8,
     "sources[2]: aws source: endpoint_url is plain http on a non-loopback host (example.com)", ["sync"]),
    (AWS_SOURCE + 'endpoint_url = "https://user:pw@example.com"\n', 8,
     "sources[2]: aws source: endpoint_url must be a bare root URL", ["sync"]),
    (SOURCES_OK + '[[sources]]\ncloud = "aws"\nregionz = ["us-east-1"]\n', 7,
     "sources[2]: aws source: unknown key(s) regionz", ["sync", "doctor", "run"]),
    ('[[sources]]\ncloud = "amazon"\n', 2, "sources[1]: unknown cloud 'amazon'", ["sync", "doctor", "run"]),
    ('[[sources]]\ncloud = "aws"\n', 1, "sources[1]: aws source: regions must be", ["sync", "doctor", "run"]),
    ('[thresholds]\nfailure_rate = 0.1\nretry_storm_min = 3\n', 3, "unknown threshold(s) retry_storm_min",
     ["analyze", "doctor", "report", "run", "dashboard"]),
    ('thresholds = {failure_rate = "x"}\n', 1, "threshold failure_rate must be a number",
     ["analyze", "doctor", "report", "run", "dashboard"]),
    ('[report]\nformats = ["html"]\nfail_on = "hgh"\n', 3, "[report] fail_on must be one of", ["run"]),
    ('[report]\nsince = "30"\n', 2, "[report] since: time '30' has no unit", ["run"]),
    ('[report]\ntitel = "x"\n', 2, "[report]: unknown key(s) titel", ["run"]),
    ('[report]\nsince = "7d"\n\n[notfy]\ntype = "slack"\n', 4, "unknown key(s) notfy",
     ["analyze", "doctor", "report", "run", "sync", "dashboard"]),
    ('storre = "x"\n', 1, "unknown key(s) storre", ["analyze", "doctor"]),
    ('[[notify]]\ntype = "slack"\nurl_env = "U"\n[[notify]]\ntype = "slak"\n', 5,
     "[[notify]] #2: type must be one of", ["doctor", "run"]),
    # `cloud = ["gcp"]` was exit 5 ("TypeError: unhashable type: 'list' - a bug in flowscope") in every command
    ('[[sources]]\ncloud = ["gcp"]\nproject = "p"\n', 2, "sources[1]: cloud must be one of 'aws', 'azure', 'gcp'",
     ["sync", "doctor", "run"]),
    ('[[sources]]\nproject = "p"\ncloud = {name = "gcp"}\n', 3, "sources[1]: cloud must be one of",
     ["sync", "doctor", "run"]),
    # an entry written twice (its label aside) made every scope of it twice, collected at once into the same rows
    (SOURCES_OK + '[[sources]]\ncloud = "GCP"\nproject = "p"\nname = "copy"\n', 5,
     "sources[2]: repeats sources[1] (the same scopes, collected twice at once into the same rows)",
     ["sync", "doctor", "run"]),
    # an empty value passed doctor: an empty profile failed each sync ("The config profile () could not be
    # found", exit 3), an empty workspace_id turned the bulk path off without a word
    (AWS_SOURCE + 'profile = ""\n', 8, "sources[2]: aws source: profile must not be empty", ["sync", "doctor", "run"]),
    (AWS_SOURCE + 'external_id = " "\n', 8, "sources[2]: aws source: external_id must not be empty",
     ["sync", "doctor"]),
    ('[[sources]]\ncloud = "azure"\nsubscription_id = "00000000-0000-0000-0000-000000000000"\nworkspace_id = ""\n',
     4, "sources[1]: azure source: workspace_id must not be empty", ["sync", "doctor"]),
    # `state_machines = []` collected every machine and `role_arn = []` assumed no role, both silently (Azure's
    # and GCP's `workflows = []` are refused); `state_machines = [""]` matched no machine, found only by a sync
    (AWS_SOURCE + 'state_machines = []\n', 8, "sources[2]: aws source: state_machines must be a non-empty list",
     ["sync", "doctor", "run"]),
    (AWS_SOURCE + 'state_machines = ["orders-*", ""]\n', 8,
     "sources[2]: aws source: state_machines must be a non-empty",
     ["sync", "doctor"]),
    (AWS_SOURCE + 'role_arn = []\n', 8, "sources[2]: aws source: role_arn must be a role ARN or a non-empty list",
     ["sync", "doctor", "run"]),
    # odd scope names passed doctor and failed each sync at its first call (exit 3): the subscription's name where
    # its id goes, a location with a space or in capitals
    ('[[sources]]\ncloud = "azure"\nsubscription_id = "Pay-As-You-Go"\n', 3,
     "sources[1]: azure source: subscription_id must be a subscription id", ["sync", "doctor", "run"]),
    ('[[sources]]\ncloud = "gcp"\nproject = "p"\nlocations = ["us-central1", " europe-west1"]\n', 4,
     "sources[1]: gcp source: locations: ' europe-west1' is not a valid location id", ["sync", "doctor"]),
    ('[[sources]]\ncloud = "gcp"\nproject = "p"\nlocations = ["US-CENTRAL1"]\n', 4,
     "sources[1]: gcp source: locations: 'US-CENTRAL1' is not a valid location id", ["sync", "doctor"]),
    # the file expands no variable: `store = "$DATA/flowscope"` made a folder named "$DATA" beside the file
    ('store = "$FLOWSCOPE_TEST_UNSET/flowscope"\n', 1, "store names an environment variable ($FLOWSCOPE_TEST_UNSET)",
     ["sync", "doctor", "analyze"]),
])
def test_a_config_mistake_names_the_file_and_its_line(tmp_path, monkeypatch, text, line, said, commands):
    """`sync` said "sources[2]: aws source: lag: ..." and `analyze` "unknown threshold(s) ..." without
    the file (README: "the message names the file and the key"), and none said the line: a user with
    several config files (FLOWSCOPE_CONFIG, ./flowscope.toml) was left to guess which one was read.
    `run --no-sync --no-notify` checks [[sources]] and [[notify]] too: a typo in a cron job's config was
    found only on the day syncing or notifying was switched back on. `dashboard` served pages computed
    with the default thresholds in place of bad ones (here it would start a server: it must not)."""
    store = _synced_store(tmp_path / "s", "gcp:p:all-locations")
    cfg = config(tmp_path, text, store=False)
    monkeypatch.setattr("flowscope.cli.dashboard._serve", lambda *_a, **_k: pytest.fail("the dashboard was served"))
    for command in commands:
        extra = {"report": ["--out", str(tmp_path / "r.md"), "--format", "md"],
                 "run": ["--report-dir", str(tmp_path / "out"), "--no-sync", "--no-notify"]}.get(command, [])
        result = runner.invoke(app, [command, "--config", cfg, "--store", store, *extra])
        assert result.exit_code == ExitCode.USAGE, (command, result.output)
        assert f"config file {cfg}, line {line}: {said}" in flat(result.output), (command, result.output)


@pytest.mark.parametrize(("text", "said"), [
    ('[report]\nfail_on = "hgh"\n', "[report] fail_on must be one of"),
    ('[report]\nsince = "2062-01-01"\n', "[report] since: since '2062-01-01' starts in the future"),
    ('[report]\nformats = ["html", "docx"]\n', "[report] formats must be one of"),
])
def test_doctor_refuses_the_report_table_run_refuses(tmp_path, text, said):
    """doctor said a config healthy (exit 0) whose [report] table makes every scheduled `run` exit 2."""
    store = _synced_store(tmp_path / "s", "gcp:p:all-locations")
    cfg = config(tmp_path, text, store=False)
    result = runner.invoke(app, ["doctor", "--config", cfg, "--store", store])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"config file {cfg}, line 2: {said}" in flat(result.output)


@pytest.mark.parametrize("text", [None, 'store = "x"\n'])
def test_sync_without_sources_names_the_config_and_a_usable_example(tmp_path, monkeypatch, text):
    """"no [[sources]] configured: add one, e.g. [[sources]] cloud = "aws" regions = ["us-east-1"]": the
    example, printed on one line, is no valid TOML, and neither the file read nor its absence was said."""
    monkeypatch.chdir(tmp_path)
    args = ["sync", "--store", str(tmp_path / "s")]
    if text is not None:
        args += ["--config", config(tmp_path, text, store=False)]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.USAGE, result.output
    where = f"in config file {tmp_path / 'flowscope.toml'}" if text else \
        "no config file was found (--config, FLOWSCOPE_CONFIG or ./flowscope.toml)"
    assert f"no [[sources]] configured: {where}" in flat(result.output)
    assert 'a [[sources]] table with cloud = "aws" and regions = ["us-east-1"] on lines of their own' \
        in flat(result.output)


@pytest.mark.parametrize("value", ["nan", "inf", "+inf"])
def test_a_threshold_that_is_no_number_is_refused(tmp_path, value):
    """TOML's `nan` and `inf` passed as thresholds: `failure_rate = nan` or `retry_storm_z = inf` compare
    false with everything, so their findings silently never came (17 findings of the demo became 9)."""
    store = _synced_store(tmp_path / "s", "gcp:p:all-locations")
    cfg = config(tmp_path, f"[thresholds]\nfailure_rate = {value}\n", store=False)
    result = runner.invoke(app, ["analyze", "--config", cfg, "--store", store])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"config file {cfg}, line 2: threshold failure_rate must be a finite number" in flat(result.output)


@pytest.mark.parametrize(("key", "value"), [("failure_rate", "5"), ("costly_step_share", "50"),
                                            ("history_limit_ratio", "1.5")])
def test_a_share_threshold_written_as_a_percentage_is_refused(tmp_path, key, value):
    """`failure_rate = 5` (meant as 5%) is a failure rate no step reaches: no failing-step finding ever,
    exit 0. A share above 1 is refused with the spelling it wants."""
    store = _synced_store(tmp_path / "s", "gcp:p:all-locations")
    cfg = config(tmp_path, f"[thresholds]\n{key} = {value}\nslow_step_ratio = 3\n", store=False)
    result = runner.invoke(app, ["analyze", "--config", cfg, "--store", store])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"config file {cfg}, line 2: threshold {key} is a share of one (0.05 for 5%)" in flat(result.output)


def test_sync_since_help_says_it_widens_a_later_sync():
    """The help said --since bounds "the first sync of a scope"; on a later sync it re-reads back to it
    (`CollectWindow.lower_bound`: it widens, never narrows), so `sync --since 90d` in an hourly cron job
    listed 90 days every hour. The help says both."""
    from flowscope.collectors.window import CollectWindow

    later = CollectWindow(end=NOW, watermark=NOW - dt.timedelta(hours=1), since=NOW - dt.timedelta(days=90),
                          lag=dt.timedelta(minutes=15))
    assert later.lower_bound == NOW - dt.timedelta(days=90)
    text = flat(runner.invoke(app, ["sync", "--help"], terminal_width=200).output.replace("│", " "))
    assert "on a later sync, re-read back to it (a backfill" in text


AUTH_OK = ('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\ncookie_secret = "s"\n'
           'client_id = "id"\nclient_secret = "x"\n'
           'server_metadata_url = "https://accounts.google.com/.well-known/openid-configuration"\n')


@pytest.mark.parametrize(("auth", "said"), [
    (AUTH_OK.replace('cookie_secret = "s"\n', ""), "[auth] is missing cookie_secret"),
    (AUTH_OK.replace("oauth2callback", "callback"), "[auth] redirect_uri must end with /oauth2callback"),
    ('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\ncookie_secret = "s"\n'
     '[auth.google]\nclient_id = "id"\n', "[auth.google] is missing client_secret, server_metadata_url"),
    (AUTH_OK + 'provider = "okta"\n', '[auth] provider = "okta" names no [auth.okta] table'),
])
@pytest.mark.parametrize("command", [["doctor"], ["dashboard"]])
def test_an_auth_table_sign_in_cannot_use_is_a_usage_error(tmp_path, monkeypatch, auth, said, command):
    """An [auth] table missing a key Streamlit's sign-in needs started the dashboard, whose Sign in
    button failed with Streamlit's "credentials in `.streamlit/secrets.toml` are missing ..." (a file
    flowscope wrote, not the user's), and doctor said nothing. Both refuse it, naming the file and line."""
    import flowscope.ui.server as server
    from flowscope.store import Store

    Store(tmp_path / "store")
    monkeypatch.setattr(server.subprocess, "Popen", lambda *a, **k: pytest.fail("the server was started"))
    cfg = config(tmp_path, "\n" + auth)
    result = runner.invoke(app, [*command, "--config", cfg])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"config file {cfg}, line 3: {said}" in flat(result.output), result.output


def test_a_usable_auth_table_passes_doctor(tmp_path):
    from flowscope.store import Store

    Store(tmp_path / "store")
    result = runner.invoke(app, ["doctor", "--config", config(tmp_path, "\n" + AUTH_OK)])
    assert result.exit_code == ExitCode.NO_DATA and "no data yet" in result.output, result.output


@pytest.mark.parametrize("flag", ["--cloud", "--workflow"])
@pytest.mark.parametrize("command", [["analyze"], ["report", "--out", "r.html"]])
def test_an_empty_filter_flag_says_so(tmp_path, monkeypatch, flag, command):
    """`--workflow "$WF"` with WF unset said "unknown workflow ''; workflows in the store ...", as if a
    name had been mistyped: it says the flag is empty, as an empty --since or --store does."""
    from flowscope.store import Store

    monkeypatch.chdir(tmp_path)
    Store(tmp_path / "store")
    result = runner.invoke(app, [*command, "--store", str(tmp_path / "store"), flag, " "])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f'{flag} is empty (an unset variable in {flag} "$VAR"?)' in flat(result.output), result.output


@pytest.mark.parametrize("name", ["cloud", "workflow"])
def test_an_empty_filter_argument_says_so_in_the_notebook(tmp_path, name):
    import flowscope
    from flowscope.store import Store

    Store(tmp_path / "store")
    session = flowscope.open(str(tmp_path / "store"))
    for call in (lambda: session.executions(**{name: ""}), lambda: flowscope.analyze(session, **{name: [" "]})):
        with pytest.raises(ValueError, match=f"{name} is empty: name one, or pass {name}=None for all"):
            call()


def test_run_refuses_an_empty_window_before_it_syncs(tmp_path, monkeypatch):
    """`run --since 2026-11-20 --until 2026-11-10` synced every source first (minutes against real clouds)
    and only then said "the window is empty" (exit 2): the window is checked before anything runs."""
    monkeypatch.setattr("flowscope.cli.run._run_sync", lambda *a, **k: pytest.fail("it synced first"))
    result = runner.invoke(app, ["run", "--config", config(tmp_path, GCP), "--report-dir", str(tmp_path / "r"),
                                 "--since", "2026-11-20", "--until", "2026-11-10"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "the window is empty: since 2026-11-20" in flat(result.output), result.output


def test_doctor_refuses_a_cdn_report_run_would_refuse(tmp_path, monkeypatch):
    """`[report] charts = "cdn"` with a vl-convert-python whose CDN files flowscope has not pinned: every `run`
    exits 2 before any work (`vega.cdn_scripts`), and doctor said the config healthy."""
    from flowscope.report import vega

    store = _synced_store(tmp_path / "s", "gcp:p:all-locations")
    cfg = config(tmp_path, '[report]\nformats = ["html"]\ncharts = "cdn"\n', store=False)
    healthy = runner.invoke(app, ["doctor", "--config", cfg, "--store", store])
    assert "[report] charts" not in flat(healthy.output), healthy.output        # pinned: nothing to say
    monkeypatch.setattr(vega, "CDN_FILES", {})
    result = runner.invoke(app, ["doctor", "--config", cfg, "--store", store])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"config file {cfg}, line 3: [report] charts: the CDN files of vl-convert-python" in flat(result.output)
    assert "--charts inline" in flat(result.output)
    inline = config(tmp_path, '[report]\nformats = ["html"]\n', store=False)
    assert "[report] charts" not in flat(runner.invoke(app, ["doctor", "--config", inline, "--store", store]).output)


@pytest.mark.parametrize(("key", "value", "said"), [
    ("failure_bucket_hours", "0.0001", "threshold failure_bucket_hours must be at least 1 second"),
    ("latency_bucket_hours", "1e-9", "threshold latency_bucket_hours must be at least 1 second"),
    ("failure_bucket_hours", "1e18", "threshold failure_bucket_hours must be at most"),
    ("latency_bucket_hours", "1e18", "threshold latency_bucket_hours must be at most"),
    ("retry_bucket_minutes", "1000000000000000000", "threshold retry_bucket_minutes must be at most"),
    ("retry_baseline_days", "1e6", "threshold retry_baseline_days must be at most"),
])
def test_a_time_threshold_no_bucket_or_baseline_can_span_is_refused(tmp_path, key, value, said):
    """A bucket width under a second (truncated to 0 s: ZeroDivisionError) or a bucket or baseline longer than
    every time flowscope supports (an int64 overflow inside Ibis, a date before year 1) failed `analyze` with
    exit 5, "a bug in flowscope, not in your input": the input it was, exit 2 naming the file, line and key."""
    store = _synced_store(tmp_path / "s", "gcp:p:all-locations")
    cfg = config(tmp_path, f"[thresholds]\n{key} = {value}\n", store=False)
    result = runner.invoke(app, ["analyze", "--config", cfg, "--store", store, "--since", "30d"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"config file {cfg}, line 2: {said}" in flat(result.output)
