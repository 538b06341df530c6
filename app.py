"""The flowscope dashboard: `FLOWSCOPE_STORE=DIR streamlit run app.py` (or `flowscope dashboard --store DIR`)."""
from flowscope.ui.app_main import main

main()
