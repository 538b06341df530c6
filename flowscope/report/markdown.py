"""The Markdown report: summary and findings, to paste into a ticket or a chat.

Cloud-originated text is escaped for Markdown (`textsafety.markdown_text`, the dashboard's rule too):
HTML's `<`, `>` and `&` become entities (renderers pass raw HTML through), every other Markdown
punctuation gets a backslash (no link, image, table cell or emphasis can be forged by a name), and
line breaks become spaces. flowscope's own sentences that name a workflow (`sentence`) are written as
they are, with only the names in them escaped: escaped whole, a pasted report read
"use \\-\\-since 2026\\-11\\-13" and "run \\`flowscope sync\\`".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flowscope.analysis.checks import dollars_text
from flowscope.format import fmt_count, fmt_evidence, fmt_pct, fmt_usd, is_missing
from flowscope.model import C
from flowscope.report.content import ReportContent, window_time
from flowscope.textsafety import markdown_text

MAX_FINDINGS = 50


def md(value: Any) -> str:
    """Untrusted text as literal Markdown text ("—" for a missing value)."""
    if value is None or is_missing(value):
        return "—"
    return markdown_text(value)


def sentence(text: str | None, names: Iterable[str]) -> str:
    """One of flowscope's own sentences (a coverage message) as Markdown: each of `names` in it (the
    cloud-originated values it was built from) escaped as `md` does, the rest kept as written (its flags,
    dates and `code`), but for `<`, `>`, `&` and line breaks, which no sentence of ours means as Markdown."""
    if text is None:
        return md(None)
    wanted = sorted({str(n) for n in names if n}, key=len, reverse=True)
    if not wanted:
        return _plain(text)
    parts = re.split("(" + "|".join(map(re.escape, wanted)) + ")", text)
    return "".join(md(part) if i % 2 else _plain(part) for i, part in enumerate(parts))


def _plain(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"[\r\n\t]+", " ", text)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def render_markdown(c: ReportContent) -> str:
    """Summary per cloud, what changed, the findings (most severe first) and the collection status."""
    cov = c.coverage
    lines = [f"# {md(c.title)}", "",
             f"Window {window_time(cov.since)} .. {window_time(cov.until)} UTC"
             + (f"; clouds: {md(', '.join(cov.clouds))}" if cov.clouds else "")
             + (f"; workflows: {md(', '.join(cov.workflow_filter))}" if cov.workflow_filter else ""), ""]
    names = [*(cov.workflow_filter or ()), *(cov.clouds or ())]     # what a coverage sentence names
    if cov.status == "no_data":
        lines += [f"**No data.** {sentence(cov.message(), names)}", ""]
    if cov.gap_note():
        lines += [f"**The data ends before the window does:** {sentence(cov.gap_note(), names)}", ""]
    failed = cov.failed_notes()
    if failed:     # as the HTML's banner says it; each scope's sentence is the one every surface writes
        cloud_text = [str(v) for f in cov.failed_collections for v in (f["scope"], f["error"]) if v]
        lines += [f"**The last collection failed** for {len(failed)} scope(s): the window may be incomplete.", "",
                  *(f"- {sentence(said, cloud_text)}" for said in failed), ""]
    if c.history is not None:
        lines += [f"**What changed:** {c.history.summary()}", ""]
    lines += ["## Summary", "", _row(["cloud", "executions", "run failure rate", "retries", "spend", "monthly"]),
              _row(["---"] + ["---:"] * 5)]
    for r in c.overview.to_dict("records"):
        lines.append(_row([md(r[C.cloud]), fmt_count(r["executions"]), fmt_pct(r["failure_rate"]),
                           fmt_count(r["retries"]), fmt_usd(r["cost_usd"]), fmt_usd(r["monthly_usd"])]))
    lines += ["", f"Potential savings named by the findings: {fmt_usd(c.potential_savings)} per month.", "",
              f"## Findings ({len(c.findings)})", ""]
    if c.findings.empty:
        lines.append(c.no_findings_text())
    for r in c.findings.head(MAX_FINDINGS).to_dict("records"):
        state = c.state_of(r["id"])
        where = " / ".join(md(v) for v in (r["cloud"], r["workflow"], r["step"]) if not is_missing(v) and v)
        lines += [f"- **{r['severity'].upper()}**" + (f" ({state})" if state else "") + f" {md(r['title'])}",
                  f"  - where: {where}; {dollars_text(r['monthly_usd'], r['kind'])}; id `{r['id']}`",
                  f"  - evidence: {fmt_evidence(r['evidence'], text=md)}",
                  f"  - recommendation: {md(r['recommendation'])}"]
    if len(c.findings) > MAX_FINDINGS:
        lines.append(f"- and {len(c.findings) - MAX_FINDINGS} more, not listed here (the html, csv and xlsx "
                     "reports and `flowscope analyze` list every finding)")
    if c.history is not None and len(c.history.resolved):
        lines += ["", "## Resolved since the last report", ""]
        lines += [f"- {md(r[C.title])} (`{r[C.id]}`)" for r in c.history.resolved.to_dict("records")]
    return "\n".join(lines) + "\n"
