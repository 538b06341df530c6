"""`python -m flowscope.ui.launch run app.py ...`: Streamlit's own command line, with the libraries
every page needs imported in the background while the server starts, and the analyses' worker
process started (`analyses_process.prestart`: it imports the analyses and opens the store meanwhile).

Streamlit imports pandas lazily and plotly builds its figure machinery on first use, so without this
the first visitor of a fresh server paid both inside their page's first run (about 0.5 s of pandas and
0.2 s of plotly on an idle 2-core machine, twice that under load), and waited for a cold worker
process before the first findings. Imported on a thread, the libraries load while the server binds
its port; a page that needs them first simply waits on Python's import lock. Nothing of flowscope's
that uses Streamlit is imported here: its caches belong to the running app.
"""

from __future__ import annotations

import os
import threading


def warm() -> None:
    """Import pandas and plotly and build one figure (plotly's validators load on first use)."""
    import pandas  # noqa: F401
    import plotly.graph_objects as go

    go.Figure(go.Scatter(x=[0, 1], y=[0, 1])).to_plotly_json()


def main() -> None:
    from streamlit.web.cli import main as streamlit_main

    from flowscope.ui.analyses_process import prestart

    prestart(os.environ.get("FLOWSCOPE_STORE"))
    threading.Thread(target=warm, name="flowscope-warm", daemon=True).start()
    streamlit_main(prog_name="streamlit")


if __name__ == "__main__":
    main()
