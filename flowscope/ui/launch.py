"""`python -m flowscope.ui.launch run app.py ...`: Streamlit's own command line, with the libraries
every page needs imported in the background while the server starts.

Streamlit imports pandas lazily and plotly builds its figure machinery on first use, so without this
the first visitor of a fresh server paid both inside their page's first run (about 0.5 s of pandas and
0.2 s of plotly on an idle 2-core machine, twice that under load). Imported on a thread, they load
while the server binds its port; a page that needs them first simply waits on Python's import lock.
Nothing of flowscope's is imported here: its Streamlit caches belong to the running app.
"""

from __future__ import annotations

import threading


def warm() -> None:
    """Import pandas and plotly and build one figure (plotly's validators load on first use)."""
    import pandas  # noqa: F401
    import plotly.graph_objects as go

    go.Figure(go.Scatter(x=[0, 1], y=[0, 1])).to_plotly_json()


def main() -> None:
    from streamlit.web.cli import main as streamlit_main

    threading.Thread(target=warm, name="flowscope-warm", daemon=True).start()
    streamlit_main(prog_name="streamlit")


if __name__ == "__main__":
    main()
