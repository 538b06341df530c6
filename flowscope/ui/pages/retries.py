"""Retries: storm timeline (storm windows shaded), amplification, synchronized-retry evidence."""

import pandas as pd
import streamlit as st

from flowscope.analysis.tables import lockstep_steps, retry_bucket_seconds, retry_totals
from flowscope.format import fmt_duration
from flowscope.ui import charts, data, readable
from flowscope.ui import components as ui

ctx = ui.page("Retries", findings=True)
f = ctx.filters
ui.failed_scopes_banner(data.collection_health(), f.clouds)
over = data.retries_over_time(f)
amp = data.amplification(f)
delays = data.retry_delays(f)
totals = retry_totals(over)
lockstep = lockstep_steps(delays)
cut = len(delays) >= data.RETRY_ROWS       # more rows than read: said, never read as all of them
ui.metric_row([("Retries", f"{totals.retries:,}", None),
               # no try recorded in the window: no amplification to speak of ("—"), never an impossible 0.00×
               ("Amplification", f"{totals.amplification:.2f}×" if totals.amplification is not None else "—",
                None),
               ("Steps retrying in lockstep", f"{lockstep:,}" + ("+" if cut else ""), None)])


def storm_timeline(storms: pd.DataFrame | None) -> None:
    """Retries over time, with the storms the analyses found shaded (unshaded while they run)."""
    if storms is not None:
        st.metric("Retry storms", f"{len(storms):,}")
    windows = [] if storms is None else [
        {"window_start": r.window_start, "window_end": r.window_end,
         "label": f"{r.workflow} / {r.step}" if r.step else r.title} for r in storms.itertuples(index=False)]
    ui.plot(charts.storm_timeline(over, windows, since=f.since, until=f.until, bucket_s=retry_bucket_seconds(f),
                                 begins=data.summary()["first"]),
            key="storms")
    if storms is not None and not storms.empty:
        ui.table(storms[["severity", "cloud", "workflow", "step", "window_start", "window_end", "title",
                         "recommendation", "executions_affected"]], "retry-storms")


ui.with_findings(f, storm_timeline, ["retry_storm"])

st.subheader("Amplification by step", divider="gray")
st.caption("Tries per visit: 2.0× means every visit ran twice on average (each retry is billed by every cloud).")
if not amp.empty:
    amp["label"] = amp["workflow"] + " / " + amp["step"]
ui.plot(charts.hbar(amp, x="retries", y="label", title="Retries by step", text="amplification", text_format="{:.2f}×")
        if not amp.empty else charts.empty_chart("No retries"), key="amp")
if len(amp) >= data.RETRY_ROWS:
    st.caption(f"The {len(amp):,} steps with the most retries; filter to fewer workflows to see the rest.")
ui.table(amp.drop(columns=["label"], errors="ignore"), "retry-amplification", hide=["workflow_id"],
         column_config={"amplification": st.column_config.NumberColumn(format="%.2f×")})

st.subheader("Synchronized retries (no jitter)", divider="gray")
st.caption("Delay between one try's end and the next try's start, per retry (2: the second try, ...). A coefficient "
           "of variation (cv) near 0 across many executions means every client retries at the same instant: add "
           "jitter (JitterStrategy FULL, randomised intervals). A backoff without jitter waits the same 2, 4, 8 s "
           "in every run: each retry is in lockstep, though the delays taken together vary.")
if cut:
    st.caption(f"The {len(delays):,} most sampled retries (and the lockstep count above among them only); "
               "filter to fewer workflows to see the rest.")
# The verdict (lockstep, cv, and why a retry is not) first after the names: last, it was off a 1366-pixel screen.
first = ["cloud", "workflow", "workflow_id", "step", "retry", "lockstep", "cv", "why_not_lockstep"]
ui.table(readable.leading(delays, first),
         "retry-delays", hide=["workflow_id"], column_config={
    "cv": st.column_config.NumberColumn(format="%.3f"),
    "mean_delay_ms": st.column_config.NumberColumn("mean delay"),
    "std_delay_ms": st.column_config.NumberColumn("std"), "retry": st.column_config.NumberColumn(format="%d")})
if not delays.empty:
    options = list(delays.index)
    def fmt_cv(cv: float) -> str:
        """The spread in the chart's title; none ("—") for retries with no delay (a mean of 0 ms), never "nan"."""
        return "—" if pd.isna(cv) else f"{cv:.3f}"

    pick = st.selectbox("Retry delays of step", options,
                        format_func=lambda i: readable.plain(f"{delays.loc[i, 'workflow']} / {delays.loc[i, 'step']}, "
                                                             f"retry {int(delays.loc[i, 'retry'])}"))
    row = delays.loc[pick]
    values = data.step_retry_delays(f, row["cloud"], row["workflow_id"], row["step"], int(row["retry"]))
    ui.plot(charts.histogram(values["delay_ms"] if not values.empty else None,
                             title=f"Delays before retry {int(row['retry'])} of {row['step']} "
                                   f"(mean {fmt_duration(row['mean_delay_ms'])}, cv {fmt_cv(row['cv'])})",
                             x_title="delay", duration=True),
            key="delay-hist")


def lockstep_findings(sync: pd.DataFrame | None) -> None:
    if sync is not None and sync.empty:      # ran and found none: said, never a blank (as while they run)
        st.caption("The analyses found no synchronized retries during a retry storm in this window.")
    if sync is not None and not sync.empty:
        st.caption("Findings: steps whose retries fired in lockstep during a retry storm, when missing jitter "
                   "hurts most.")
        ui.table(sync[["severity", "cloud", "workflow", "step", "title", "recommendation", "evidence"]],
                 "synchronized-retry-findings")


ui.with_findings(f, lockstep_findings, ["synchronized_retries"])
