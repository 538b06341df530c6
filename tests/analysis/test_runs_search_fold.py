"""The executions search folds case as `str.casefold` does, the typed text and the stored text by one rule
(`runs.fold_sql`, in the engine): "straße" finds "STRASSE", a final sigma its capital, a ligature its
letters; DuckDB's ILIKE lowered each side and found none of them."""

from __future__ import annotations

import sys
import unicodedata

import duckdb
import pandas as pd
import pytest

from flowscope.analysis import runs
from flowscope.analysis import tables as q
from flowscope.model import Status
from tests.analysis.helpers import World, at, tables_from_rows

ERRORS = ["STRASSE closed", "Οδός κλειστή", "ΟΔΟΣ ΚΛΕΙΣΤΗ", "İstanbul down", "ISTANBUL up", "ﬁle missing",
          "100% of quota_x"]


@pytest.fixture(scope="module")
def con():
    world = World()
    wf = world.workflow("orders")
    for n, error in enumerate(ERRORS):
        ex = world.execution(wf, at(minutes=n), status=Status.FAILED)
        ex["error"] = error
        world.step(ex, f"Step {error}", at(minutes=n), status=Status.FAILED, error=error)
    return tables_from_rows(world.rows)["executions"]._find_backend().con


FILTERS = q.Filters(at(days=-1), at(days=1))


@pytest.mark.parametrize(("typed", "found"), [
    ("straße", 1), ("STRAẞE", 1), ("strasse", 1),      # ß and capital ẞ fold to "ss"
    ("οδος", 1), ("ΟΔΟΣ", 1), ("ΚΛΕΙΣΤΉ", 1),           # final sigma is sigma; accents stay accents
    ("istanbul", 2), ("İSTANBUL", 2),                  # a Turkish capital dotted I folds to i
    ("FILE", 1), ("ﬁle", 1),                           # a ligature is its letters
    ("%", 1), ("_x", 1), ("e_", 0),                    # still characters, not wildcards
])
def test_search_folds_case_as_casefold(con, typed, found):
    assert runs.search_executions(con, FILTERS, error_text=typed)[1] == found, typed
    assert runs.search_executions(con, FILTERS, step=typed)[1] == found, typed


def test_fold_sql_is_casefold_for_every_character():
    """The engine's fold is Python's `str.casefold` on every assigned character (but a capital dotted I, which
    folds to a plain i, not to an i and a combining dot: "istanbul" finds "İstanbul")."""
    chars = [c for c in map(chr, range(sys.maxunicode + 1)) if unicodedata.category(c) not in ("Cn", "Co", "Cs")]
    frame = pd.DataFrame({"c": chars})     # noqa: F841 (read by the query below)
    db = duckdb.connect()
    folded = db.execute(f"SELECT {runs.fold_sql('c')} AS f FROM frame").df()["f"].tolist()
    wrong = [(c, f, runs.fold(c)) for c, f in zip(chars, folded, strict=True) if f != runs.fold(c)]
    assert not wrong, wrong[:10]
    assert runs.fold("İ") == "i" and runs.fold("Straße") == "strasse"
