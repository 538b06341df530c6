"""The script `flowscope dashboard` hands to `streamlit run` (see flowscope.ui.server.app_path)."""

from flowscope.ui.app_main import main

main()
