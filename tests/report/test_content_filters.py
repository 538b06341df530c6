"""`flowscope.report.build_content`, the Python API the commands and `run` build on, reads its filters as
`flowscope analyze` and the notebook read theirs (`session.clouds_list`, `session.workflows_list`)."""

from __future__ import annotations

import datetime as dt

import flowscope
from flowscope.report import build_content
from flowscope.store import Store
from tests.report.helpers import END

SINCE = END - dt.timedelta(days=7)


def test_build_content_reads_a_cloud_in_any_case_a_name_as_one_name_and_each_once(report_store):
    """`build_content(store, clouds=["AWS"])` was "unknown cloud 'AWS'" where `--cloud AWS` and
    `flowscope.analyze(cloud="AWS")` read aws; `clouds="aws"` was split into 'a', 'w', 's' ("unknown cloud
    'a'"); `clouds=["aws", "aws"]` listed aws twice in the coverage a report's header and JSON show."""
    store = Store.open(report_store)
    plain = build_content(store, since=SINCE, until=END, now=END, clouds=["aws"])
    workflow = str(flowscope.open(store).workflows(cloud="aws")["name"].iloc[0])
    for clouds in (["AWS"], "aws", ["aws", " Aws ", "aws"]):
        content = build_content(store, since=SINCE, until=END, now=END, clouds=clouds)
        assert content.coverage.clouds == ["aws"], clouds
        assert content.coverage.executions == plain.coverage.executions > 0, clouds
        assert content.overview.equals(plain.overview), clouds
    one = build_content(store, since=SINCE, until=END, now=END, workflows=[workflow])
    for workflows in (workflow, [workflow, workflow]):
        content = build_content(store, since=SINCE, until=END, now=END, workflows=workflows)
        assert content.coverage.workflow_filter == [workflow], workflows
        assert content.coverage.executions == one.coverage.executions > 0, workflows
