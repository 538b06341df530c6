"""The flowscope dashboard (Streamlit): a router over pages/, nothing else.

    flowscope dashboard --store DIR          # or: FLOWSCOPE_STORE=DIR streamlit run app.py
"""

import streamlit as st

from flowscope.ui import auth

st.set_page_config(page_title="flowscope", page_icon=":material/insights:", layout="wide")
auth.require_login()
page = st.navigation([
    st.Page("pages/overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page("pages/workflows.py", title="Workflows", icon=":material/account_tree:", url_path="workflows"),
    st.Page("pages/executions.py", title="Executions", icon=":material/play_circle:", url_path="executions"),
    st.Page("pages/failures.py", title="Failures", icon=":material/error:", url_path="failures"),
    st.Page("pages/retries.py", title="Retries", icon=":material/replay:", url_path="retries"),
    st.Page("pages/cost.py", title="Cost", icon=":material/payments:", url_path="cost"),
    st.Page("pages/latency.py", title="Latency", icon=":material/timer:", url_path="latency"),
    st.Page("pages/collection_health.py", title="Collection health", icon=":material/monitor_heart:", url_path="collection_health"),
])
page.run()
