"""A signed column (Compare's "B − A") reads no change unsigned ("0 s", where the grid's printf wrote "+0.000 s")
and still sorts by value when its header is clicked: `components.table` keeps its numbers and draws the text
over them (a pandas Styler, `components._styled`). As text, "+0.104 s" sorted before "+12.000 s", "-16.000 s",
"-3.292 s" and "0 s". A real Streamlit server in headless Chromium: the cells read as the grid draws them."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowscope.format import BLANK
from tests.e2e.helpers import ARGS, ARTIFACTS, CHROMIUM, script_server

DELTAS_MS = {"Recurrence": 0.0, "Fan_out": 12_000.0, "Post_summary": 104.0, "For_each_contact": -3_292.0,
             "Get_invoice": -16_000.0, "List_contacts": -0.0, "Wait": None}
"""Each step's "B − A" in ms: changes either way, no change (0 and -0) and a step run B alone took."""

A_MS = {"Recurrence": 3.0, "Fan_out": 4_000.0, "Post_summary": 161.0, "For_each_contact": 16_354.0,
        "Get_invoice": 20_000.0, "List_contacts": 504.0, "Wait": None}
"""Run A's time in each step (Compare, row Recurrence: 0.003 s in both runs, which read "+0.000 s")."""

SHOWN = {"Recurrence": "0 s", "Fan_out": "+12.000 s", "Post_summary": "+0.104 s", "For_each_contact": "-3.292 s",
         "Get_invoice": "-16.000 s", "List_contacts": "0 s", "Wait": BLANK}

SCRIPT = """\
import pandas as pd
import streamlit as st
from flowscope.ui import components as ui
deltas, a_ms = {deltas!r}, {a_ms!r}
frame = pd.DataFrame({{"step": list(deltas), "a_ms": [a_ms[s] for s in deltas],
                      "b_ms": [900.0 if a_ms[s] is None else a_ms[s] + d for s, d in deltas.items()],
                      "delta_ms": [float("nan") if d is None else d for d in deltas.values()]}})
# Compare runs' own configuration of the column
ui.table(frame, "signed", column_config={{"delta_ms": st.column_config.NumberColumn("B − A", format="%+d")}})
"""

GRID = """(frame) => {
  // Streamlit's dataframe is glide-data-grid, drawn on a canvas: read the cells the canvas draws, in the
  // order it draws them (sorted when a header was clicked), from the grid component's props.
  const canvas = frame.querySelector('canvas');
  if (!canvas) return null;
  const key = Object.keys(canvas).find(k => k.startsWith('__reactFiber'));
  let fiber = key ? canvas[key] : null;
  while (fiber) {
    const p = fiber.memoizedProps || {};
    if (typeof p.getCellContent === 'function' && Array.isArray(p.columns) && typeof p.rows === 'number') {
      const rows = [];
      for (let r = 0; r < p.rows; r++) {
        rows.push(p.columns.map((_, c) => {
          const cell = p.getCellContent([c, r]);
          return cell.displayData ?? String(cell.data ?? '');
        }));
      }
      return {titles: p.columns.map(c => String(c.title)), widths: p.columns.map(c => c.width),
              header: p.headerHeight || 35, rows};
    }
    fiber = fiber.return;
  }
  return null;
}"""


def _column(titles: list[str], name: str) -> int:
    """The index of the column headed `name` (a sorted column's header leads with its arrow: "↑ B − A")."""
    return next(i for i, t in enumerate(titles) if t == name or t.endswith(" " + name))


def _numeric_order(descending: bool) -> list[str]:
    present = [s for s, d in DELTAS_MS.items() if d is not None]
    return sorted(present, key=lambda s: DELTAS_MS[s] or 0.0, reverse=descending)


@pytest.mark.slow  # a real streamlit server in headless Chromium
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_a_signed_column_reads_no_change_unsigned_and_sorts_by_value(tmp_path):
    playwright_api = pytest.importorskip("playwright.sync_api")
    script = tmp_path / "signed_column.py"
    script.write_text(SCRIPT.format(deltas=DELTAS_MS, a_ms=A_MS))
    with script_server(script) as port, playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
            frame = page.locator('[data-testid="stDataFrame"]').first
            frame.wait_for(timeout=60_000)
            page.wait_for_function(f"(frame) => ({GRID})(frame) !== null", arg=frame.element_handle(),
                                   timeout=30_000)

            def drawn() -> dict[str, str]:
                """{step: its "B − A" as drawn}, in the rows' drawn order."""
                grid = frame.evaluate(GRID)
                step, delta = _column(grid["titles"], "step"), _column(grid["titles"], "B − A")
                return {row[step]: row[delta] for row in grid["rows"]}

            assert drawn() == SHOWN, "no change unsigned, changes signed, a missing one the placeholder"

            def click_header() -> None:
                grid = frame.evaluate(GRID)
                i = _column(grid["titles"], "B − A")
                box = frame.locator("canvas").first.bounding_box()
                assert box, "the grid drew nothing"
                page.mouse.click(box["x"] + sum(grid["widths"][:i]) + grid["widths"][i] / 2,
                                 box["y"] + grid["header"] / 2)

            for descending in (False, True):
                click_header()
                wanted = _numeric_order(descending)
                try:
                    page.wait_for_function(
                        f"""([frame, wanted]) => {{
                          const grid = ({GRID})(frame);
                          const step = grid.titles.indexOf('step');
                          return JSON.stringify(grid.rows.map(r => r[step]).filter(s => s !== 'Wait'))
                                 === JSON.stringify(wanted);
                        }}""", arg=[frame.element_handle(), wanted], timeout=10_000)
                except playwright_api.TimeoutError:
                    pass        # the assertion below says how the rows came
                rows = drawn()
                assert [s for s in rows if s != "Wait"] == wanted, (
                    f"{'descending' if descending else 'ascending'}: rows by their numbers {wanted}, drawn "
                    f"{[rows[s] for s in rows]}")
                assert rows == SHOWN, "sorting keeps each cell's text"
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "signed-column-sorted.png"))
        finally:
            browser.close()
