"""The report's formats from one content: HTML (escaped, self-contained or CDN), Markdown (escaped),
CSV / Parquet / Excel (the findings and the aggregates, formula cells neutralised), read back."""

from __future__ import annotations

import datetime as dt
import json
import os
import re

import pandas as pd
import pytest

from flowscope.report import build_content, write_report
from flowscope.report.markdown import md
from flowscope.store import Store
from tests.report.helpers import END, HOSTILE, TERMINAL_TRAP

SINCE = END - dt.timedelta(days=7)


@pytest.fixture(scope="module")
def hostile_content(hostile_store):
    return build_content(Store.open(hostile_store), since=SINCE, until=END, now=END)


def test_html_is_one_file_with_its_charts_inlined_and_every_section(hostile_content, tmp_path):
    from flowscope.report.vega import inline_libraries

    out = tmp_path / "r.html"
    write_report(hostile_content, "html", out)
    page = out.read_text()
    assert not re.search(r"<script[^>]* src=", page)  # no remote script: it opens offline
    assert inline_libraries() in page                # Vega, Vega-Lite and vega-embed are in the file
    assert len(page) < 2_000_000                     # plotly.js inlined made it ~5 MB
    for section in ("summary", "trends", "findings", "costly-steps", "retry-storms", "slowest-steps",
                    "failing-steps", "collection-health"):
        assert f'id="{section}"' in page
    assert "The last collection failed" in page      # the failed gcp scope is said, not hidden


def test_html_escapes_hostile_names_and_allows_only_its_own_scripts(hostile_content, tmp_path):
    out = tmp_path / "r.html"
    write_report(hostile_content, "html", out, charts="cdn")
    page = out.read_text()
    assert len(page) < 500_000
    for library in ("vega", "vega-lite", "vega-embed"):     # pinned to the inlined bundle's exact files
        assert re.search(rf'<script nonce="[^"]+" src="https://cdn\.jsdelivr\.net/npm/{library}@[\d.]+/build/'
                         rf'{library}\.min\.js" integrity="sha384-', page)
    assert "<script>window.__pwned" not in page and "<img src=x" not in page
    assert "&lt;script&gt;window.__pwned" in page                    # shown as text
    nonce = re.search(r"'nonce-([^']+)'", page).group(1)
    scripts = re.findall(r"<script([^>]*)>", page)
    code = [attrs for attrs in scripts if 'type="application/json"' not in attrs]
    assert code and all(f'nonce="{nonce}"' in attrs for attrs in code)
    # the charts' specs are data blocks no text in them can close: every '<' in them is written \u003c
    blocks = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', page, re.S)
    assert len(blocks) == len(scripts) - len(code) >= 4
    assert all("<" not in block for block in blocks)
    specs = [json.dumps(json.loads(block), ensure_ascii=False) for block in blocks]
    assert any("<script>window.__pwned" in spec for spec in specs)      # read back as the text it is


def test_a_cdn_reports_scripts_are_exact_files_the_browser_checks_by_their_hash(hostile_content):
    """`--charts cdn` loaded `vega-lite@6.4`, a range jsDelivr resolves to its newest patch (not the bundle's
    6.4.1), and no script carried an integrity hash: a CDN serving other bytes ran them in a page of a team's
    data. Each script is now an exact npm file (`CDN_FILES`) the browser runs only if its SHA-384 matches."""
    from importlib.metadata import version

    from flowscope.report import vega
    from flowscope.report.html import render_html

    page = render_html(hostile_content, charts="cdn")
    urls = re.findall(r'<script [^>]*\bsrc="([^"]+)"', page)
    assert len(urls) == 3
    for url in urls:     # an exact version and the package's own file, never a range jsDelivr resolves
        assert re.fullmatch(r"https://cdn\.jsdelivr\.net/npm/(vega|vega-lite|vega-embed)@\d+\.\d+\.\d+/build/"
                            r"\1\.min\.js", url), url
    nonce = re.search(r"'nonce-([^']+)'", page).group(1)
    pinned = vega.CDN_FILES[version("vl-convert-python")]
    assert re.findall(r"<script [^>]*\bsrc=[^>]*>", page) == [
        f'<script nonce="{nonce}" src="{s.url}" integrity="{s.integrity}" crossorigin="anonymous" charset="utf-8">'
        for s in pinned]
    assert all(re.fullmatch(r"sha384-[A-Za-z0-9+/]{64}", s.integrity) for s in pinned), pinned


def test_html_sample_executions_read_one_a_line(hostile_content, tmp_path):
    """Five long execution ids ran together in one wrapped paragraph."""
    out = tmp_path / "r.html"
    write_report(hostile_content, "html", out, charts="cdn")
    cells = re.findall(r"<th>sample executions</th><td[^>]*>(.*?)</td>", out.read_text(), re.S)
    many = [c for c in cells if c.count("<code>") > 1]
    assert many, "a finding with several sample executions"
    for cell in many:
        assert cell.count("<br>") == cell.count("<code>") - 1 and "</code><code>" not in cell


def test_html_collection_health_says_when_it_was_measured(hostile_content, tmp_path):
    """Its lag and its failures of the last 24 h count back from when the report was made, not from the
    window's end: the title says so."""
    out = tmp_path / "r.html"
    write_report(hostile_content, "html", out, charts="cdn")
    when = hostile_content.generated_at.strftime("%Y-%m-%d %H:%M")
    assert f'<h2 id="collection-health">Collection health as of {when} UTC</h2>' in out.read_text()


def test_markdown_escapes_links_html_and_mentions(hostile_content, tmp_path):
    out = tmp_path / "r.md"
    write_report(hostile_content, "md", out)
    text = out.read_text()
    assert "# flowscope report" in text and "## Findings" in text and "## Summary" in text
    assert "](http" not in text and "<script>" not in text and "<!channel>" not in text and "<img" not in text
    assert md(HOSTILE["Get_invoice"]) == ("\\[click me\\]\\(http\u2060\\://evil\\.example/y\\) "
                                         "&lt;\\!channel&gt; Get\\_invoice")
    assert md("a\nb|c") == r"a b\|c"
    assert "\x1b" not in text and "\x07" not in text and "evil.example/z" not in text, "no escape for a terminal"
    assert md(TERMINAL_TRAP) == "open"


def test_markdown_does_not_send_a_reader_to_a_report_that_was_not_written(hostile_content, monkeypatch):
    """Past its 50 findings the Markdown said "and N more (see the HTML report)", when a run writing
    only Markdown wrote none."""
    from flowscope.report import markdown

    monkeypatch.setattr(markdown, "MAX_FINDINGS", 1)
    text = markdown.render_markdown(hostile_content)
    more = len(hostile_content.findings) - 1
    assert more > 0 and f"- and {more} more, not listed here" in text and "`flowscope analyze`" in text
    assert "see the HTML report" not in text


def test_a_failed_write_leaves_the_last_report_whole(hostile_content, tmp_path, monkeypatch):
    """A workbook openpyxl refused half-way (a control character in an error) left 3 sheets of 8 over
    last week's report; every format now writes beside the target and renames."""
    from flowscope.report import tables

    out = tmp_path / "r.xlsx"
    write_report(hostile_content, "xlsx", out)
    good = out.read_bytes()

    def refuse(sheet, frame):
        raise ValueError("a cell the writer refuses")

    monkeypatch.setattr(tables, "_dress", refuse)
    with pytest.raises(ValueError, match="refuses"):
        write_report(hostile_content, "xlsx", out)
    assert out.read_bytes() == good and [p.name for p in tmp_path.iterdir()] == ["r.xlsx"], "no leftover"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_failed_folder_write_leaves_the_last_folder_whole(hostile_content, tmp_path, monkeypatch, fmt):
    """csv and parquet wrote their folder one file at a time over last week's: a run killed or failing
    at the third table left this week's summary beside last week's findings (and a table this report
    no longer writes stayed from an older one). Every table is now written to a folder beside it first,
    and moved in only once all were written; a table the report does not hold is removed."""
    from flowscope.report import tables

    out = tmp_path / fmt
    write_report(hostile_content, fmt, out)
    (out / f"resolved.{fmt}").write_text("from an older report, with a history")   # none in this one
    (out / "notes.txt").write_text("the user's own")
    good = {p.name: p.read_bytes() for p in out.iterdir()}
    real = tables.frames

    def half(c):
        return {**real(c), "summary": real(c)["summary"].assign(executions=-1)}   # written before findings

    writer = getattr(pd.DataFrame, "to_csv" if fmt == "csv" else "to_parquet")

    def refuse_findings(frame, *args, **kwargs):
        if list(frame.columns[:2]) == ["id", "state"]:
            raise ValueError("the writer refuses a cell of the findings")
        return writer(frame, *args, **kwargs)

    monkeypatch.setattr(tables, "frames", half)
    monkeypatch.setattr(pd.DataFrame, "to_csv" if fmt == "csv" else "to_parquet", refuse_findings)
    with pytest.raises(ValueError, match="refuses"):
        write_report(hostile_content, fmt, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == good, "last week's folder, whole"
    assert [p.name for p in tmp_path.iterdir()] == [fmt], "no leftover beside it"

    monkeypatch.undo()
    write_report(hostile_content, fmt, out)
    names = {p.name for p in out.iterdir()}
    assert f"resolved.{fmt}" not in names, "no table of an older report beside this one's"
    assert "notes.txt" in names, "what is not a report table is left alone"


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_tables_hold_findings_and_aggregates_with_formulas_neutralised(hostile_content, tmp_path, fmt):
    out = tmp_path / ("r.xlsx" if fmt == "xlsx" else fmt)
    write_report(hostile_content, fmt, out)
    if fmt == "xlsx":
        sheets = pd.read_excel(out, sheet_name=None)
    else:
        read = pd.read_csv if fmt == "csv" else pd.read_parquet
        sheets = {p.stem: read(p) for p in out.iterdir()}
    assert {"summary", "trend", "findings", "costly_steps", "slowest_steps", "failing_steps", "retried_steps",
            "collection_health"} <= set(sheets)
    assert len(sheets["findings"]) == len(hostile_content.findings)
    cells = [v for frame in sheets.values() for col in frame.columns for v in frame[col] if isinstance(v, str)]
    assert any("HYPERLINK" in c for c in cells)
    assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]
    assert any(c.startswith("'=HYPERLINK") for c in cells)
    assert any("open" in c and "evil.example/z" not in c for c in cells), "the error's text kept, its link gone"
    assert not [c for c in cells if any(ch in c for ch in "\x1b\x07\x00\x0b")], "no terminal escape or control"
    total = sheets["summary"][(sheets["summary"]["period"] == "window") & (sheets["summary"]["cloud"] == "total")]
    assert int(total["executions"].iloc[0]) == hostile_content.coverage.executions


def test_csv_refuses_to_write_its_folder_over_a_file(hostile_content, tmp_path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(ValueError, match="writes a folder"):
        write_report(hostile_content, "csv", tmp_path / "taken")


def test_the_python_api_takes_the_formats_names_the_command_takes(hostile_content, tmp_path):
    """`write_report(content, "markdown", ...)` was refused ("--format must be one of ...", a flag a Python
    caller never gave) while `flowscope report --format markdown` wrote Markdown: one table of names."""
    out = tmp_path / "r.markdown"
    assert write_report(hostile_content, "markdown", out) == [out]
    assert out.read_text(encoding="utf-8").startswith("# ")
    with pytest.raises(ValueError, match="the format must be one of .*markdown") as refused:
        write_report(hostile_content, "docx", tmp_path / "r.docx")
    assert "--format" not in str(refused.value)


def test_reports_load_no_streamlit():
    """The report package draws with ui/charts.py's pure builders, never the dashboard's Streamlit."""
    import subprocess
    import sys

    code = ("import sys; import flowscope.report.html, flowscope.report.pdf, flowscope.report.markdown, "
            "flowscope.report.tables, flowscope.report.notify, flowscope.ui.charts; "
            "print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_xlsx_columns_show_in_their_units(hostile_content, tmp_path):
    """Every cell was 'General': 0.3130841121495327 for a failure rate, 1.76492592 for dollars, no frozen
    header. Each column now shows in its unit; the cells keep the numbers."""
    openpyxl = pytest.importorskip("openpyxl")
    out = tmp_path / "r.xlsx"
    write_report(hostile_content, "xlsx", out)
    book = openpyxl.load_workbook(out)
    summary = book["summary"]
    assert summary.freeze_panes == "A2" and summary["A1"].font.bold
    header = [c.value for c in summary[1]]
    row = {h: c for h, c in zip(header, summary[2], strict=True)}
    assert row["cost_usd"].number_format == '"$"#,##0.00##' and isinstance(row["cost_usd"].value, float)
    assert row["failure_rate"].number_format == "0.0%" and 0 <= row["failure_rate"].value <= 1
    assert row["executions"].number_format == "#,##0"
    assert row["since"].number_format == "yyyy-mm-dd hh:mm"
    assert row["cloud"].number_format == "General"
    assert summary.column_dimensions["A"].width >= len("cloud")


@pytest.mark.parametrize(("column", "values", "shown"), [
    ("retry_usd", [0.5, 1.25], '"$"#,##0.00##'), ("failure_rate", [0.1], "0.0%"), ("share", [0.5], "0.0%"),
    ("p95_ms", [1200.0], "#,##0"), ("lag_minutes", [3.5], "#,##0.0"), ("iterations", [3.0, 4.0], "#,##0"),
    ("quantity", [1.5, 2.0], "#,##0.00"), ("visits", [3, 4], "#,##0"), ("workflow", ["a"], None),
    ("operations", [0.5], "#,##0.00"),
])
def test_sheet_format_reads_the_unit_from_the_name(column, values, shown):
    from flowscope.report.tables import sheet_format

    assert sheet_format(column, pd.Series(values)) == shown


@pytest.mark.slow  # two reports of the store
def test_a_report_whose_data_ends_early_says_so_instead_of_whole_window(report_store, tmp_path):
    """A window running 3 weeks past the data read "Data for the whole window" in green."""
    content = build_content(Store.open(report_store), since=SINCE, until=END + dt.timedelta(days=21), now=END)
    gap = content.coverage.gap_note()
    assert gap and "before the window's end" in gap
    out = tmp_path / "r.html"
    write_report(content, "html", out, charts="cdn")
    page = out.read_text()
    assert 'id="gap"' in page and "Data for the whole window" not in page
    md_out = tmp_path / "r.md"
    write_report(content, "md", md_out)
    assert "**The data ends before the window does:**" in md_out.read_text()
    near = build_content(Store.open(report_store), since=SINCE, until=END, now=END)
    assert near.coverage.gap_note() is None


@pytest.mark.slow  # two reports of the store
def test_tables_leave_out_a_previous_period_the_data_does_not_cover(report_store, tmp_path):
    """The store's data starts 14 days before its end; a 10-day report's previous period starts 20 days
    before, so it holds 4 days of data. summary.csv listed it as a whole period (a 60% fall in
    executions that never happened) while the HTML, like the dashboard, leaves the comparison out."""
    content = build_content(Store.open(report_store), since=END - dt.timedelta(days=10), until=END, now=END)
    assert not content.previous_has_data
    write_report(content, "csv", tmp_path / "t")
    summary = pd.read_csv(tmp_path / "t" / "summary.csv")
    assert set(summary["period"]) == {"window"}
    covered = build_content(Store.open(report_store), since=SINCE, until=END, now=END)
    assert covered.previous_has_data
    write_report(covered, "csv", tmp_path / "c")
    assert set(pd.read_csv(tmp_path / "c" / "summary.csv")["period"]) == {"window", "previous"}


def test_html_says_why_it_does_not_compare_with_the_previous_period(report_store):
    """A 10-day report of a store whose data starts 14 days before its end has 4 days of executions in
    its previous period; the HTML said "the previous period holds no executions" (read as a workload
    that came from nothing). It now says the data begins inside that period; "holds no executions"
    stays for a previous period that holds none."""
    from flowscope.report.html import render_html

    content = build_content(Store.open(report_store), since=END - dt.timedelta(days=10), until=END, now=END)
    assert int(content.previous.query("cloud == 'total'")["executions"].iloc[0]) > 0
    page = render_html(content, charts="cdn")
    first = content.coverage.first
    assert first is not None
    assert (f"No comparison: the data begins {first:%Y-%m-%d %H:%M} UTC, inside the previous period, "
            "which it does not cover.") in page
    assert "holds no executions" not in page

    content.previous_covered = True                       # covered, and empty
    content.previous = content.previous.assign(executions=0)
    assert "No comparison: the previous period holds no executions." in render_html(content, charts="cdn")


def test_two_windows_ending_in_one_minute_have_headings_of_their_own(report_store):
    """`run --until 12:00:10Z` and `--until 12:00:40Z` wrote files named apart by their seconds whose
    headings, titles and summary lines both read "... 12:00": the window's end is shown to the second
    when it has seconds (a whole minute still reads as one)."""
    from flowscope.report.html import render_html
    from flowscope.report.markdown import render_markdown

    store = Store.open(report_store)
    ten, forty = (build_content(store, since=SINCE, until=END + dt.timedelta(seconds=s), now=END) for s in (10, 40))
    for content, shown in ((ten, f"{END:%Y-%m-%d %H:%M}:10"), (forty, f"{END:%Y-%m-%d %H:%M}:40")):
        assert shown in content.summary_line()
        assert f".. {shown} UTC" in render_markdown(content)
        assert re.search(rf"<title>[^<]*\.\. {shown}</title>", render_html(content, charts="cdn"))
    whole = build_content(store, since=SINCE, until=END, now=END)
    assert f".. {END:%Y-%m-%d %H:%M} UTC" in render_markdown(whole)


def test_the_exported_tables_are_named_in_one_place(hostile_content):
    """`TABLES` (the names a folder's stale files are cleared by) and `frames` (what is written) were two
    lists kept by hand: a table added to one only was never written, or left last week's file beside
    this week's. Both read `tables.SOURCES` now."""
    import copy

    from flowscope.report.content import HistoryChange
    from flowscope.report.tables import TABLES, frames

    assert tuple(frames(hostile_content)) == tuple(t for t in TABLES if t != "resolved")
    recorded = copy.copy(hostile_content)
    recorded.history = HistoryChange()
    assert tuple(frames(recorded)) == TABLES


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_tables_of_an_empty_window_say_there_is_no_data(report_store, hostile_content, tmp_path, fmt):
    """A csv or xlsx report of an empty window (or of a failed collection) held an empty findings table
    and a summary of zeros: read by a script or a person, an all-clear. The summary says the window's
    data status and why, as the HTML's banner does."""
    empty = build_content(Store.open(report_store), since=END + dt.timedelta(days=30),
                          until=END + dt.timedelta(days=37), now=END + dt.timedelta(days=37))
    assert empty.coverage.status == "no_data"
    for name, content, status in (("empty", empty, "no_data"), ("failed", hostile_content, "collection_failed")):
        out = tmp_path / (name + (".xlsx" if fmt == "xlsx" else ""))
        write_report(content, fmt, out)
        summary = (pd.read_excel(out, sheet_name="summary") if fmt == "xlsx"
                   else pd.read_csv(out / "summary.csv"))
        window = summary[summary["period"] == "window"]
        assert set(window["data_status"]) == {status}
        note = str(window["data_status_note"].iloc[0])
        failed = "last collection of gcp:" in note and " failed at " in note
        assert ("is empty" in note) if status == "no_data" else failed


def test_a_window_ending_now_is_headed_to_the_second_not_the_microsecond():
    from flowscope.report.content import window_time

    assert window_time(END.replace(second=13, microsecond=235682)) == f"{END:%Y-%m-%d %H:%M}:13"
    assert window_time(END.replace(microsecond=5)) == f"{END:%Y-%m-%d %H:%M}:00"
    assert window_time(END) == f"{END:%Y-%m-%d %H:%M}"


def test_an_empty_window_s_html_names_the_failed_collection_that_emptied_it(hostile_store):
    """The HTML's banner said "No data." and nothing of the scope whose last collection failed (the
    Markdown, the notification and the CLI say both): the reason the window is empty was hidden."""
    from flowscope.report.html import render_html

    later = END + dt.timedelta(days=2)
    content = build_content(Store.open(hostile_store), since=END + dt.timedelta(days=1), until=later, now=later)
    assert content.coverage.status == "no_data" and content.coverage.failed_collections
    page = render_html(content, charts="cdn")
    assert "No data." in page
    for failed in content.coverage.failed_collections:
        assert f"<li>last collection of {failed['scope']} failed at " in page


def test_an_empty_window_does_not_read_as_no_findings(tmp_path):
    """Under "Findings (0)" an empty window's HTML and Markdown said "No findings in this window.", an
    all-clear for a window nothing was analysed in; they say there was nothing to analyse."""
    from flowscope.report.html import render_html
    from flowscope.report.markdown import render_markdown
    from tests.report.helpers import make_store

    later = END + dt.timedelta(days=40)
    store = make_store(tmp_path / "s", failed_scope=False)
    empty = build_content(store, since=later - dt.timedelta(days=7), until=later, now=later)
    assert empty.coverage.status == "no_data" and empty.findings.empty
    for text in (render_html(empty, charts="cdn"), render_markdown(empty)):
        assert "No findings in this window." not in text
        assert "No findings: the window holds no executions to analyse." in text


def test_markdown_escapes_the_names_in_a_coverage_sentence_and_nothing_else(empty_store, hostile_store):
    """The Markdown ran its own sentences through the escaping meant for cloud names: a report pasted
    into a chat or a ticket read "run \\`flowscope demo \\-\\-no\\-serve\\`" and "use \\-\\-since 2026\\-11\\-13".
    Only the names in them are escaped now."""
    from flowscope.report.markdown import render_markdown

    empty = render_markdown(build_content(Store.open(empty_store), since=SINCE, until=END, now=END))
    assert "run `flowscope demo --no-serve`, `flowscope import FILE` or `flowscope sync`" in empty
    later = END + dt.timedelta(days=40)
    name = HOSTILE["orders"]
    content = build_content(Store.open(hostile_store), since=later - dt.timedelta(days=7), until=later, now=later,
                            workflows=[name])
    text = render_markdown(content)
    sentence = content.coverage.message()
    assert sentence and name in sentence and "<script>" not in text
    assert f"is empty: no executions for --workflow {md(name)}; the store's executions run from " in text
    assert f"use --since {content.coverage.first.date()}" in text


def test_markdown_evidence_escapes_the_cloud_text_in_it_not_its_own_figures(hostile_content):
    """A finding's evidence line was escaped whole: "first seen\\: 2026\\-11\\-13 12\\:54 UTC; rate change\\:
    \\+2\\.1 pt" in a pasted report. Its keys and figures are flowscope's; only its text values (an error,
    a name) are cloud text, escaped as every name is."""
    from flowscope.format import fmt_evidence
    from flowscope.report.markdown import render_markdown

    text = render_markdown(hostile_content)
    lines = [line for line in text.splitlines() if line.startswith("  - evidence: ")]
    hostile = next(line for line in lines if "pwned" in line)
    assert "&lt;script&gt;window\\.\\_\\_pwned" in hostile and "<script>" not in hostile
    assert re.search(r"first seen: \d{4}-\d\d-\d\d \d\d:\d\d UTC; ", hostile), hostile
    assert fmt_evidence({"a_usd": 1.5, "error": "[x](http://e)", "top": [{"error": "*b*"}]}, text=md) == \
        "A: $1.50; error: \\[x\\]\\(http\u2060\\://e\\); top: (error: \\*b\\*)."


@pytest.fixture
def umask():
    """Set the process umask for one test (`umask(0o022)`), restored after it."""
    before = os.umask(0o022)
    os.umask(before)
    yield os.umask
    os.umask(before)


@pytest.mark.parametrize("fmt", ["md", "csv"])
def test_a_report_written_over_a_published_one_keeps_its_permissions(hostile_content, tmp_path, fmt, umask):
    """Written beside and renamed over, a report the web server published (0644, or behind a link) came
    back 0600 after the next scheduled run, and the server answered 403. A file replaced keeps its mode."""
    umask(0o077)
    out = tmp_path / ("r.md" if fmt == "md" else "tables")
    [first, *_] = write_report(hostile_content, fmt, out)
    assert first.stat().st_mode & 0o077 == 0                        # new, under umask 077: private
    for path in ([out] if fmt == "md" else list(out.iterdir())):
        path.chmod(0o644)
    written = write_report(hostile_content, fmt, out)
    assert {oct(p.stat().st_mode & 0o777) for p in written} == {"0o644"}


@pytest.mark.parametrize("fmt", ["md", "xlsx", "csv"])
def test_a_new_report_gets_the_mode_the_umask_gives(hostile_content, tmp_path, fmt, umask):
    """A new report was always 0600 (the temporary file's mode, renamed): a report dated by day, new every
    day, was refused by the web server (403) every day until someone ran chmod. A new file now gets what
    the umask gives any new file (0644 under 022), a private umask (077) keeps it 0600."""
    for mask, mode in ((0o022, "0o644"), (0o027, "0o640")):
        umask(mask)
        out = tmp_path / f"{mask:o}" / ("r." + fmt if fmt != "csv" else "tables")
        written = write_report(hostile_content, fmt, out)
        assert {oct(p.stat().st_mode & 0o777) for p in written} == {mode}, mask
    assert not [p for p in tmp_path.rglob(".*")], "no temporary file is left behind"


def test_the_findings_table_has_the_same_columns_with_or_without_findings(hostile_content):
    """The findings table of a window without findings had no `state` column: a daily csv or parquet
    folder read as one dataset changed its schema on quiet days."""
    import dataclasses

    from flowscope.report.tables import frames

    quiet = dataclasses.replace(hostile_content, analysis=dataclasses.replace(
        hostile_content.analysis, findings=hostile_content.findings.iloc[:0]))
    assert quiet.findings.empty and not hostile_content.findings.empty
    assert list(frames(quiet)["findings"].columns) == list(frames(hostile_content)["findings"].columns)


def test_the_findings_table_says_what_its_dollars_are(hostile_content):
    """`monthly_usd` holds a saving, a cost, an episode's cost once or a spend: the JSON said which, the CSV,
    Parquet and Excel tables did not, so a storm's one-off cost read as a monthly rate."""
    from flowscope.analysis.checks import dollars_is
    from flowscope.report.tables import frames

    table = frames(hostile_content)["findings"]
    columns = list(table.columns)
    assert columns[columns.index("monthly_usd") + 1] == "monthly_usd_is"
    said = [None if not isinstance(v, str) else v for v in table["monthly_usd_is"]]     # NaN: an empty cell
    assert said == [dollars_is(k) for k in table["kind"]]
    assert {"cost"} <= set(table["monthly_usd_is"])


def test_the_umask_is_read_without_proc_too_and_left_as_it_was(monkeypatch, umask):
    from flowscope.report import files

    umask(0o027)
    assert files._new_file_mode() == 0o640

    def no_proc(*args, **kwargs):
        raise OSError("no /proc here")

    monkeypatch.setattr(files, "open", no_proc, raising=False)
    assert files._new_file_mode() == 0o640
    assert os.umask(0o027) == 0o027                                 # restored


@pytest.mark.parametrize("shares,shown", [([0.5, 0.2], "0.0%"), ([0.5, 0.00001], "0.0##%"), ([0.0, 0.0], "0.0%"),
                                          ([0.3, 0.0004], "0.0#%")])
def test_a_rare_share_reads_above_zero_in_a_sheet(shares, shown):
    """1 failed visit in 100,000 read "0.0%" in the Excel sheet (the dashboard said 0.001%): the percentage
    format takes the decimals the column's smallest share above zero needs."""
    from flowscope.report.tables import sheet_format

    assert sheet_format("share", pd.Series(shares)) == shown


def test_an_empty_window_s_summary_line_says_no_data_not_0_findings(tmp_path):
    """The summary line, the first text of every Slack, Teams and e-mail message and of `report`'s output,
    ended "0 executions of 0 workflow(s); 0 finding(s)" for a window nothing was analysed in: read in a
    chat preview, an all-clear. It says there was nothing to look at; a window with data keeps its count."""
    from flowscope.report.notify.message import build_message
    from tests.report.helpers import make_store

    later = END + dt.timedelta(days=40)
    store = make_store(tmp_path / "s", failed_scope=False)
    empty = build_content(store, since=later - dt.timedelta(days=7), until=later, now=later)
    assert empty.coverage.status == "no_data" and empty.findings.empty
    line = empty.summary_line()
    assert "0 finding(s)" not in line and line.endswith("; no data, so no findings"), line
    assert build_message(empty).summary == line
    full = build_content(store, since=END - dt.timedelta(days=7), until=END, now=END)
    assert full.summary_line().count(f"; {len(full.findings)} finding(s)") == 1


def test_html_shows_no_control_characters_escape_sequences_or_bidi_controls(hostile_content):
    """Every other format drops them (`textsafety`), the HTML page kept them: an error text's ESC ]8
    link, colour, bell, NUL and vertical tab went into the page as they were (NUL is a parse error, the
    rest boxes or nothing), and a right-to-left override in a name ("invoice<U+202E>gnp.exe" read
    "invoiceexe.png") reversed the text after it in its cell. Every value the template shows loses them."""
    from flowscope.report.html import _environment, render_html

    page = render_html(hostile_content, charts="cdn")
    assert "__pwned" in page                                     # the hostile text is there, as text
    for bad in ("\x1b", "\x00", "\x07", "\x0b", "http://evil.example/z"):
        assert bad not in page, repr(bad)
    shown = _environment().from_string("<td>{{ name }}</td>{{ safe|safe }}").render(
        name="invoice\u202egnp.exe \u2066x\u2069\u200f \x1b[31mred", safe="<b>\u202e</b>")
    assert shown == "<td>invoicegnp.exe x red</td><b>\u202e</b>"   # what the page itself marks safe is its own
