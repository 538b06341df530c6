"""Global sidebar filters (time window, clouds, workflows), kept across pages and in the URL.

Every page renders the same widgets first (`components.page` calls `render`). Streamlit drops a
widget's state when a run does not render it, so the values are also saved in plain session
state and seed the widgets on the next page; they are written to `st.query_params` on every
run, and a fresh session (a shared link) reads them back: `?window=7d&cloud=aws&wf=<id>`.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import Any

import streamlit as st

from flowscope.analysis.tables import Filters
from flowscope.model import UTC, C

WINDOWS = {"24h": 1.0, "3d": 3.0, "7d": 7.0, "14d": 14.0, "30d": 30.0, "90d": 90.0}
DEFAULT_WINDOW = "7d"
CLOUD_LABELS = {"aws": "AWS Step Functions", "azure": "Azure Logic Apps", "gcp": "GCP Workflows"}
KEY_WINDOW, KEY_CLOUDS, KEY_WF, KEY_LATEST = "fs_window", "fs_clouds", "fs_workflows", "fs_latest"
PARAM_WINDOW, PARAM_CLOUD, PARAM_WF, PARAM_LATEST = "window", "cloud", "wf", "end"
STATE_FILTERS = "_fs_filters"
STATE_SAVED = "_fs_saved"
STATE_RUN = "_fs_run"


def _initial(options_clouds: list[str], options_wf: list[str]) -> dict[str, Any]:
    """Initial widget values: this session's saved filters (widget state is dropped when a widget
    is not rendered in a run), else the URL, else defaults. Only used when the widget has no state."""
    params = st.query_params
    saved = st.session_state.get(STATE_SAVED) or {}
    window = saved.get(KEY_WINDOW) or params.get(PARAM_WINDOW, DEFAULT_WINDOW)
    clouds = saved[KEY_CLOUDS] if KEY_CLOUDS in saved else params.get_all(PARAM_CLOUD)
    workflows = saved[KEY_WF] if KEY_WF in saved else params.get_all(PARAM_WF)
    return {KEY_WINDOW: window if window in WINDOWS else DEFAULT_WINDOW,
            KEY_CLOUDS: [c for c in clouds if c in options_clouds],
            KEY_WF: [w for w in workflows if w in options_wf],
            KEY_LATEST: bool(saved.get(KEY_LATEST, params.get(PARAM_LATEST) == "latest"))}


def _to_url(window: str, clouds: list[str], workflows: list[str], latest: bool) -> None:
    params = st.query_params
    if params.get(PARAM_WINDOW) != window:
        params[PARAM_WINDOW] = window
    for key, values in ((PARAM_CLOUD, clouds), (PARAM_WF, workflows)):
        if values:
            if params.get_all(key) != list(values):
                params[key] = list(values)
        elif key in params:
            del params[key]
    if latest:
        params[PARAM_LATEST] = "latest"
    elif PARAM_LATEST in params:
        del params[PARAM_LATEST]


def until_for(latest: bool, last_data: dt.datetime | None, now: dt.datetime | None = None) -> dt.datetime:
    """End of the window: now, rounded up to 5 minutes (so cached results hold for 5 minutes
    instead of every query re-running each minute), or the latest data."""
    now = now or dt.datetime.now(UTC)
    if latest and last_data is not None:
        end = last_data + dt.timedelta(seconds=1)
        return dt.datetime.fromtimestamp(math.ceil(end.timestamp() / 60) * 60, tz=UTC)
    step = 300
    return dt.datetime.fromtimestamp(math.ceil(now.timestamp() / step) * step, tz=UTC)


def sidebar(workflow_options: Any = None, last_data: dt.datetime | None = None) -> Filters:
    """Render the filters in the sidebar; returns (and keeps in session state) the Filters."""
    wf_frame = workflow_options
    clouds = sorted(set(wf_frame[C.cloud])) if wf_frame is not None and not wf_frame.empty else []
    names: dict[str, str] = {}
    if wf_frame is not None and not wf_frame.empty:
        for row in wf_frame.itertuples(index=False):
            names[getattr(row, C.workflow_id)] = f"{getattr(row, C.workflow_name)} ({getattr(row, C.cloud)})"
    init = _initial(clouds, list(names))
    with st.sidebar:
        st.markdown("**Filters**")
        window = st.selectbox("Time window", list(WINDOWS), index=list(WINDOWS).index(init[KEY_WINDOW]),
                              key=KEY_WINDOW, help="Executions that started in the last …")
        latest = st.checkbox("End at the latest data", value=init[KEY_LATEST], key=KEY_LATEST,
                             help="Anchor the window to the newest execution in the store instead of now "
                                  "(for imported or older data).")
        chosen_clouds = st.multiselect("Clouds", clouds, default=init[KEY_CLOUDS], key=KEY_CLOUDS,
                                       placeholder="All clouds",
                                       help="aws: Step Functions · azure: Logic Apps · gcp: Workflows")
        cloud_of = {getattr(r, C.workflow_id): getattr(r, C.cloud) for r in wf_frame.itertuples(index=False)} \
            if names else {}
        wf_choices = [w for w in names if not chosen_clouds or cloud_of.get(w) in chosen_clouds]
        chosen_wf = st.multiselect("Workflows", list(names), default=init[KEY_WF], key=KEY_WF,
                                   placeholder="All workflows", format_func=lambda w: names.get(w, w))
        chosen_wf = [w for w in chosen_wf if w in wf_choices]
    st.session_state[STATE_SAVED] = {KEY_WINDOW: window, KEY_CLOUDS: list(chosen_clouds), KEY_WF: list(chosen_wf),
                                     KEY_LATEST: bool(latest)}
    _to_url(window, chosen_clouds, chosen_wf, latest)
    until = until_for(latest, last_data)
    filters = Filters(since=until - dt.timedelta(days=WINDOWS[window]), until=until,
                      clouds=tuple(chosen_clouds), workflows=tuple(chosen_wf))
    st.session_state[STATE_FILTERS] = filters
    st.session_state[STATE_RUN] = uuid.uuid4().hex
    return filters


def current() -> Filters:
    """The filters of this run (set by the router's sidebar); defaults when a page runs alone."""
    filters = st.session_state.get(STATE_FILTERS)
    if filters is None:
        until = until_for(False, None)
        filters = Filters(until - dt.timedelta(days=WINDOWS[DEFAULT_WINDOW]), until)
    return filters


def describe(f: Filters) -> str:
    span = next((k for k, v in WINDOWS.items() if abs(v - f.days) < 1e-6), f"{f.days:.1f}d")
    parts = [f"last {span} ({f.since:%Y-%m-%d %H:%M} → {f.until:%Y-%m-%d %H:%M} UTC)"]
    if f.clouds:
        parts.append(", ".join(f.clouds))
    if f.workflows:
        parts.append(f"{len(f.workflows)} workflow(s)")
    return " · ".join(parts)


def render() -> Filters:
    """The sidebar filters with options from the store (window only when the store is unreadable)."""
    from flowscope.ui import data

    try:
        options = data.workflow_options()
        last = data.summary().get("last")
    except Exception:  # noqa: BLE001 - the page itself explains what is wrong with the store
        options, last = None, None
    return sidebar(options, last)
