"""A report reads one snapshot: a sync committing while the analyses run does not split the findings'
numbers from the summary's."""

from __future__ import annotations

import datetime as dt

from flowscope.report import content
from flowscope.store import Store
from tests.report.helpers import END, make_store
from tests.ui.helpers import build


def test_a_commit_during_the_report_does_not_reach_its_summary(tmp_path, monkeypatch):
    make_store(tmp_path / "s", executions=120)
    real = content.analyze_report

    def analyses_then_a_sync_commits(*args, **kwargs):
        report = real(*args, **kwargs)
        writer = Store(tmp_path / "s")
        writer.write(build(60, end=END - dt.timedelta(hours=1), days=2, seed=99, failed_scope=False))
        return report

    monkeypatch.setattr(content, "analyze_report", analyses_then_a_sync_commits)
    found = content.build_content(Store.open(tmp_path / "s"), since="7d", until=END, now=END)
    assert int(found.overview.iloc[-1]["executions"]) == found.analysis.coverage.executions
    after = content.build_content(Store.open(tmp_path / "s"), since="7d", until=END, now=END)
    assert int(after.overview.iloc[-1]["executions"]) > int(found.overview.iloc[-1]["executions"])
