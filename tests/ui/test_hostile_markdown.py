"""Text from a cloud is literal text on every page: a step, workflow or error named like Markdown makes no
link, image, LaTeX, colour or HTML on the dashboard (`textsafety.markdown_text`, the reports' rule too)."""

from __future__ import annotations

import re

import pytest

from flowscope.model import C, Cloud, Status
from flowscope.store import Store
from flowscope.textsafety import markdown_text
from tests.ui.helpers import FAILED_SCOPE, build
from tests.ui.test_pages import app, no_exception, open_page

WORKFLOW = "orders_![w](http://127.0.0.1:9/w.png)"
STEP = "Charge_[click](http://127.0.0.1:9/s)"
ERROR = "Declined <b>now</b> $x^2$ :red[alarm] **loud**"
SCOPE_ERROR = "denied ![p](http://127.0.0.1:9/p.png) :material/warning:"
FORGED = ("![w](", "[click](", "![p](", "<b>", ":red[", "**loud**", "_![")
"""What would render as something other than text if it reached Markdown unescaped."""


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory) -> tuple[str, str, str]:
    batch = build(120, days=4, clouds=(Cloud.AWS, Cloud.GCP))
    aws = {r[C.workflow_id] for r in batch.workflows if r[C.cloud] == Cloud.AWS.value}
    for table in ("workflows", "executions"):
        for row in getattr(batch, table):
            if row[C.workflow_id] in aws:
                row[C.workflow_name if table == "executions" else C.name] = WORKFLOW
    for table in ("steps", "usage"):
        for row in getattr(batch, table):
            if row.get(C.name) == "ChargeCard":
                row[C.name] = STEP
    for table in ("steps", "attempts", "executions"):
        for row in getattr(batch, table):
            if row.get(C.error):
                row[C.error], row[C.cause] = ERROR, ERROR
    for row in batch.collection_runs:
        if row[C.scope] == FAILED_SCOPE:
            row[C.error] = SCOPE_ERROR
    failed = [r for r in batch.executions if r[C.workflow_id] in aws and r[C.status] == Status.FAILED.value]
    ok = [r for r in batch.executions if r[C.workflow_id] in aws and r[C.status] == Status.SUCCEEDED.value]
    path = tmp_path_factory.mktemp("ui-hostile")
    Store(path).write(batch)
    return str(path), failed[0][C.execution_id], ok[0][C.execution_id]


def _forged(at) -> list[str]:
    texts = []
    for kind in ("title", "caption", "markdown", "error", "warning", "info", "success", "subheader"):
        texts += [str(e.value) for e in getattr(at, kind)]
    return [t for t in texts if any(f in t for f in FORGED) or re.search(r"(?<!\\)\$x", t)]


@pytest.mark.parametrize("page, params", [("overview", {}), ("executions", {"exec": "failed"}),
                                          ("compare", {"a": "failed", "b": "ok"}), ("failures", {}),
                                          ("collection_health", {})])
def test_cloud_text_cannot_write_markdown(hostile_store, monkeypatch, page, params):
    path, failed, ok = hostile_store
    ids = {"failed": failed, "ok": ok}
    at = open_page(app(path, monkeypatch, **{k: ids[v] for k, v in params.items()}), page)
    no_exception(at)
    assert not _forged(at), _forged(at)[:3]
    shown = " ".join(str(e.value) for kind in ("markdown", "error", "warning", "subheader")
                     for e in getattr(at, kind))
    expected = {"overview": markdown_text(SCOPE_ERROR), "executions": markdown_text(ERROR),
                "compare": markdown_text(WORKFLOW), "failures": None,
                "collection_health": markdown_text(SCOPE_ERROR)}[page]
    assert expected is None or expected in shown, f"the hostile text is shown, escaped, on {page}"


def test_markdown_text_escapes_what_streamlit_reads_as_syntax():
    out = markdown_text("![i](http://x) $a$ :red[b] :material/home: <i>c</i> *d* _e_ `f`\nnext")
    assert out == ("\\!\\[i\\]\\(http\u2060\\://x\\) \\$a\\$ \\:red\\[b\\] \\:material/home\\: "
                   "&lt;i&gt;c&lt;/i&gt; \\*d\\* \\_e\\_ \\`f\\` next")


def test_store_path_with_a_backtick_is_literal_in_the_caption(tmp_path, monkeypatch):
    """A folder name may hold a backtick (legal on Linux): inside the caption's code span it ended the
    span early, and what followed it was read as Markdown (here bold, HTML and LaTeX)."""
    path = tmp_path / "ops`s **store** <img src=x onerror=alert(1)> $x$"
    path.mkdir()
    Store(path).write(build(60, days=3, clouds=(Cloud.AWS,), failed_scope=False))
    at = open_page(app(str(path), monkeypatch), "overview")
    no_exception(at)
    captions = [str(c.value) for c in at.caption if "Store" in str(c.value)]
    assert captions, [str(c.value) for c in at.caption]
    assert markdown_text(str(path)) in captions[0], captions[0]
    assert "`" + str(path) not in captions[0], captions[0]
