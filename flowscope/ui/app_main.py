"""The dashboard's router: sign-in, then st.navigation over the page scripts in flowscope/ui/pages/.

Both entry points call `main()`: `app.py` at the repository root (`streamlit run app.py`) and
`flowscope/ui/entry/streamlit_app.py`, the script `flowscope dashboard` runs (it is inside the package,
so it works from an installed wheel as well as from a source checkout).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from flowscope.ui import auth, chart_preload

PAGES_DIR = Path(__file__).resolve().parent / "pages"

PAGES: list[tuple[str, str, str]] = [
    ("overview", "Overview", ":material/home:"),
    ("workflows", "Workflows", ":material/account_tree:"),
    ("executions", "Executions", ":material/play_circle:"),
    ("compare", "Compare runs", ":material/compare:"),
    ("failures", "Failures", ":material/error:"),
    ("retries", "Retries", ":material/replay:"),
    ("cost", "Cost", ":material/payments:"),
    ("latency", "Latency", ":material/timer:"),
    ("collection_health", "Collection health", ":material/monitor_heart:"),
]
"""(url path = script name in pages/, title, icon); the first is the default page."""

_SESSION_RAN = "flowscope_session_ran"
"""Set in a session's state once a page has run in it: its later runs are changes (`data.page_running`)."""


def page_file(name: str) -> Path:
    """The script of a page (absolute: st.Page, st.page_link and AppTest.switch_page accept it
    whichever script is the app's main one)."""
    return PAGES_DIR / f"{name}.py"


def _require_usable_config() -> None:
    """Stop the run with one error naming the config file and the line when it cannot be used: no
    traceback, and no page computed with other settings than the file asks for."""
    from flowscope.textsafety import markdown_text
    from flowscope.ui import data

    problem = data.config_problem()
    if problem:
        st.error(f"**The config file cannot be used.** {markdown_text(problem)}", icon=":material/settings:")
        st.info("Fix the file (or point FLOWSCOPE_CONFIG at another one), then reload the page; "
                "`flowscope doctor` checks it from the command line.")
        st.stop()


def _require_usable_environment() -> None:
    """Stop the run with one error naming a dashboard variable of the environment that cannot be used
    (`ui.server.check_environment`, which `flowscope dashboard` runs before it starts the server): under
    `streamlit run app.py` FLOWSCOPE_UI_ANALYSES_NICE=high was a traceback of int() on every page."""
    import os

    from flowscope.textsafety import markdown_text
    from flowscope.ui.server import check_environment

    try:
        check_environment(dict(os.environ))
    except ValueError as exc:
        st.error(f"**A dashboard setting of the environment cannot be used.** {markdown_text(str(exc))}",
                 icon=":material/settings:")
        st.info("Fix the variable or unset it (docs/dashboard.md lists them), then restart the dashboard.")
        st.stop()


def main() -> None:
    from flowscope.ui import data

    st.set_page_config(page_title="flowscope", page_icon=":material/insights:", layout="wide")
    auth.require_private_or_sign_in()     # before any page: no data on a public bind without sign-in
    auth.require_login()                  # before the config's problems: they name its file and lines
    _require_usable_config()
    _require_usable_environment()
    chart_preload.preload()               # the browser loads the chart renderer while the page queries run
    pages = [st.Page(str(page_file(name)), title=title, icon=icon, url_path=name, default=i == 0)
             for i, (name, title, icon) in enumerate(PAGES)]
    first = not st.session_state.get(_SESSION_RAN, False)
    try:
        with data.page_running(first):    # the analyses stop meanwhile (on a first run, those ahead of time)
            st.navigation(pages).run()
    finally:
        st.session_state[_SESSION_RAN] = True
