"""What README.md, docs/*.md and docs/deploy/ show stays true of the code: every `flowscope <command>`
line parses with the command's own argument parser (no flag renamed or gone) and every `--flag` named
exists; every TOML example's keys (commented-out optional ones included) pass the checks the config
readers apply, and every key a source or notification accepts is shown; the exit-code tables, the
finding kinds, docs/model.md's tables, keys and value lists are the code's; every repository path named
exists. It reads the docs and calls parsers and validators only: well under a second of test time."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import typer
from typer._click.core import UsageError  # Typer's own click (vendored since 0.2x)

from flowscope.analysis.base import FindingKind, Thresholds
from flowscope.cli import app
from flowscope.collectors import registry
from flowscope.exitcodes import ExitCode
from flowscope.report.notify import parse_targets
from flowscope.settings import KNOWN_KEYS

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docs" / "deploy").iterdir())]
GROUP = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)  # type: ignore[attr-defined]
_COMMAND = re.compile(rf"(?:\bflowscope(?: |\", \")|(?<=`))({'|'.join(COMMANDS)})\b((?:[ \",][^`\n]*)?)")
_REPORT_KEYS = {"formats", "since", "fail_on", "charts", "plotly", "title"}   # cli._run_options


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def command_lines() -> list[tuple[str, str, list[str]]]:
    """(where, command, words) of every `flowscope <command> ...` in the docs, and of every inline
    `<command> --flag ...` (`analyze --format json`); a synopsis's continuation lines (indented, in a
    code block) belong to the line above it."""
    found = []
    for path in DOCS:
        lines = _text(path).splitlines()
        for number, line in enumerate(lines, start=1):
            for match in _COMMAND.finditer(line):
                rest = match.group(2)
                if match.group(0).startswith(match.group(1)) and not rest.startswith(" --"):
                    continue                     # `run` in prose: only `run --flag` is a command line
                follow = number
                while follow < len(lines) and re.match(r"\s{4,}(\[?--|\"--|[A-Z])", lines[follow]):
                    rest += " " + lines[follow].strip()
                    follow += 1
                rest = re.split(r"\s>>|\s#\s", rest)[0]      # a shell redirection or comment
                found.append((f"{path.relative_to(ROOT)}:{number}", match.group(1), synopsis_words(rest)))
    return found


def synopsis_words(text: str) -> list[str]:
    """The words of a command line, a synopsis read as one of its uses: `[...]` kept, `a|b` the first
    alternative, `X...` once, JSON-ish quoting (the CronJob's args) dropped."""
    text = text.replace("\\|", "|").replace('", "', " ").replace('"', " ")
    words = []
    for word in text.replace("[", " ").replace("]", " ").split():
        word = word.split("|")[0].removesuffix("...").rstrip(",;:.)")
        if word and word not in ("...", "&&", "\\"):
            words.append(word)
    return words


LINES = command_lines()


def test_the_docs_show_command_lines():
    assert len(LINES) > 30 and {cmd for _, cmd, _ in LINES} == set(COMMANDS)


@pytest.mark.parametrize(("where", "command", "words"), LINES, ids=[w for w, _, _ in LINES])
def test_every_command_line_parses(where, command, words):
    cmd = GROUP.commands[command]  # type: ignore[attr-defined]
    flags = {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts) if opt.startswith("--")}
    unknown = [w for w in words if w.startswith("--") and w.split("=")[0] not in flags]
    assert not unknown, f"{where}: `flowscope {command}` has no {unknown}; it has {sorted(flags)}"
    try:       # resilient: a synopsis leaves required options out and writes placeholders (P, T) as values
        cmd.make_context(command, list(words), resilient_parsing=True)
    except UsageError as exc:
        pytest.fail(f"{where}: flowscope {' '.join([command, *words])}: {exc.format_message()}")


def test_the_scheduler_command_parses_strictly():
    """The deploy files' command, with real values, through every type check and callback."""
    concrete = [(w, words) for w, cmd, words in LINES if "deploy" in w and "--report-dir" in words]
    assert len(concrete) == 3
    for where, words in concrete:
        cmd = GROUP.commands["run"]  # type: ignore[attr-defined]
        try:
            cmd.make_context("run", list(words))
        except UsageError as exc:
            pytest.fail(f"{where}: {exc.format_message()}")


def toml_examples() -> list[tuple[str, dict]]:
    """Every ```toml block of the docs, with its commented-out `# key = value` lines switched on."""
    out = []
    for path in DOCS:
        for block in re.findall(r"```toml\n(.*?)```", _text(path), flags=re.S):
            lines = []
            for line in block.splitlines():
                option = re.match(r"#\s*([A-Za-z_]\w*\s*=.*)", line)
                if option:      # `# retries = 3, timeout = 10, backoff = 1`: one key a line
                    body = re.split(r"\s+#", option.group(1))[0]
                    lines += re.split(r",\s*(?=[A-Za-z_]\w*\s*=)", body)
                else:
                    lines.append(line)
            out.append((str(path.relative_to(ROOT)), tomllib.loads("\n".join(lines))))
    return out


TOML = toml_examples()


def test_the_docs_show_config_examples():
    shown = {key for _, doc in TOML for key in doc}
    assert {"store", "sources", "thresholds", "auth", "notify"} <= shown


@pytest.mark.parametrize(("where", "doc"), TOML, ids=[w for w, _ in TOML])
def test_every_config_example_is_accepted(where, doc):
    assert set(doc) <= KNOWN_KEYS, where
    Thresholds.from_mapping(doc.get("thresholds"))
    for source in doc.get("sources", []):
        collector = registry.collector_for(source["cloud"])
        assert collector is not None, where
        collector.validate(source)
    if "notify" in doc:
        assert len(parse_targets(doc["notify"])) == len(doc["notify"])
    assert set(doc.get("report", {})) <= _REPORT_KEYS, where


def test_exit_code_tables_list_the_codes():
    codes = {int(c) for c in ExitCode}
    for path in (ROOT / "README.md", ROOT / "docs" / "reports.md"):
        text = _text(path).split("xit codes", 1)[1]
        rows = {int(m) for m in re.findall(r"^\| (\d) \|", text, flags=re.M)}
        assert rows and rows <= codes, path
    readme = _text(ROOT / "README.md").split("### Exit codes", 1)[1]
    assert {int(m) for m in re.findall(r"^\| (\d) \|", readme, flags=re.M)} == codes
    from flowscope import exitcodes

    assert {int(m) for m in re.findall(r"^\| (\d) \|", exitcodes.__doc__ or "", flags=re.M)} == codes
    assert [int(m) for m in re.findall(r"(?:^|; )(\d) ", exitcodes.exit_code_table())] == sorted(codes)


# flags of other tools the docs show: streamlit, az, gcloud, systemctl, pip
OTHER_TOOLS_FLAGS = {"--server.address", "--role-definition", "--project", "--description", "--permissions",
                     "--member", "--role", "--now", "--no-cache-dir"}


def test_every_flag_the_docs_name_exists():
    """A `--flag` anywhere in the docs (`flowscope dashboard` refuses another `--address`) is a flag of
    some flowscope command, of a script the docs run (bench/, the GCP test server), or of another tool."""
    flags = {opt for c in GROUP.commands.values() for p in c.params  # type: ignore[attr-defined]
             for opt in (*p.opts, *p.secondary_opts)}
    flags.add("--help")           # every command's, which Click adds beside its params
    for script in [*(ROOT / "bench").glob("*.py"), ROOT / "tests" / "gcp" / "gcp_server.py"]:
        flags |= set(re.findall(r"[\"'](--[a-z][\w-]*)[\"']", _text(script)))
    unknown = {}
    for path in DOCS:
        for number, line in enumerate(_text(path).splitlines(), start=1):
            for flag in re.findall(r"(?<![\w-])--[a-z][\w.-]*", line):
                if flag not in flags | OTHER_TOOLS_FLAGS:
                    unknown.setdefault(flag, f"{path.relative_to(ROOT)}:{number}")
    assert not unknown, unknown


def test_the_readme_lists_every_finding_kind():
    listed = re.search(r"`kind` \(([a-z_,\s]+)\)", _text(ROOT / "README.md"))
    assert listed
    assert [k.strip() for k in listed.group(1).split(",")] == [k.value for k in FindingKind]


def test_the_model_doc_matches_the_schema():
    """docs/model.md's table of tables (their keys), its enum lists and its findings columns are the code's."""
    from flowscope.model import TABLES, Kind, Source, Status, StepType

    text = _text(ROOT / "docs" / "model.md")
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| ([\w, ]+) \| [^|]+ \|$", text, flags=re.M)
    assert {name: tuple(key.split(", ")) for name, key in rows} == {n: t.key for n, t in TABLES.items()}

    def listed(before: str) -> list[str]:
        found = re.search(re.escape(before) + r"[^`]*((?:`[\w-]+`,?\s*(?:or\s+)?)+)", text)
        assert found, before
        return re.findall(r"`([\w-]+)`", found.group(1))

    assert listed("`status`: normalised (") == [s.value for s in Status]
    assert listed("`type` is one of") == [t.value for t in StepType]
    assert listed("`kind`:") == [k.value for k in Kind]
    assert listed("`source` (") == [s.value for s in Source]
    findings = text.split("### findings", 1)[1].split("## ", 1)[0]
    columns = [c for row in re.findall(r"^\| (`.+?`) \|", findings, flags=re.M)
               for c in re.findall(r"`(\w+)`", row)]
    assert sorted(columns) == sorted(TABLES["findings"].schema.names)


def test_every_repository_path_the_docs_name_exists():
    pattern = (r"(?<![\w/.~-])((?:tests|bench|scripts|docs|flowscope)/[\w./-]+"
               r"\.(?:py|md|json|sh|toml|yaml|service|timer))")
    missing = {}
    for path in DOCS:
        for number, line in enumerate(_text(path).splitlines(), start=1):
            for named in re.findall(pattern, line):
                if not (ROOT / named).exists():
                    missing.setdefault(named, f"{path.relative_to(ROOT)}:{number}")
    assert not missing, missing


def test_doctor_names_extras_that_exist(monkeypatch):
    """doctor's "missing: pip install flowscope[X]" names an extra of pyproject.toml (it said
    flowscope[dashboard], which pip ignores with a warning: the dashboard's extra is `ui`)."""
    import importlib.util

    from flowscope import cli

    extras = set(tomllib.loads(_text(ROOT / "pyproject.toml"))["project"]["optional-dependencies"])
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    named = [re.search(r"\[(\w+)\]'?$", line) for line in cli._extra_lines()]   # flowscope[ui] or FOLDER[ui]
    assert {m.group(1) for m in named if m} <= extras
    assert any(m and m.group(1) == "ui" for m in named)


def test_every_source_key_is_shown():
    """Each key a cloud's [[sources]] entry accepts appears in that cloud's TOML example (a label,
    `name`, aside), so a key added to a collector is documented beside it."""
    for cloud in ("aws", "azure", "gcp"):
        collector = registry.collector_for(cloud)
        assert collector is not None
        shown = {key for _, doc in TOML for source in doc.get("sources", []) if source["cloud"] == cloud
                 for key in source}
        assert set(collector.SOURCE_KEYS) - {"name"} <= shown, (cloud, set(collector.SOURCE_KEYS) - shown)


def test_every_notify_key_is_shown():
    from flowscope.report.notify import COMMON_KEYS, KEYS

    shown = {key for _, doc in TOML for entry in doc.get("notify", []) for key in entry}
    assert COMMON_KEYS | set().union(*KEYS.values()) <= shown
    assert {entry["type"] for _, doc in TOML for entry in doc.get("notify", [])} == set(KEYS)


def test_architecture_names_every_shared_module() -> None:
    """docs/architecture.md is where a newcomer learns what each room holds: a module added to the shared
    top level or to `collectors/` (where every cloud's shared parts live) without a line there is a room
    nobody finds (`deep_json.py`, `scope_run.py`, `unread.py` and four top-level modules went unnamed)."""
    text = _text(ROOT / "docs" / "architecture.md")
    package = ROOT / "flowscope"
    modules = [*sorted(package.glob("*.py")), *sorted((package / "collectors").glob("*.py"))]
    def named(stem: str) -> bool:                 # `scope_run.py`, `scope_runs.sync_source`, `collectors/graph`
        return re.search(rf"(?<![\w/]){re.escape(stem)}\.\w|/{re.escape(stem)}\b", text) is not None

    unnamed = [str(p.relative_to(ROOT)) for p in modules if p.name != "__init__.py" and not named(p.stem)]
    assert not unnamed, f"docs/architecture.md names no line for: {unnamed}"


def test_doctor_says_the_report_part_is_missing_when_any_of_its_modules_is(monkeypatch):
    """doctor listed the clouds, the dashboard and Spark, not the reports: a machine without the charts' libraries
    (vl-convert-python) learnt it only from `report` itself."""
    import importlib.util

    from flowscope import cli

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "vl_convert" else real(name))
    report = next(line for line in cli._extra_lines() if line.split()[0] == "report")
    assert "missing" in report and report.rstrip("'").endswith("[report]")
    monkeypatch.setattr(importlib.util, "find_spec", real)
    assert next(line for line in cli._extra_lines() if line.split()[0] == "report").split()[1] == "installed"
