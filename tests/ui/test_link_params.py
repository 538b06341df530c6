"""Every query parameter the dashboard writes into a link or an address, or reads from one, is one it knows
(`filters.KNOWN_PARAMS`): any other is named in a warning that it "filters nothing". The run page's "Compare this
run with another" link named run A's day (`a_day`) for a session before the parameter was known, so every Compare
opened from it warned that its own link's parameter filtered nothing. Read from the code, so a page that starts
writing or reading a new parameter fails here until it is known."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from flowscope.ui import components, filters

UI = Path(components.__file__).parent
WRITERS = {"link", "keep_in_url"}
"""`components.link(page, f, **params)` and `components.keep_in_url(**params)`: their keywords are parameters."""


def _constant(node: ast.expr) -> str | None:
    """A parameter's name written as a string or as a constant of `components` or `filters` (`FOCUS_STEP`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
    for module in (components, filters):
        value = getattr(module, name, None) if name else None
        if isinstance(value, str):
            return value
    return None


def _is_writer(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id in WRITERS
    return isinstance(func, ast.Attribute) and func.attr in WRITERS and isinstance(func.value, ast.Name) \
        and func.value.id in ("ui", "components")


def _is_query_params(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "query_params"


def parameters_used(source: str) -> tuple[set[str], list[str]]:
    """(names, what could not be read as a name) of the parameters `source` writes (`link`, `keep_in_url`) or
    reads (`st.query_params.get(name)`, `st.query_params[name]`)."""
    names: set[str] = set()
    unread: list[str] = []

    def add(node: ast.expr) -> None:
        name = _constant(node)
        if name is None:
            unread.append(ast.unparse(node))
        else:
            names.add(name)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _is_writer(node):
            for keyword in node.keywords:
                if keyword.arg is not None:
                    names.add(keyword.arg)
                elif isinstance(keyword.value, ast.Dict):
                    for key in keyword.value.keys:
                        add(key) if key is not None else unread.append(ast.unparse(keyword.value))
                else:
                    unread.append(ast.unparse(keyword.value))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and _is_query_params(node.func.value) and node.args:
            add(node.args[0])
        elif isinstance(node, ast.Subscript) and _is_query_params(node.value):
            add(node.slice)
    return names, unread


SOURCES = sorted(p for p in UI.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(UI)) for p in SOURCES])
def test_every_parameter_a_page_writes_or_reads_is_known(path):
    names, unread = parameters_used(path.read_text())
    if path.name == "components.py":        # keep_in_url writes its own arguments' names, whatever they are
        unread = [u for u in unread if u != "key"]
    assert not unread, f"{path.name}: parameters not written as names: {unread}"
    assert names <= filters.KNOWN_PARAMS, f"{path.name}: unknown to the warning: {sorted(names - filters.KNOWN_PARAMS)}"


def test_the_scan_sees_what_the_pages_use():
    """The scan finds the parameters it guards: Compare's four, the run page's, a finding's step (a constant)."""
    used = set().union(*(parameters_used(p.read_text())[0] for p in SOURCES))
    assert {"a", "b", "a_day", "b_day", "exec", "focus", components.FOCUS_STEP} <= used, used
    names, _ = parameters_used("ui.link('compare', f, a=x, typo_day=y)\nst.query_params.get('other')")
    assert names == {"a", "typo_day", "other"}
