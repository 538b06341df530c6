"""The analyses scored against the ground truth of a demo built mostly from clones (issue 15).

Big demos write the bulk of ordinary executions as copies of native ones (simulate/clone.py).
This scores such a demo exactly as tests/analysis/test_scoring.py scores the all-native one:
the same labels must be found (recall 1.0), with the same precision, and nothing on the healthy
workflows: the fast path must not change what a user finds.
"""

from __future__ import annotations

import datetime as dt

import pytest

from flowscope.analysis.run import analyze_store
from flowscope.simulate import demo
from flowscope.store import Store
from tests.analysis.test_scoring import DAYS, END, EXECUTIONS, MIN_PRECISION, _report, score

pytestmark = pytest.mark.slow  # scores a 30-day demo of 8,000 executions


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo, "NATIVE_EXECUTIONS", EXECUTIONS // 10)    # about 60% of executions cloned
        store = Store(tmp_path_factory.mktemp("scoring-clones") / "store")
        built = demo.build_demo(store, days=DAYS, executions=EXECUTIONS, seed=7, end=END)
    findings = analyze_store(store, since=END - dt.timedelta(days=DAYS), now=END)
    return built, findings


def test_mostly_cloned(scored):
    built, _findings = scored
    assert sum(built.cloned.values()) > 0.5 * built.written["executions"]
    assert all(built.cloned.values()) and not any(built.skips.values())


def test_scores_against_ground_truth_with_clones(scored, capsys):
    built, findings = scored
    result = score(built.truth, findings, built.healthy_workflows)
    with capsys.disabled():
        print(f"\nscores on a {DAYS}-day demo of {EXECUTIONS:,} executions, "
              f"{sum(built.cloned.values()):,} of them clones ({len(findings)} findings):")
        print(_report(result))
    assert not result["missed"], f"anomalies not found: {result['missed']}"
    total = sum(k["findings"] for k in result["per_kind"].values())
    fp = sum(k["fp"] for k in result["per_kind"].values())
    assert (total - fp) / total >= MIN_PRECISION, f"precision: {result['false_positives']}"
