"""Collection health: every scope's last sync, status, lag and errors."""

import streamlit as st

from flowscope.analysis.tables import collection_totals, never_synced, parse_json
from flowscope.format import fmt_duration
from flowscope.ui import charts, data
from flowscope.ui import components as ui

ctx = ui.page("Collection health", need_data=False, need_window=False)
health = data.collection_health()
if health.empty:
    st.info("No collection runs recorded yet. `flowscope sync` records one per scope (account/region, "
            "subscription, project) each time it runs; imports and the demo record theirs too.")
    st.stop()
ui.failed_scopes_banner(health, link=False)     # no link to this page itself
totals = collection_totals(health)
ui.metric_row([("Scopes", f"{totals.scopes:,}", None),
               ("Healthy", f"{totals.succeeded:,}", None),
               ("Failed", f"{totals.failed:,}", None),
               ("Partial", f"{totals.partial:,}", None),
               ("Never synced", f"{totals.never_synced:,}", None),
               ("Max lag" + (" of the synced" if totals.never_synced else ""),
                fmt_duration(totals.max_lag_minutes * 60_000) if totals.max_lag_minutes is not None else "—", None)])
recent = data.collection_runs()
ui.plot(charts.collection_timeline(recent), key="runs")
if len(recent) >= data.COLLECTION_RUNS:     # a scope that last synced before them is not on the chart: said
    st.caption(f"The chart draws the {len(recent):,} latest collection runs, from "
               f"{recent['started_at'].min():%Y-%m-%d %H:%M} UTC: a scope that last synced before then is not on "
               "it, and is in the table below, which lists every scope.")
view = health.copy()
view["last_sync"] = [ui.ago(t) for t in view["last_sync_started"]]
# Status as words (failures in capitals), not emoji: they read the same without an emoji font.
view["status"] = [({"failed": "FAILED", "partial": "PARTIAL"}.get(s, str(s)) if why is None
                   else f"{s} (superseded: {why})") for s, why in zip(view["status"], view["superseded"], strict=True)]
# A sync killed mid-run leaves its row "running" for ever: it reads as the interruption it is.
view["status"] = [f"INTERRUPTED ({why})" if isinstance(why, str) else s
                  for s, why in zip(view["status"], view["interrupted"], strict=True)]
view["status"] = [f"{s}, never synced" if gone else s
                  for s, gone in zip(view["status"], never_synced(health), strict=True)]
# What a sync collected reads as words ("Executions: 1,533."), not the JSON the store keeps it as.
view["counts"] = view["counts"].map(parse_json)
ui.table(view[["status", "cloud", "scope", "last_sync", "last_sync_started", "last_success", "watermark",
               "lag_minutes", "failures_24h", "runs", "error", "counts"]], "collection-health",
         column_config={"lag_minutes": st.column_config.NumberColumn("lag"),
                        "error": st.column_config.TextColumn(width="large")})
st.caption("Lag: time between now and the scope's watermark (how far collection has caught up). A scope "
           "*never synced* has no successful collection and no watermark: none of its executions are in the store.")
