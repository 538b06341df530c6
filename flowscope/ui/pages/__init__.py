"""The dashboard's pages: one Streamlit script per page, run by `st.navigation` (flowscope.ui.app_main).

They ship inside the package so that `flowscope dashboard` works from an installed wheel. They are
scripts, not modules to import: each runs top to bottom when its page is shown.
"""
