"""A workflow filter picks within the clouds chosen, by the one rule of every workflow filter
(`suite.workflows_named`: a name or id as stored, else as shown), in `check_filters` (the CLI, the notebook
API), the analyses' context and the reports' tables alike. `check_filters` matched the name as stored
across every cloud first: with `--cloud aws --workflow café`, an Azure workflow spelt so hid the AWS one
stored decomposed (shown "café"), and the filter was refused ("is in azure, not in aws"); two workflows of
other clouds shown alike refused a name the chosen cloud holds once."""

from __future__ import annotations

import pytest

from flowscope.analysis import tables as q
from flowscope.analysis.run import check_filters
from flowscope.analysis.suite import build_context
from flowscope.report.content import workflow_ids
from tests.analysis.helpers import World, at, tables_from_rows

COMPOSED, DECOMPOSED = "caf\u00e9", "cafe\u0301"


@pytest.fixture(scope="module")
def world():
    w = World()
    aws = w.workflow(DECOMPOSED)                                   # shown "café"
    azure = w.workflow(COMPOSED, cloud="azure", wf_id="/subscriptions/s/azure/cafe")
    gcp_a = w.workflow("pay\x07", cloud="gcp", wf_id="projects/p/workflows/pay-a")     # both shown "pay"
    gcp_b = w.workflow("pay\x1b", cloud="gcp", wf_id="projects/p/workflows/pay-b")
    aws_pay = w.workflow("pay")
    for wf, cloud in ((aws, "aws"), (azure, "azure"), (gcp_a, "gcp"), (gcp_b, "gcp"), (aws_pay, "aws")):
        w.execution(wf, at(hours=1), cloud=cloud)
    return w


def test_a_name_is_matched_in_the_chosen_clouds(world):
    tables = tables_from_rows(world.rows)
    aws_id = next(r["workflow_id"] for r in world.rows["workflows"] if r["name"] == DECOMPOSED)
    assert check_filters(tables, clouds=["aws"], workflows=[COMPOSED]) == [aws_id]
    ctx = build_context(tables, since=at(), until=at(days=1), now=at(days=1), clouds=["aws"], workflows=[COMPOSED])
    assert list(ctx.workflows["workflow_id"]) == [aws_id]
    con = q.prepare(tables["executions"]._find_backend().con)
    assert workflow_ids(con, [COMPOSED], clouds=("aws",)) == (aws_id,)


def test_names_shown_alike_in_other_clouds_do_not_refuse_the_chosen_clouds_one(world):
    tables = tables_from_rows(world.rows)
    aws_pay = next(r["workflow_id"] for r in world.rows["workflows"] if r["name"] == "pay")
    assert check_filters(tables, clouds=["aws"], workflows=["pay"]) == [aws_pay]
    with pytest.raises(ValueError, match="2 workflows show as 'pay'"):
        check_filters(tables, clouds=["gcp"], workflows=["pay"])


def test_a_workflow_only_in_other_clouds_is_still_refused_naming_its_cloud(world):
    tables = tables_from_rows(world.rows)
    with pytest.raises(ValueError, match=r"is in aws, azure, not in gcp"):
        check_filters(tables, clouds=["gcp"], workflows=[COMPOSED])
