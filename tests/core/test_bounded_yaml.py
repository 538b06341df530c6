"""`bounded_yaml`: every YAML text flowscope reads (an imported file, a GCP workflow's source, the dashboard's
state graph) is read with its aliases bounded. An alias bomb in a workflow's `sourceContents` hung
`flowscope import` (the definition's steps walked again through every alias) after the file itself was safe.

The cases that hung run in a child process with a timeout: a hang fails the test instead of stopping the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from flowscope import bounded_yaml

HANG_SECONDS = 60

ANCHORED = """\
defaults: &defaults
  timeout: 30
  retries: [1, 2]
main:
  steps:
    - first:
        <<: *defaults
        call: http.get
    - second:
        args: *defaults
"""


def step_bomb(levels: int = 9) -> str:
    """A workflow source whose `main` steps are nine aliases of nine aliases of ... nested steps: 2 KB that
    read as 9**9 steps."""
    lines = ['s1: &s1 [{"x": {"assign": [{"v": 1}]}}' + ', {"x": {"assign": [{"v": 1}]}}' * 8 + "]"]
    for i in range(2, levels + 1):
        lines.append(f"s{i}: &s{i} [" + ", ".join([f'{{"y{i}": {{"steps": *s{i - 1}}}}}'] * 9) + "]")
    return "\n".join([*lines, f"main:\n  steps: *s{levels}"]) + "\n"


def test_anchors_aliases_and_merge_keys_read_as_pyyaml_reads_them():
    assert bounded_yaml.safe_load(ANCHORED) == yaml.safe_load(ANCHORED)
    assert bounded_yaml.safe_load_all(ANCHORED + "---\n" + ANCHORED) == list(yaml.safe_load_all(ANCHORED + "---\n"
                                                                                              + ANCHORED))
    assert bounded_yaml.safe_load("") is None


def test_one_document_is_asked_of_safe_load_as_of_yamls():
    with pytest.raises(yaml.YAMLError):
        bounded_yaml.safe_load("a: 1\n---\nb: 2\n")


@pytest.mark.parametrize(("text", "line", "said"), [
    (step_bomb(), 5, "beyond 100,000 nodes"),
    ("a: &a [1, *a]\n", 1, "holds itself"),
])
def test_an_alias_bomb_is_a_yaml_error_naming_where(text, line, said):
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        bounded_yaml.safe_load(text)
    assert caught.value.problem_mark is not None and caught.value.problem_mark.line + 1 == line
    assert said in str(caught.value)


_CHILD = """\
import sys
from flowscope.collectors.gcp.definition import definition_problem
from flowscope.collectors.graph import DefinitionError
from flowscope.ui import graph
text = open(sys.argv[1]).read()
print("gcp:", definition_problem(text))
try:
    graph.parse(text, "gcp-yaml")
except DefinitionError as exc:
    print("graph:", exc)
"""


def test_a_workflow_source_that_is_an_alias_bomb_is_a_definition_problem_not_a_hang(tmp_path):
    """The GCP definition reader (imports, the live collector, the analyses' step kinds) and the dashboard's
    state graph each said the source cannot be parsed, at once."""
    source = tmp_path / "source.yaml"
    source.write_text(step_bomb())
    try:
        done = subprocess.run([sys.executable, "-c", _CHILD, str(source)], capture_output=True, text=True,
                              timeout=HANG_SECONDS, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading the workflow source still running after {HANG_SECONDS} s: it hangs")
    assert "gcp: not YAML or JSON: its aliases" in done.stdout, done.stdout
    assert "graph: the definition is neither JSON nor YAML" in done.stdout and "aliases" in done.stdout, done.stdout


def test_an_export_whose_workflow_source_is_an_alias_bomb_imports_with_a_warning(tmp_path):
    from tests.gcp import test_transform as g

    workflow = json.loads(json.dumps(g.WORKFLOW))
    workflow["sourceContents"] = step_bomb()
    export = tmp_path / "workflows.json"
    export.write_text(json.dumps({"workflows": [workflow]}))
    child = ("import sys; from typer.testing import CliRunner; from flowscope.cli import app; "
             "r = CliRunner(env={'COLUMNS': '400'}).invoke(app, sys.argv[1:]); print(r.output); sys.exit(r.exit_code)")
    try:
        done = subprocess.run([sys.executable, "-c", child, "import", "--store", str(tmp_path / "store"), str(export)],
                              capture_output=True, text=True, timeout=HANG_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"flowscope import still running after {HANG_SECONDS} s: it hangs")
    text = " ".join(done.stdout.split())
    assert done.returncode == 0, text
    assert "rows written: 1 workflows" in text and "its source could not be parsed" in text and "aliases" in text

