"""The dashboard's graph of a GCP Workflows source comes from the cloud's own definition module."""

from __future__ import annotations

from flowscope.collectors.gcp.definition import workflow_graph
from flowscope.ui import graph

SOURCE = """
main:
  steps:
    - init:
        assign: [{n: 1}]
    - run_sub:
        call: helper
        args: {n: "${n}"}
    - done:
        return: ok
helper:
  params: [n]
  steps:
    - fetch:
        call: http.get
        args: {url: https://example.com}
        next: finish
    - skipped:
        assign: [{x: 1}]
    - finish:
        return: "${n}"
"""


def test_subworkflow_steps_are_named_as_step_rows_name_them():
    g = graph.parse(SOURCE, "gcp-yaml")
    assert {"init", "run_sub", "done", "helper/fetch", "helper/skipped", "helper/finish"} == set(g.nodes)
    assert g.starts == ["init"]
    assert any((e.source, e.target) == ("helper/fetch", "helper/finish") for e in g.edges)
    assert not any(e.source == "helper/fetch" and e.target == "helper/skipped" for e in g.edges)


def test_the_dashboard_parser_is_the_cloud_parser():
    assert graph.parse_gcp is workflow_graph
