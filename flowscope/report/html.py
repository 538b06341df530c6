"""The HTML report: one self-contained file that opens offline.

Jinja2 with autoescape lays out `ReportContent`; every cloud-originated string reaches the page
as escaped text. Charts are the dashboard's own Vega-Lite specs (`flowscope.ui.charts`, which imports
no Streamlit), embedded as JSON data blocks and drawn by vega-embed (`report/vega.py`), its libraries
inlined by default (the file opens offline) or loaded from jsDelivr (`cdn`: exact files, each with its
Subresource Integrity hash, so the browser runs no other bytes; `vega.CDN_FILES`). A Content-Security-Policy
with a per-file nonce lets only the report's own scripts run, so even a name that slipped through could
not run one.
"""

from __future__ import annotations

import secrets
from typing import Any

import pandas as pd

from flowscope.analysis.checks import dollars_text
from flowscope.format import (
    fmt_count,
    fmt_count_change,
    fmt_duration,
    fmt_evidence,
    fmt_pct,
    fmt_pt_change,
    fmt_usd,
    fmt_usd_change,
    is_missing,
)
from flowscope.model import C
from flowscope.report import vega
from flowscope.report.content import ReportContent, window_time
from flowscope.report.vega import chart_html

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'nonce-{{ nonce }}'\
{% if charts == 'cdn' %} {{ cdn }}{% endif %}; style-src 'unsafe-inline'; img-src data:; font-src data:">
<title>{{ c.title }} {{ window }}</title>
<style nonce="{{ nonce }}">
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1200px;
color:#222;padding:0 16px}
h1{margin-bottom:4px} h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:32px;break-after:avoid}
table{border-collapse:collapse;width:100%;font-size:13px;margin:8px 0}
th,td{border-bottom:1px solid #e5e5e5;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f6f6f6} td.n{text-align:right;white-space:nowrap}
.banner{padding:10px 14px;border-radius:6px;margin:12px 0}
.warn{background:#fff4e5;border:1px solid #ff9f1c} .bad{background:#fdecea;border:1px solid #d62728}
.ok{background:#eaf6ee;border:1px solid #2e9d5b}
.sev{font-weight:600;text-transform:uppercase;font-size:11px}
.sev-critical{color:#9b1d20}.sev-high{color:#d62728}.sev-medium{color:#c77700}.sev-low{color:#1f77b4}
.sev-info{color:#7f7f7f} .state{font-size:11px;padding:1px 5px;border-radius:8px;background:#eee}
.state-new,.state-reopened,.state-worsened{background:#ffe08a}
.muted{color:#777;font-size:12px} .grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.chart{min-height:320px;break-inside:avoid} .finding{break-inside:avoid}
.chart.vega-embed{display:block;width:100%}
@media print{body{margin:0;max-width:none}.grid{grid-template-columns:1fr 1fr}}
</style>
{% if charts == 'inline' %}<script nonce="{{ nonce }}">{{ vega_js|safe }}</script>
{% else %}{% for s in cdn_scripts %}<script nonce="{{ nonce }}" src="{{ s.url }}" integrity="{{ s.integrity }}" \
crossorigin="anonymous" charset="utf-8"></script>
{% endfor %}{% endif %}
</head><body>
<h1>{{ c.title }}</h1>
<div class="muted">Window {{ window }} UTC{% if filters %} &middot; {{ filters }}{% endif %}
 &middot; generated {{ generated }} UTC &middot; previous period {{ previous_window }} UTC</div>

{% if status == 'no_data' %}<div class="banner bad" id="status"><b>No data.</b> {{ message }}</div>{% endif %}
{# every reason: an empty window's banner hid the failed collection that emptied it #}
{% if failed %}<div class="banner bad" id="failed"><b>The last collection failed</b>
 for {{ failed|length }} scope(s): the window may be incomplete.<ul>{% for f in failed %}
<li>{{ f }}</li>{% endfor %}</ul></div>
{% elif not gap and status != 'no_data' %}<div class="banner ok" id="status">Data for the whole window:
 {{ c.coverage.executions|int }} executions of {{ c.coverage.workflows|int }} workflow(s).</div>{% endif %}
{% if gap %}<div class="banner warn" id="gap"><b>The data ends before the window does:</b> {{ gap }}</div>{% endif %}
{% if changes %}<div class="banner warn" id="changes"><b>What changed:</b> {{ changes }}</div>{% endif %}

<h2 id="summary">Summary per cloud</h2>
<table><thead><tr><th>cloud</th><th>executions</th><th>run failure rate</th><th>retries</th>
<th>spend in window</th><th>projected monthly spend</th></tr></thead><tbody>
{% for r in summary %}<tr><td><b>{{ r.cloud }}</b></td>{% for cell in r.cells %}
<td class="n">{{ cell.now }}{% if cell.before %}<br><span class="muted">{{ cell.before }}</span>{% endif %}</td>
{% endfor %}</tr>{% endfor %}</tbody></table>
<div class="muted">{% if compare %}Grey: the previous period ({{ previous_window }}) and the change.
{% else %}No comparison: {{ no_comparison }}.{% endif %}
 Potential savings the cost findings name: <b>{{ savings }}</b> per month (not part of spend).</div>

<h2 id="trends">Cost and failure trends</h2>
<div class="grid">{% for ch in trends %}{{ ch|safe }}{% endfor %}</div>

<h2 id="findings">Findings ({{ findings|length }})</h2>
{{ severity_chart|safe }}
{% if not findings %}<p>{{ no_findings }}</p>{% endif %}
{% for f in findings %}<div class="finding" id="finding-{{ f.id }}">
<h3><span class="sev sev-{{ f.severity }}">{{ f.severity }}</span>
{% if f.state %}<span class="state state-{{ f.state }}">{{ f.state }}</span>{% endif %} {{ f.title }}</h3>
<table><tr><th>kind</th><td>{{ f.kind }}</td><th>cloud</th><td>{{ f.cloud }}</td><th>workflow</th>
<td>{{ f.workflow }}</td><th>step</th><td>{{ f.step }}</td></tr>
<tr><th>monthly</th><td>{{ f.monthly }}</td><th>executions affected</th><td>{{ f.affected }}</td>
<th>first reported</th><td>{{ f.first_seen }}</td><th>id</th><td>{{ f.id }}</td></tr>
<tr><th>evidence</th><td colspan="7">{{ f.evidence }}</td></tr>
<tr><th>recommendation</th><td colspan="7">{{ f.recommendation }}</td></tr>
{% if f.samples %}<tr><th>sample executions</th><td colspan="7">{% for s in f.samples %}
{%- if not loop.first %}<br>{% endif %}<code>{{ s }}</code>{% endfor %}</td></tr>{% endif %}</table></div>
{% endfor %}
{% if resolved %}<h3 id="resolved">Resolved since the last report ({{ resolved|length }})</h3>
<table><thead><tr><th>severity</th><th>kind</th><th>cloud</th><th>workflow</th><th>step</th><th>title</th>
<th>first reported</th><th>last reported</th></tr></thead><tbody>
{% for r in resolved %}<tr>{% for v in r %}<td>{{ v }}</td>
{% endfor %}</tr>{% endfor %}</tbody></table>{% endif %}

{% for t in tables %}<h2 id="{{ t.id }}">{{ t.title }}</h2>
{% if t.chart %}{{ t.chart|safe }}{% endif %}
{% if t.rows %}<table><thead><tr>{% for h in t.header %}<th>{{ h }}</th>{% endfor %}</tr></thead><tbody>
{% for r in t.rows %}<tr>{% for v in r %}<td{% if loop.index0 in t.numeric %} class="n"{% endif %}>{{ v }}</td>
{% endfor %}</tr>{% endfor %}</tbody></table>{% else %}<p>{{ t.empty }}</p>{% endif %}
{% endfor %}
<p class="muted">flowscope: the same measures as the dashboard and <code>flowscope analyze</code> for this
window and these filters.</p>
<script nonce="{{ nonce }}">{{ draw|safe }}</script>
</body></html>
"""


def _environment() -> Any:
    from jinja2 import Environment

    return Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, finalize=_shown)


def _shown(value: Any) -> Any:
    """Every value the template shows, before it is escaped: text without terminal escape sequences,
    control characters and bidi controls (`textsafety.terminal_text`, what every other format drops: an
    error text's hidden OSC-8 link and NUL went into the page, and a right-to-left override in a name
    reversed the rest of its cell). What the page marks safe (its charts' specs, Vega's script) is its own, kept."""
    from markupsafe import Markup

    from flowscope.textsafety import terminal_text

    if isinstance(value, str) and not isinstance(value, Markup) and not value.isprintable():
        return terminal_text(value)
    return value


def _iso(value: Any) -> str:
    if value is None or is_missing(value):
        return "—"
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")


def _text(value: Any) -> str:
    return "—" if value is None or is_missing(value) or value == "" else str(value)


def _label(frame: pd.DataFrame, *parts: str) -> pd.Series:
    """'workflow / step' for a chart axis, cut to 120 characters (Vega draws it as text)."""
    text = frame[list(parts)].astype(str).agg(" / ".join, axis=1) if not frame.empty else pd.Series(dtype=object)
    return text.map(lambda s: s[:120])


def _summary(c: ReportContent) -> list[dict[str, Any]]:
    prev = {r[C.cloud]: r for r in c.previous.to_dict("records")} if c.previous_has_data else {}
    out = []
    for r in c.overview.to_dict("records"):
        p = prev.get(r[C.cloud])
        if p is not None and not p["executions"]:
            p = None

        def cell(now: str, before: str | None, delta: str | None, p: Any = p) -> dict[str, str | None]:
            return {"now": now, "before": f"{before} ({delta})" if p is not None and before else None}

        out.append({"cloud": r[C.cloud], "cells": [
            cell(fmt_count(r["executions"]), p and fmt_count(p["executions"]),
                 p and fmt_count_change(r["executions"], p["executions"])),
            cell(fmt_pct(r["failure_rate"]), p and fmt_pct(p["failure_rate"]),
                 p and fmt_pt_change(r["failure_rate"], p["failure_rate"])),
            cell(fmt_count(r["retries"]), p and fmt_count(p["retries"]),
                 p and fmt_count_change(r["retries"], p["retries"])),
            cell(fmt_usd(r["cost_usd"]), p and fmt_usd(p["cost_usd"]),
                 p and fmt_usd_change(r["cost_usd"], p["cost_usd"])),
            cell(fmt_usd(r["monthly_usd"]), p and fmt_usd(p["monthly_usd"]),
                 p and fmt_usd_change(r["monthly_usd"], p["monthly_usd"])),
        ]})
    return out


def _findings(c: ReportContent) -> list[dict[str, Any]]:
    first = c.history.first_seen if c.history is not None else {}
    return [{
        "id": r["id"], "severity": r["severity"], "state": c.state_of(r["id"]), "kind": r["kind"],
        "cloud": _text(r["cloud"]), "workflow": _text(r["workflow"]), "step": _text(r["step"]),
        "title": r["title"], "monthly": dollars_text(r["monthly_usd"], r["kind"]),
        "affected": fmt_count(r["executions_affected"]),
        "evidence": fmt_evidence(r["evidence"]), "recommendation": _text(r["recommendation"]),
        "first_seen": _iso(first.get(r["id"])), "samples": [str(s) for s in list(r["sample_execution_ids"])[:5]],
    } for r in c.findings.to_dict("records")]


def _tables(c: ReportContent) -> list[dict[str, Any]]:
    from flowscope.ui import charts

    costly = c.cost_drivers.assign(label=_label(c.cost_drivers, "workflow", "step"))
    slow = c.slowest_steps.assign(label=_label(c.slowest_steps, "workflow", "step"))
    retried = c.retried_steps.assign(label=_label(c.retried_steps, "workflow", "step"))
    storms = c.retry_storms()
    return [
        {"id": "costly-steps", "title": "Top costly steps",
         "chart": chart_html(charts.hbar(costly, x="cost_usd", y="label", money=True, text="cost_usd",
                                         title="Spend in window by step"), "chart-costly") if len(costly) else "",
         "header": ["cloud", "workflow", "step", "meter", "spend", "share", "$/month", "retries' spend"],
         "numeric": {4, 5, 6, 7}, "empty": "No billed usage in this window.",
         "rows": [[r[C.cloud], _text(r["workflow"]), _text(r["step"]), r[C.meter], fmt_usd(r["cost_usd"]),
                   fmt_pct(r["share"]), fmt_usd(r["monthly_usd"]), fmt_usd(r["retry_usd"])]
                  for r in costly.to_dict("records")]},
        {"id": "retry-storms", "title": "Retry storms and retried steps",
         "chart": chart_html(charts.hbar(retried, x="retries", y="label", title="Retries by step"),
                              "chart-retries") if len(retried) else "",
         "header": ["cloud", "workflow", "step", "visits", "retries", "tries per visit", "max attempts"],
         "numeric": {3, 4, 5, 6}, "empty": "No retries in this window.",
         "rows": [[f"storm: {r['title']}", _text(r["workflow"]), _text(r["step"]), "", "", "", ""]
                  for r in storms.to_dict("records")]
         + [[r[C.cloud], _text(r["workflow"]), _text(r["step"]), fmt_count(r["visits"]), fmt_count(r["retries"]),
             f"{r['amplification']:.2f}", fmt_count(r["max_attempts"])] for r in retried.to_dict("records")]},
        {"id": "slowest-steps", "title": "Slowest steps (p95)",
         "chart": chart_html(charts.percentile_bars(slow, label="label", title="Duration percentiles"),
                              "chart-latency") if len(slow) else "",
         "header": ["cloud", "workflow", "step", "visits", "p50", "p95", "p99", "p95 previous period", "drift"],
         "numeric": {3, 4, 5, 6, 7, 8}, "empty": "No step durations in this window.",
         "rows": [[r[C.cloud], _text(r["workflow"]), _text(r["step"]), fmt_count(r["visits"]),
                   fmt_duration(r["p50_ms"]), fmt_duration(r["p95_ms"]), fmt_duration(r["p99_ms"]),
                   fmt_duration(r["prev_p95_ms"]), "—" if is_missing(r["drift"]) else f"{r['drift']:.2f}x"]
                  for r in slow.to_dict("records")]},
        {"id": "failing-steps", "title": "Failing steps", "chart": "",
         "header": ["cloud", "workflow", "step", "visits", "failed visits", "caught", "failure rate"],
         "numeric": {3, 4, 5, 6}, "empty": "No failed step visits in this window.",
         "rows": [[r[C.cloud], _text(r["workflow"]), _text(r["step"]), fmt_count(r["visits"]),
                   fmt_count(r["failures"]), fmt_count(r["caught"]), fmt_pct(r["failure_rate"])]
                  for r in c.failing_steps.to_dict("records")]},
        # each scope's latest run whatever the window (a scheduled run's own sync included), so its lag and
        # failures count back from when the report was made, which the title says (an older window's
        # report would otherwise read "lag 245 d" beside a failure it says is not in the last 24 h)
        {"id": "collection-health", "title": f"Collection health as of {_iso(c.generated_at)} UTC", "chart": "",
         "header": ["cloud", "scope", "last status", "last sync", "lag", "failures (24 h)", "error"],
         "numeric": {4, 5}, "empty": "No collection runs recorded (an imported or demo store).",
         "rows": [[r[C.cloud], r[C.scope], r[C.status], _iso(r["last_sync_ended"]),
                   fmt_duration(None if is_missing(r["lag_minutes"]) else r["lag_minutes"] * 60_000),
                   fmt_count(r["failures_24h"]), _text(r[C.error])]
                  for r in c.collection_health.to_dict("records")]},
    ]


def render_html(c: ReportContent, *, charts: str = "inline") -> str:
    """The report as one HTML document (`charts`: 'inline' to open offline, 'cdn' for a small file)."""
    if charts not in vega.MODES:
        raise ValueError(f"charts must be one of {', '.join(vega.MODES)}, not {charts!r}")
    from flowscope.ui import charts as builders

    nonce = secrets.token_urlsafe(16)
    cov = c.coverage
    specs = builders.kpi_trends(c.trend, until=c.filters.until, bucket_s=c.bucket_seconds, since=c.filters.since,
                                begins=c.coverage.first)
    trends = [chart_html(spec, f"chart-trend-{key}") for key, spec in specs.items()]
    prev = c.filters.previous()
    filters = "; ".join(p for p in (
        f"clouds: {', '.join(cov.clouds)}" if cov.clouds else "",
        f"workflows: {', '.join(cov.workflow_filter)}" if cov.workflow_filter else "") if p)
    resolved = [] if c.history is None else [
        [r[C.severity], r[C.kind], _text(r[C.cloud]), _text(r[C.workflow]), _text(r[C.step]), _text(r[C.title]),
         _iso(r[C.first_seen]), _iso(r[C.last_seen])] for r in c.history.resolved.to_dict("records")]
    template = _environment().from_string(TEMPLATE)
    return template.render(
        c=c, nonce=nonce, charts=charts, cdn=vega.CDN_ORIGIN,
        cdn_scripts=vega.cdn_scripts() if charts == "cdn" else (),
        vega_js=vega.inline_libraries() if charts == "inline" else "", draw=vega.draw_script(),
        window=f"{window_time(cov.since)} .. {window_time(cov.until)}",
        previous_window=f"{window_time(prev.since)} .. {window_time(prev.until)}",
        generated=_iso(c.generated_at), filters=filters, status=cov.status, message=cov.message() or "",
        gap=cov.gap_note() or "",
        failed=cov.failed_notes(),
        changes=c.history.summary() if c.history is not None else "",
        summary=_summary(c), compare=c.previous_has_data, no_comparison=c.no_comparison(),
        savings=fmt_usd(c.potential_savings), trends=trends,
        severity_chart=chart_html(builders.severity_counts(c.findings), "chart-severity") if len(c.findings) else "",
        findings=_findings(c), resolved=resolved, tables=_tables(c),
        no_findings=c.no_findings_text(),
    )
