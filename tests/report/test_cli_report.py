"""`flowscope report`: exit codes (--fail-on, no data, failed collection, bad flags), the lines it
prints, and that it never creates a store."""

from __future__ import annotations

import datetime as dt
import json
import sys

import pytest
from typer.testing import CliRunner

from flowscope.cli import app, verdict
from flowscope.exitcodes import ExitCode
from tests.report.helpers import END, make_store

runner = CliRunner()
WINDOW = ["--since", (END - dt.timedelta(days=7)).isoformat(), "--until", END.isoformat()]


@pytest.fixture(scope="module")
def healthy_store(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("healthy")
    make_store(path, failed_scope=False)
    return str(path)


def report(store: str, out, *args: str):
    return runner.invoke(app, ["report", "--store", store, "--out", str(out), *WINDOW, *args])


@pytest.mark.slow  # two reports, ~3 s each
def test_healthy_report_exits_0_and_fail_on_exits_1(healthy_store, tmp_path):
    result = report(healthy_store, tmp_path / "r.md", "--format", "md", "--no-history")
    assert result.exit_code == ExitCode.OK, result.output
    assert "report written" in result.output and (tmp_path / "r.md").is_file()
    result = report(healthy_store, tmp_path / "r2.md", "--format", "md", "--fail-on", "low", "--no-history")
    assert result.exit_code == ExitCode.FINDINGS, result.output
    assert (tmp_path / "r2.md").is_file()                 # written before the verdict


@pytest.mark.slow  # two reports, ~3 s each
def test_failed_collection_exits_3_unless_a_finding_is_at_fail_on(report_store, tmp_path):
    result = report(report_store, tmp_path / "r.md", "--format", "md", "--no-history")
    assert result.exit_code == ExitCode.NO_DATA
    assert "last collection of gcp:projects/p2/locations/europe-west1 failed" in result.output
    result = report(report_store, tmp_path / "r.md", "--format", "md", "--no-history", "--fail-on", "critical")
    assert result.exit_code == ExitCode.FINDINGS         # the failed scope is itself a critical finding


def test_empty_window_and_empty_store_exit_3_and_say_so(healthy_store, empty_store, tmp_path):
    result = runner.invoke(app, ["report", "--store", healthy_store, "--out", str(tmp_path / "r.html"),
                                 "--since", "2020-01-01", "--until", "2020-01-08", "--fail-on", "low"])
    assert result.exit_code == ExitCode.NO_DATA, result.output
    assert "is empty" in result.output and "No data." in (tmp_path / "r.html").read_text()
    result = runner.invoke(app, ["report", "--store", empty_store, "--out", str(tmp_path / "e.md"),
                                 "--format", "md"])
    assert result.exit_code == ExitCode.NO_DATA and "holds no executions yet" in result.output


@pytest.mark.parametrize("args, message", [
    (["--format", "docx"], "--format must be one of"),
    (["--fail-on", "severe"], "--fail-on must be one of"),
    (["--charts", "local"], "--charts must be inline or cdn"),
    (["--charts", ""], "--charts must be inline or cdn, not ''"),          # a value given is never the default
    (["--plotly", "local"], "--charts must be inline or cdn"),             # the former name, said renamed
    (["--plotly", "cdn", "--charts", "cdn"], "--plotly is the former name of --charts: give --charts only"),
    (["--cloud", "amazon"], "unknown cloud 'amazon'"),
    (["--workflow", "order"], "unknown workflow 'order'"),
])
def test_bad_flags_exit_2_with_one_line(healthy_store, tmp_path, args, message):
    result = report(healthy_store, tmp_path / "r.html", *args)
    assert result.exit_code == ExitCode.USAGE
    assert message in result.output and "Traceback" not in result.output


def test_a_cloud_in_capitals_is_that_cloud(healthy_store):
    """`--cloud AWS` was refused ("unknown cloud 'AWS'"); it is aws, in every command that takes it."""
    said = {}
    for spelling in ("aws", "AWS"):
        result = runner.invoke(app, ["analyze", "--store", healthy_store, *WINDOW, "--cloud", spelling,
                                     "--format", "json"])
        assert result.exit_code == ExitCode.OK, result.output
        said[spelling] = json.loads(result.stdout)
    assert said["AWS"]["filters"]["clouds"] == ["aws"]
    assert said["AWS"]["findings"] == said["aws"]["findings"] and said["aws"]["counts"]["executions"] > 0


def test_a_cloud_named_twice_is_one_cloud(healthy_store):
    """`--cloud aws --cloud AWS` (a script adding its default to the user's) listed "clouds": ["aws", "aws"]
    in the JSON, which a consumer counting the filtered clouds read as two."""
    result = runner.invoke(app, ["analyze", "--store", healthy_store, *WINDOW, "--cloud", "aws", "--cloud", "AWS",
                                 "--cloud", "gcp", "--format", "json"])
    assert result.exit_code == ExitCode.OK, result.output
    assert json.loads(result.stdout)["filters"]["clouds"] == ["aws", "gcp"]


def test_flag_words_in_any_case_are_those_words(healthy_store, tmp_path):
    """`--fail-on High` was "must be one of critical, high, ..." for the word it lists."""
    result = runner.invoke(app, ["analyze", "--store", healthy_store, *WINDOW, "--fail-on", "LOW", "--format", "Json"])
    assert result.exit_code == ExitCode.FINDINGS, result.output
    assert json.loads(result.stdout)["counts"]["findings"] > 0
    result = report(healthy_store, tmp_path / "r.md", "--format", "MD", "--fail-on", " Critical ", "--no-history",
                    "--charts", "CDN")
    assert result.exit_code == ExitCode.OK and (tmp_path / "r.md").is_file(), result.output


def test_the_former_plotly_flag_still_works_and_says_its_new_name(healthy_store, tmp_path):
    """A cron line with `--plotly cdn` kept working when the charts moved from plotly to Vega, and says so."""
    result = report(healthy_store, tmp_path / "r.html", "--no-history", "--plotly", "cdn")
    assert result.exit_code == ExitCode.OK, result.output
    assert "--plotly is now --charts" in " ".join(result.output.split())
    assert 'src="https://cdn.jsdelivr.net/npm/vega@' in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'crossorigin="anonymous"' in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_a_path_that_is_not_a_store_exits_2_and_is_not_created(tmp_path):
    result = runner.invoke(app, ["report", "--store", str(tmp_path / "nope"), "--out", str(tmp_path / "r.md")])
    assert result.exit_code == ExitCode.USAGE and not (tmp_path / "nope").exists()


def test_one_exit_rule():
    assert verdict(["low", "high"], "ok", "high") == ExitCode.FINDINGS
    assert verdict(["low"], "ok", "high") == ExitCode.OK
    assert verdict(["high"], "no_data", "high") == ExitCode.FINDINGS
    assert verdict([], "collection_failed", "high") == ExitCode.NO_DATA
    assert verdict([], "ok", None, delivery_failed=True) == ExitCode.DELIVERY_FAILED
    assert verdict(["critical"], "ok", "high", delivery_failed=True) == ExitCode.FINDINGS
    assert verdict([], "no_data", None, delivery_failed=True) == ExitCode.NO_DATA
    assert verdict([], "ok", None, delivery_failed=True, history_failed=True) == ExitCode.DELIVERY_FAILED
    assert verdict([], "ok", None, history_failed=True) == ExitCode.HISTORY_NOT_RECORDED
    assert verdict(["critical"], "ok", "high", history_failed=True) == ExitCode.FINDINGS
    assert verdict([], "stale", None, history_failed=True) == ExitCode.NO_DATA


@pytest.mark.parametrize("fmt, taken", [("html", "folder"), ("md", "folder"), ("xlsx", "folder"), ("csv", "file")])
def test_an_out_path_taken_by_the_other_kind_exits_2_before_any_work(healthy_store, tmp_path, fmt, taken):
    """`--out reports/` (a folder) for an HTML report ran the analyses, recorded the findings history, then
    failed with "[Errno 21] Is a directory: '.../.reports.x1y2z3' -> ..." naming a temporary file.
    Now it is refused first, in words, and nothing is written to the store."""
    from flowscope.store import Store

    out = tmp_path / "reports"
    out.mkdir() if taken == "folder" else out.write_text("x")
    version = Store.open(healthy_store).version()
    result = report(healthy_store, out, "--format", fmt)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"--format {fmt} writes" in result.output and ".reports." not in result.output
    assert Store.open(healthy_store).version() == version


@pytest.mark.parametrize("fmt", [None, "html", "md", "xlsx"])
def test_an_out_path_written_as_a_folder_exits_2_for_a_file_format(healthy_store, tmp_path, fmt):
    """`--out reports/` names a folder as surely as an existing one does: where none was there yet, the slash
    was dropped and the HTML report written as a file named `reports` (exit 0), so a report went where no
    one would look and `run --report-dir reports` then found a file in the way. Refused first, in words,
    naming a file in that folder; nothing is written, to the folder or to the store."""
    from flowscope.store import Store

    version = Store.open(healthy_store).version()
    result = report(healthy_store, f"{tmp_path / 'reports'}/", *(("--format", fmt) if fmt else ()))
    assert result.exit_code == ExitCode.USAGE, result.output
    said = " ".join(result.output.split())
    assert "a folder" in said and f"reports/report.{ {None: 'html'}.get(fmt, fmt)}" in said, said
    assert not (tmp_path / "reports").exists()
    assert Store.open(healthy_store).version() == version


def test_an_out_folder_written_with_a_slash_takes_a_folder_format(healthy_store, tmp_path):
    result = report(healthy_store, f"{tmp_path / 'tables'}/", "--format", "csv", "--no-history")
    assert result.exit_code == ExitCode.OK, result.output
    assert (tmp_path / "tables" / "summary.csv").is_file()


@pytest.mark.parametrize("fmt", ["md", "xlsx", "csv"])
def test_an_out_path_that_is_a_device_or_pipe_exits_2_and_is_left_alone(healthy_store, tmp_path, fmt):
    """`--out /dev/stdout` (or any device or pipe) was written beside and renamed over: as root it
    replaced /dev/full with a workbook. Now it is refused first, in words, and left as it was."""
    import os
    import stat

    out = tmp_path / "pipe"
    os.mkfifo(out)
    result = report(healthy_store, out, "--format", fmt)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "not a regular file" in result.output
    assert stat.S_ISFIFO(os.lstat(out).st_mode), "the pipe is still there"


def test_an_out_path_that_is_a_link_is_written_through_it(healthy_store, tmp_path):
    """`--out latest.md`, a link to this week's file, was replaced by a file of its own (the link gone);
    the report is now written to the file it points to, and the link stays."""
    target = tmp_path / "published" / "report.md"
    target.parent.mkdir()
    target.write_text("last week")
    link = tmp_path / "latest.md"
    link.symlink_to(target)
    result = report(healthy_store, link, "--format", "md", "--no-history")
    assert result.exit_code == ExitCode.OK, result.output
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert target.read_text().startswith("# flowscope report")


@pytest.mark.parametrize("name, args, said", [
    ("r.docx", ["--format", "html"], "r.docx names a .docx file, but --format html writes HTML: name it r.html"),
    ("r.pdf", ["--format", "html"], "r.pdf names a .pdf file, but --format html writes HTML: name it r.html"),
    ("r.html", ["--format", "md"], "r.html names a .html file, but --format md writes Markdown: name it r.md"),
    ("r.csv", ["--format", "csv"], "--format csv writes a folder of files (one per table), and r.csv names "
                                   "a .csv file: name a folder, e.g. r-csv"),
    ("r.docx", [], "cannot tell the report's format from .docx: pass --format html, pdf, md, csv, parquet or xlsx"),
])
def test_an_out_name_of_another_format_exits_2_before_any_work(tmp_path, name, args, said):
    """`report --out r.docx --format html` (and `--out r.pdf` with the default format) wrote HTML under a
    name that every program opens as something else; it is refused first, saying the name to use."""
    result = report(str(tmp_path / "no-store"), tmp_path / name, *args)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert said in " ".join(result.output.split()).replace(str(tmp_path) + "/", ""), result.output
    assert not (tmp_path / name).exists()


@pytest.mark.slow  # two reports
@pytest.mark.parametrize("name, starts", [("r.md", b"# "), ("r.xlsx", b"PK"), ("r.2026.12.02", b"<!DOCTYPE html")])
def test_the_format_follows_the_out_name_without_format(healthy_store, tmp_path, name, starts):
    """`--out r.md` without --format wrote an HTML page into r.md: the name's format is the default,
    and a name of no format (a dated one) is HTML as before."""
    result = report(healthy_store, tmp_path / name, "--no-history")
    assert result.exit_code in (ExitCode.OK, ExitCode.NO_DATA), result.output
    assert (tmp_path / name).read_bytes().lstrip().startswith(starts), (tmp_path / name).read_bytes()[:80]


def test_an_out_path_below_a_file_exits_2_before_any_work(healthy_store, tmp_path):
    """`--out notes.txt/r.html` (a file where its folder should be) analysed and recorded the findings
    history, then failed with "[Errno 17] File exists": refused first, naming the file in the way."""
    from flowscope.store import Store

    (tmp_path / "notes.txt").write_text("x")
    version = Store.open(healthy_store).version()
    result = report(healthy_store, tmp_path / "notes.txt" / "r.html")
    assert result.exit_code == ExitCode.USAGE, result.output
    said = " ".join(result.output.split())
    assert f"{tmp_path / 'notes.txt'} is a file, not a folder" in said and "Errno" not in said, said
    assert Store.open(healthy_store).version() == version


@pytest.mark.parametrize("command", ["report", "run"])
def test_a_pdf_without_a_chromium_to_print_it_exits_2_before_any_work(healthy_store, tmp_path, monkeypatch, command):
    """FLOWSCOPE_CHROMIUM naming no program (a typo, an image without Chromium) analysed the window and
    recorded the findings history, then failed on printing: it is refused first, naming the variable."""
    from flowscope.store import Store

    monkeypatch.setenv("FLOWSCOPE_CHROMIUM", str(tmp_path / "no-chromium"))
    version = Store.open(healthy_store).version()
    args = (["report", "--out", str(tmp_path / "r.pdf"), *WINDOW] if command == "report" else
            ["run", "--report-dir", str(tmp_path / "out"), "--format", "pdf", "--no-sync", "--no-notify",
             "--until", WINDOW[-1]])
    result = runner.invoke(app, [*args, "--store", healthy_store])
    assert result.exit_code == ExitCode.USAGE, result.output
    said = " ".join(result.output.split())
    assert f"FLOWSCOPE_CHROMIUM is {tmp_path / 'no-chromium'}, which is not a program" in said, said
    assert Store.open(healthy_store).version() == version


def test_out_dash_prints_a_text_report_on_stdout_and_writes_no_file_named_dash(healthy_store, tmp_path, monkeypatch):
    """`--out - --format md | ...` wrote a file named "-" in the working folder and said "report written: -"."""
    monkeypatch.chdir(tmp_path)
    result = report(healthy_store, "-", "--format", "md", "--no-history")
    assert result.exit_code == ExitCode.OK, result.output
    assert result.stdout.startswith("# flowscope report"), result.stdout[:200]
    assert "report written" not in result.output and not (tmp_path / "-").exists()
    result = report(healthy_store, "-", "--format", "xlsx", "--no-history")
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "--out -" in result.output and "md or html" in result.output and not (tmp_path / "-").exists()


def test_an_out_folder_that_refuses_the_file_names_the_out_path_not_a_temporary_one(healthy_store, tmp_path,
                                                                                    monkeypatch):
    """A folder the user may not write in said "[Errno 13] Permission denied: '/reports/.r.md.u0kkcpgj'",
    the hidden temporary file the report is first written to, which the user never named."""
    import flowscope.report.files as files

    def refused(prefix: str = "", dir: str | None = None, **_: object):
        raise PermissionError(13, "Permission denied", f"{dir}/{prefix}u0kkcpgj")

    monkeypatch.setattr(files.tempfile, "mkstemp", refused)
    out = tmp_path / "r.md"
    result = report(healthy_store, out, "--format", "md", "--no-history")
    assert result.exit_code == ExitCode.USAGE, result.output
    said = " ".join(result.output.split())
    assert f"{out}: cannot write it: Permission denied" in said, said
    assert "u0kkcpgj" not in said


@pytest.mark.parametrize("fmt", ["md", "csv"])
def test_an_out_folder_that_refuses_the_file_exits_2_before_any_work(tmp_path, monkeypatch, fmt):
    """The report was analysed and its findings recorded in the history, then the file could not be
    written (exit 2): the next report called those findings 'ongoing', though no report ever showed
    them. The folder is tried first, as a missing PDF printer or a file in the way is."""
    import flowscope.report.files as files
    from flowscope.store import Store

    store_path = tmp_path / "store"
    make_store(store_path, failed_scope=False)
    version = Store.open(store_path).version()

    def refused(*_: object, **__: object):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.tempfile, "mkstemp", refused)
    monkeypatch.setattr(files.tempfile, "mkdtemp", refused)
    out = tmp_path / "reports" / ("r.md" if fmt == "md" else "tables")
    result = report(str(store_path), out, "--format", fmt)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"{out}: cannot write it: Permission denied" in " ".join(result.output.split())
    assert "report written" not in result.output and "findings:" not in result.output
    assert Store.open(store_path).version() == version          # no history recorded
    result = runner.invoke(app, ["run", "--store", str(store_path), "--report-dir", str(out.parent), "--no-sync",
                                 "--no-notify", "--format", fmt, "--until", END.isoformat()])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"{out.parent}: cannot write it: Permission denied" in " ".join(result.output.split())
    assert Store.open(store_path).version() == version


@pytest.mark.parametrize("inside", ["executions", "_flowscope", "executions/reports"])
def test_an_out_path_inside_the_stores_own_folders_exits_2_before_any_work(tmp_path, inside):
    """`--out STORE/executions --format csv` dropped the report's tables into a Delta table's folder (which a
    vacuum deletes as untracked files), and `--out STORE/_flowscope/...` wrote beside the manifest."""
    from flowscope.store import Store

    store_path = tmp_path / "store"
    make_store(store_path, failed_scope=False)
    version = Store.open(store_path).version()
    before = sorted(p.relative_to(store_path) for p in store_path.rglob("*"))
    result = report(str(store_path), store_path / inside, "--format", "csv")
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"{store_path / inside}: inside the store {store_path}" in " ".join(result.output.split())
    assert Store.open(store_path).version() == version
    assert sorted(p.relative_to(store_path) for p in store_path.rglob("*")) == before


def test_format_takes_the_names_out_takes(healthy_store, tmp_path):
    """`--out r.markdown` wrote Markdown while `--format markdown` was "--format must be one of html, pdf, md,
    ...": one mapping (`report.FILE_SUFFIXES`) names the formats for both, and a wrong one lists them all."""
    result = report(healthy_store, "-", "--format", "Markdown", "--no-history")
    assert result.exit_code == ExitCode.OK, result.output
    assert result.stdout.startswith("# flowscope report"), result.stdout[:200]
    result = report(healthy_store, tmp_path / "r.pdf", "--format", "markdown", "--no-history")
    assert result.exit_code == ExitCode.USAGE and "but --format md writes Markdown" in result.output, result.output
    result = report(healthy_store, tmp_path / "r.html", "--format", "docx")
    said = " ".join(result.output.split())
    assert result.exit_code == ExitCode.USAGE and "markdown" in said and "htm" in said, said


def test_report_formats_in_the_config_take_those_names_too():
    from types import SimpleNamespace

    from flowscope.cli import _run_options

    settings = SimpleNamespace(report={"formats": ["Markdown", "htm", "txt"]})
    assert _run_options(settings, None, None, None, None)[0] == ["md", "html", "md"]


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_a_charted_report_without_its_chart_libraries_is_exit_2_before_any_work(healthy_store, tmp_path, monkeypatch,
                                                                                fmt):
    """Without vl-convert-python (it holds Vega), an HTML or PDF report says what to install, before the window is
    analysed or the findings history touched; the formats without charts are written as ever."""
    monkeypatch.setitem(sys.modules, "vl_convert", None)     # `import vl_convert` raises ImportError
    result = report(healthy_store, tmp_path / f"r.{fmt}")
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "vl-convert-python" in result.output and "pip install" in result.output
    assert not (tmp_path / f"r.{fmt}").exists()
    result = report(healthy_store, tmp_path / "r.md", "--no-history")
    assert result.exit_code == ExitCode.OK, result.output


def test_a_cdn_report_of_a_vl_convert_without_pinned_files_is_exit_2_before_any_work(healthy_store, tmp_path,
                                                                                      monkeypatch):
    """A vl-convert-python this flowscope has no CDN files for (an upgrade): `--charts cdn` would load scripts
    no hash pins, so it is refused before the window is analysed or the findings history touched, and says
    the way out; `--charts inline`, and a format without charts, are written as ever."""
    from importlib.metadata import version

    from flowscope.report import vega
    from flowscope.store import Store

    installed = version("vl-convert-python")
    monkeypatch.delitem(vega.CDN_FILES, installed)
    before = Store.open(healthy_store).version()
    for out in (tmp_path / "r.html", "-"):
        result = report(healthy_store, out, "--charts", "cdn")
        assert result.exit_code == ExitCode.USAGE, result.output
        said = " ".join(result.output.split())
        assert f"the CDN files of vl-convert-python {installed} are not known to this flowscope" in said, said
        assert "write the report with --charts inline" in said and "<script" not in said
    assert list(tmp_path.iterdir()) == [] and Store.open(healthy_store).version() == before
    result = report(healthy_store, tmp_path / "r.html", "--charts", "inline", "--no-history")
    assert result.exit_code == ExitCode.OK, result.output
    assert "<script" in (tmp_path / "r.html").read_text(encoding="utf-8")
    result = report(healthy_store, tmp_path / "r.md", "--charts", "cdn", "--no-history")
    assert result.exit_code == ExitCode.OK, result.output
