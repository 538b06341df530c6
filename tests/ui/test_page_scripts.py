"""A page script's bare expressions are drawn: Streamlit's "magic" writes every expression statement of a
page (a string, a name) to the page. A note to the reader of compare.py, written as a docstring under a
constant, was drawn on Compare runs between the run boxes and the runs, as if it were the page's text."""

from __future__ import annotations

import ast

import pytest

from flowscope.ui.app_main import PAGES, page_file
from tests.ui.test_pages import app, no_exception, open_page


def drawn_by_magic(source: str) -> list[int]:
    """Lines of the expression statements magic draws: every one except a call (`st.x(...)`) and the
    docstrings of the module, a function or a class (magic leaves those)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for i, statement in enumerate(body):
            if not isinstance(statement, ast.Expr) or isinstance(statement.value, (ast.Call, ast.Await, ast.Yield)):
                continue
            docstring = (i == 0 and isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                         and isinstance(statement.value, ast.Constant) and isinstance(statement.value.value, str))
            if not docstring:
                lines.append(statement.lineno)
    return lines


@pytest.mark.parametrize("name", [name for name, _title, _icon in PAGES])
def test_no_page_script_has_an_expression_magic_would_draw(name):
    path = page_file(name)
    assert drawn_by_magic(path.read_text()) == [], f"{path.name}: an expression statement is drawn on the page"


def test_the_check_sees_a_note_under_a_constant():
    assert drawn_by_magic('"""page."""\nX = 1\n"""about X."""\ndef f():\n    """doc."""\n    st.write(1)\n') == [3]


def test_compare_runs_shows_no_note_to_the_code_reader(three_cloud_store, monkeypatch):
    at = open_page(app(three_cloud_store, monkeypatch), "compare")
    no_exception(at)
    assert at.get("text_input"), "the page drew its run boxes"
    drawn = [str(m.value) for m in at.markdown]
    assert not any("pinned run column" in t for t in drawn), drawn
