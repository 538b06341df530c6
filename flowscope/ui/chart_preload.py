"""Start the browser loading the chart renderer at the top of every run, before any page query.

Streamlit's frontend loads its chart renderer (Vega-Lite's, a 0.8 MB module) only when the first chart
of a session arrives, and a page's first chart arrives after its queries: on a fresh browser the module
was fetched, compiled and run after the data was already there. A hidden, empty chart sent first
makes the browser do that while the server runs the page's queries (measured with plotly's 4.7 MB
renderer, session 52: on a 1M-execution store, the Overview's first charts in a fresh browser came
4.06-4.27 s after the navigation without it and 3.05-3.21 s with it). It is the first element of
every run (never moves the page's own elements) and is hidden by a style, so nobody sees it.
"""

from __future__ import annotations

import streamlit as st

KEY = "flowscope-chart-preload"
"""The hidden container's key (Streamlit gives it the class `st-key-<key>`, which the style hides)."""
CHART_KEY = f"{KEY}-chart"
"""The hidden chart's key: tests that count a page's charts leave it out."""


def preload() -> None:
    """A hidden empty Vega-Lite chart, and the style that hides it; drawn on every run at the same place."""
    # The container, and the layout wrapper Streamlit puts around it (else a flex item of height 0 that
    # still takes a gap above the title).
    st.html(f"<style>.st-key-{KEY}, [data-testid=stLayoutWrapper]:has(> .st-key-{KEY}) {{ display: none; }}</style>")
    with st.container(key=KEY):
        st.vega_lite_chart(spec={"data": {"values": []}, "mark": "point", "usermeta": {"key": CHART_KEY}},
                           key=CHART_KEY)
