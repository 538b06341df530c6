"""The analyses scored against the simulator's ground truth.

A simulated 30-day, three-cloud demo store (flowscope.simulate.demo) with injected, labelled
anomalies is analysed over the whole window, and every finding is matched against the labels.

Matching rule: a label is found when a finding has the same kind, cloud and workflow name, the
same step when the label names one, and a window that overlaps the label's. Documented naming
conventions: a `polling_loop` finding names the polled task and lists the whole cycle in
`evidence["cycle"]`, so a label naming any step of the cycle matches; a `collection_gap` label
names no workflow (workflow "") and matches a gap finding of its scope (`workflow_id`).

Precision counts EVERY finding, of every kind (latency_drift, history_limit_risk, costly_step ...
included): a finding is a false positive when it names a workflow listed as healthy or matches
no label. Recall must be 1.0 and precision at least 0.9.

What-if kinds are economic judgments: the simulator labels them where they pay off at demo
volume (events-ingest-standard: short runs of an inline Map over 20-60 records, many transitions
each, so Express is cheaper; ledger-standard: a whole Standard plan for a few hundred runs a month,
so Consumption is cheaper), and keeps the healthy short workflow (orders-standard) out of Express
reach with a `.waitForTaskToken` callback, as real Standard-only workflows are.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import pandas as pd
import pytest

from flowscope.analysis.run import analyze_store
from flowscope.model import UTC
from flowscope.simulate.base import Anomaly
from flowscope.simulate.demo import build_demo
from flowscope.store import Store

pytestmark = pytest.mark.slow  # scores a 30-day demo of 8,000 executions

END = dt.datetime(2026, 3, 31, tzinfo=UTC)
DAYS = 30
EXECUTIONS = 8_000
MIN_PRECISION = 0.9


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("scoring") / "store")
    demo = build_demo(store, days=DAYS, executions=EXECUTIONS, seed=7, end=END)
    findings = analyze_store(store, since=END - dt.timedelta(days=DAYS), now=END)
    return demo, findings


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _overlaps(a: Anomaly, f: dict) -> bool:
    start, end = f["window_start"], f["window_end"]
    if start is None or pd.isna(start) or end is None or pd.isna(end):
        return True
    return pd.Timestamp(start) <= pd.Timestamp(a.window_end) and pd.Timestamp(end) >= pd.Timestamp(a.window_start)


def matches(a: Anomaly, f: dict) -> bool:
    if f["kind"] != a.kind or f["cloud"] != a.cloud.value:
        return False
    if a.workflow:
        if _text(f["workflow"]) != a.workflow:
            return False
    else:                                         # a scope-level label (collection gap)
        scope = a.detail.get("scope")
        if _text(f["workflow"]) is not None or (scope and f["workflow_id"] != scope):
            return False
    if a.step is not None:
        cycle = (f.get("evidence") or {}).get("cycle") or []
        if _text(f["step"]) != a.step and not (a.kind == "polling_loop" and a.step in cycle):
            return False
    return _overlaps(a, f)


def score(truth: list[Anomaly], findings: pd.DataFrame, healthy: dict[str, list[str]]) -> dict:
    rows = findings.to_dict("records")
    healthy_set = {(cloud, name) for cloud, names in healthy.items() for name in names}
    per_kind: dict[str, dict[str, int]] = defaultdict(lambda: {"labels": 0, "found": 0, "findings": 0, "fp": 0})
    missed, false_positives = [], []
    for a in truth:
        k = per_kind[a.kind]
        k["labels"] += 1
        if any(matches(a, f) for f in rows):
            k["found"] += 1
        else:
            missed.append(a)
    for f in rows:
        k = per_kind[f["kind"]]
        k["findings"] += 1
        on_healthy = (f["cloud"], _text(f["workflow"])) in healthy_set
        if on_healthy or not any(matches(a, f) for a in truth):
            k["fp"] += 1
            false_positives.append(f)
    return {"per_kind": dict(per_kind), "missed": missed, "false_positives": false_positives}


def _report(result: dict) -> str:
    lines = [f"{'kind':<22}{'labels':>7}{'found':>7}{'recall':>8}{'findings':>10}{'fp':>5}{'precision':>11}"]
    tot = defaultdict(int)
    for kind, k in sorted(result["per_kind"].items()):
        recall = k["found"] / k["labels"] if k["labels"] else float("nan")
        precision = (k["findings"] - k["fp"]) / k["findings"] if k["findings"] else float("nan")
        lines.append(f"{kind:<22}{k['labels']:>7}{k['found']:>7}{recall:>8.2f}{k['findings']:>10}{k['fp']:>5}"
                     f"{precision:>11.2f}")
        for key in ("labels", "found", "findings", "fp"):
            tot[key] += k[key]
    lines.append(f"{'ALL':<22}{tot['labels']:>7}{tot['found']:>7}{tot['found'] / tot['labels']:>8.2f}"
                 f"{tot['findings']:>10}{tot['fp']:>5}{(tot['findings'] - tot['fp']) / tot['findings']:>11.2f}")
    for a in result["missed"]:
        lines.append(f"missed: {a.kind} {a.cloud.value} {a.workflow} {a.step} "
                     f"{a.window_start:%m-%d %H:%M}..{a.window_end:%m-%d %H:%M}")
    for f in result["false_positives"]:
        lines.append(f"false positive: {f['kind']} {f['cloud']} {f['workflow']} {f['step']}: {f['title']}")
    return "\n".join(lines)


def test_scores_against_ground_truth(scored, capsys):
    demo, findings = scored
    result = score(demo.truth, findings, demo.healthy_workflows)
    with capsys.disabled():
        print(f"\nscores on a {DAYS}-day demo of {EXECUTIONS:,} executions ({len(findings)} findings):")
        print(_report(result))
    assert not result["missed"], f"anomalies not found: {result['missed']}"
    total = sum(k["findings"] for k in result["per_kind"].values())
    fp = sum(k["fp"] for k in result["per_kind"].values())
    precision = (total - fp) / total if total else 1.0
    assert precision >= MIN_PRECISION, f"precision {precision:.2f}: {result['false_positives']}"


def test_nothing_found_on_healthy_workflows(scored):
    demo, findings = scored
    healthy = {(c, n) for c, names in demo.healthy_workflows.items() for n in names}
    on_healthy = findings[[(c, w) in healthy for c, w in zip(findings["cloud"], findings["workflow"], strict=True)]]
    assert on_healthy.empty, on_healthy[["kind", "cloud", "workflow", "step", "title"]].to_string()


def test_retry_storms_are_one_finding_per_injected_window(scored):
    demo, findings = scored
    storms = [a for a in demo.truth if a.kind == "retry_storm"]
    for a in storms:
        hits = [f for f in findings.to_dict("records") if matches(a, f)]
        assert len(hits) == 1, f"{a.workflow}/{a.step}: {len(hits)} storm findings for one injected storm"
        f = hits[0]
        covered = (min(f["window_end"], pd.Timestamp(a.window_end))
                   - max(f["window_start"], pd.Timestamp(a.window_start)))
        assert covered / (pd.Timestamp(a.window_end) - pd.Timestamp(a.window_start)) >= 0.5
