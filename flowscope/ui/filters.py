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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from flowscope import DEFAULT_SINCE
from flowscope.analysis import measures
from flowscope.analysis.tables import Filters, first_execution
from flowscope.model import C
from flowscope.textsafety import markdown_text as md
from flowscope.timewindow import default_end
from flowscope.ui import readable

WINDOWS = {"24h": 1.0, "3d": 3.0, "7d": 7.0, "14d": 14.0, "30d": 30.0, "90d": 90.0}
DEFAULT_WINDOW = DEFAULT_SINCE
CLOUD_LABELS = {"aws": "AWS Step Functions", "azure": "Azure Logic Apps", "gcp": "GCP Workflows"}
KEY_WINDOW, KEY_CLOUDS, KEY_WF, KEY_END_NOW = "fs_window", "fs_clouds", "fs_workflows", "fs_end_now"
PARAM_WINDOW, PARAM_CLOUD, PARAM_WF, PARAM_END = "window", "cloud", "wf", "end"
STATE_FILTERS = "_fs_filters"
STATE_SAVED = "_fs_saved"
STATE_RUN = "_fs_run"
STATE_WINDOW = "_fs_time_window"
STATE_UNKNOWN_WF = "_fs_unknown_wf"
STATE_NOTES = "_fs_notes"
STATE_BAD_LINK = "_fs_bad_link"
STATE_UNKNOWN_PARAMS = "_fs_unknown_params"
KNOWN_PARAMS = frozenset({PARAM_WINDOW, PARAM_CLOUD, PARAM_WF, PARAM_END,
                          "step",           # components.FOCUS_STEP: a finding's step, put first
                          "exec",           # Executions: the run to open
                          "a", "b", "a_day", "b_day",   # Compare runs: the two runs and their start days
                          "focus",          # Workflows: the workflow whose graph opens
                          "embed", "embed_options"})    # Streamlit's own
"""The query parameters some page reads: any other in a link is named in a warning (`_unknown_param_notes`),
since it filters nothing: `?workflow=orders` (for `?wf=`) showed every workflow as if asked for."""


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
            "unknown": [w for w in workflows if w not in options_wf] if options_wf else [],
            "bad_window": None if saved.get(KEY_WINDOW) or window in WINDOWS else str(window),
            "bad_clouds": [c for c in clouds if c not in options_clouds] if options_clouds else [],
            "bad_end": None if KEY_END_NOW in saved or params.get(PARAM_END, "now") == "now"
            else str(params.get(PARAM_END)),
            KEY_END_NOW: bool(saved.get(KEY_END_NOW, params.get(PARAM_END) == "now"))}


def _to_url(window: str, clouds: list[str], workflows: list[str], end_now: bool) -> None:
    params = st.query_params
    if params.get(PARAM_WINDOW) != window:
        params[PARAM_WINDOW] = window
    for key, values in ((PARAM_CLOUD, clouds), (PARAM_WF, workflows)):
        if values:
            if params.get_all(key) != list(values):
                params[key] = list(values)
        elif key in params:
            del params[key]
    if end_now:
        params[PARAM_END] = "now"
    elif PARAM_END in params:
        del params[PARAM_END]


@dataclass(frozen=True)
class TimeWindow:
    """Where the window ends and why, and whether the previous window can be compared with it."""

    since: dt.datetime
    until: dt.datetime
    ends_at_data: bool                  # the store's data ends before now, so the window ends there
    data_end: dt.datetime | None        # the newest execution start in the store
    previous_has_data: bool             # the data covers the previous window of the same length


def time_window(days: float, *, first_data: dt.datetime | None, last_data: dt.datetime | None,
                now: dt.datetime | None = None, end_at_now: bool = False) -> TimeWindow:
    """The one rule for time on every page: the window ends at min(now, latest data) unless the user
    asks for now (a store last synced an hour ago, or imported last month, is not read as a drop
    to zero), and the previous window counts as having data only when the data covers (almost) all
    of it (no "+15,301" against an empty month: `measures.previous_covered`, the rule every surface
    and analysis compares by)."""
    until, ends_at_data = default_end(None if end_at_now else last_data, now)
    span = dt.timedelta(days=days)
    since = until - span
    previous_has_data = measures.previous_covered(first_data, since, until)
    return TimeWindow(since, until, ends_at_data, last_data, previous_has_data)


def sidebar(workflow_options: Any = None, last_data: dt.datetime | None = None,
            first_data: dt.datetime | None = None) -> Filters:
    """Render the filters in the sidebar; returns (and keeps in session state) the Filters."""
    wf_frame = workflow_options
    clouds = sorted(set(wf_frame[C.cloud])) if wf_frame is not None and not wf_frame.empty else []
    # "name (cloud)", and what tells apart workflows of one cloud sharing a name ("orders (aws · eu-west-1)")
    names = {wid: label for (_cloud, wid), label in readable.workflow_labels(wf_frame, with_cloud=True).items()} \
        if wf_frame is not None else {}
    init = _initial(clouds, list(names))
    if init["unknown"] and KEY_WF not in st.session_state:
        st.session_state[STATE_UNKNOWN_WF] = (tuple(init["unknown"]), tuple(init[KEY_WF]))
    if KEY_WINDOW not in st.session_state and KEY_CLOUDS not in st.session_state:
        st.session_state[STATE_UNKNOWN_PARAMS] = (
            tuple(sorted(k for k in st.query_params if k not in KNOWN_PARAMS)),
            (init[KEY_WINDOW], tuple(init[KEY_CLOUDS]), tuple(init[KEY_WF])))
        st.session_state[STATE_BAD_LINK] = (init["bad_window"], tuple(init["bad_clouds"]), init[KEY_WINDOW],
                                             tuple(init[KEY_CLOUDS]), tuple(clouds), init["bad_end"])
    with st.sidebar:
        st.markdown("**Filters**")
        window = st.selectbox("Time window", list(WINDOWS), index=list(WINDOWS).index(init[KEY_WINDOW]),
                              key=KEY_WINDOW, help="Executions that started in the last …")
        end_now = st.checkbox("End the window now", value=init[KEY_END_NOW], key=KEY_END_NOW,
                              help="By default a window ends at the newest execution in the store when the "
                                   "data ends before now (an old import, a sync that stopped); tick to end "
                                   "it now instead.")
        chosen_clouds = st.multiselect("Clouds", clouds, default=init[KEY_CLOUDS], key=KEY_CLOUDS,
                                       placeholder="All clouds",
                                       help="aws: Step Functions · azure: Logic Apps · gcp: Workflows")
        cloud_of = {getattr(r, C.workflow_id): getattr(r, C.cloud) for r in wf_frame.itertuples(index=False)} \
            if names else {}
        wf_choices = [w for w in names if not chosen_clouds or cloud_of.get(w) in chosen_clouds]
        chosen_wf = st.multiselect("Workflows", list(names), default=init[KEY_WF], key=KEY_WF,
                                   placeholder="All workflows", format_func=lambda w: names.get(w, w))
        dropped = _dropped_notes(chosen_wf, wf_choices, chosen_clouds, names, _ids_by_name(wf_frame))
        chosen_wf = [w for w in chosen_wf if w in wf_choices]
    st.session_state[STATE_NOTES] = (_unknown_param_notes((window, tuple(chosen_clouds), tuple(chosen_wf)))
                                     + _bad_link_notes(window, chosen_clouds, bool(end_now)) + dropped)
    st.session_state[STATE_SAVED] = {KEY_WINDOW: window, KEY_CLOUDS: list(chosen_clouds), KEY_WF: list(chosen_wf),
                                     KEY_END_NOW: bool(end_now)}
    _to_url(window, chosen_clouds, chosen_wf, end_now)
    if wf_frame is not None and not wf_frame.empty:
        first_data = first_execution(wf_frame, chosen_clouds, chosen_wf)   # where the filtered data begins
    span = time_window(WINDOWS[window], first_data=first_data, last_data=last_data, end_at_now=end_now)
    filters = Filters(since=span.since, until=span.until,
                      clouds=tuple(chosen_clouds), workflows=tuple(chosen_wf), data_since=first_data)
    st.session_state[STATE_FILTERS] = filters
    st.session_state[STATE_WINDOW] = span
    st.session_state[STATE_RUN] = uuid.uuid4().hex
    return filters


def _ids_by_name(wf_frame: Any) -> dict[str, list[str]]:
    """The store's workflow ids by their names: what a link's `?wf=` naming a workflow is told to use."""
    if wf_frame is None or wf_frame.empty or C.workflow_name not in wf_frame.columns:
        return {}
    out: dict[str, list[str]] = {}
    for wid, name in zip(wf_frame[C.workflow_id], wf_frame[C.workflow_name], strict=True):
        if isinstance(name, str) and name:
            out.setdefault(name, []).append(str(wid))
    return {name: list(dict.fromkeys(ids)) for name, ids in out.items()}


def _dropped_notes(chosen: list[str], choices: list[str], clouds: list[str], names: dict[str, str],
                   ids_by_name: dict[str, list[str]] | None = None) -> list[str]:
    """What the workflow filter leaves out, in words (Markdown), never silently: workflows chosen in the
    sidebar that are not in the chosen clouds (the widget still shows them), and workflow ids of a
    link (`?wf=`) that are not in the store (dropped from the widget before it is drawn; said until
    the workflow choice changes). A link value that is a workflow's name (`ids_by_name`), not its id, is
    said to be one, with the id to use: "crm-export, not in this store" misled, since a workflow is named so."""
    out: list[str] = []
    outside = [w for w in chosen if w not in choices]
    kept = [w for w in chosen if w in choices]
    rest = "the other chosen workflows are shown" if kept else (
        f"every workflow of {', '.join(clouds)} is shown" if clouds else "every workflow is shown")
    if outside:
        listed = ", ".join(md(names.get(w, w)) for w in outside)
        out.append(f"**Workflow filter: {listed} {'is' if len(outside) == 1 else 'are'} not in the chosen "
                   f"cloud{'s' if len(clouds) > 1 else ''} ({md(', '.join(clouds))}), so left out:** {rest}. "
                   "Add the cloud or remove the workflow in the sidebar.")
    unknown = st.session_state.get(STATE_UNKNOWN_WF)
    if unknown and tuple(chosen) != unknown[1]:
        del st.session_state[STATE_UNKNOWN_WF]          # the choice changed since the link was opened
    elif unknown:
        gone = "every workflow is shown" if not unknown[1] else "the link's other workflows are shown"
        named = [v for v in unknown[0] if v in (ids_by_name or {})]
        if named:
            ids = "; ".join(f"{md(v)}: {', '.join(md(i) for i in (ids_by_name or {})[v])}" for v in named)
            out.append(f"**The link's workflow filter ({PARAM_WF}=) gives {_listed(named)}, a workflow's name where "
                       f"its id is needed, so it filters nothing:** {gone}. The id to use ({ids}) is what the "
                       "sidebar's workflow filter writes into the address.")
        others = [v for v in unknown[0] if v not in named]
        if others:
            out.append(f"**The link's workflow filter names {_listed(others)}, not in this store, so left out:** "
                       f"{gone}.")
    return out


def _unknown_param_notes(chosen: tuple[str, tuple[str, ...], tuple[str, ...]]) -> list[str]:
    """A link's query parameters that no page reads (`KNOWN_PARAMS`), in words (Markdown), until the
    window, clouds or workflows are changed: `?workflow=orders` or `?clouds=aws` filtered nothing, in silence."""
    unknown = st.session_state.get(STATE_UNKNOWN_PARAMS)
    if not unknown or not unknown[0]:
        return []
    names, first = unknown
    if chosen != first:
        del st.session_state[STATE_UNKNOWN_PARAMS]
        return []
    listed = ", ".join(f"“{md(name)}”" for name in names)
    return [f"**The link's {listed} {'is not a parameter' if len(names) == 1 else 'are not parameters'} of this "
            f"dashboard, so {'it filters' if len(names) == 1 else 'they filter'} nothing:** the filters are "
            f"{PARAM_WINDOW}=, {PARAM_CLOUD}= and {PARAM_WF}= (a workflow's id), as the sidebar writes them."]


def _listed(values: tuple[str, ...] | list[str]) -> str:
    """A link's filter values in words (Markdown); an empty one (a link built from an unset variable) is
    said to be empty, never shown as nothing ("names , not a cloud")."""
    return ", ".join(md(v) if v.strip() else "an empty value" for v in values)


def _bad_link_notes(window: str, clouds: list[str], end_now: bool = False) -> list[str]:
    """A link's `?window=` that is no window of the sidebar, `?cloud=` that is no cloud of the store, or
    `?end=` that is not "now", in words (Markdown), until the window (the clouds, the end) is changed: they
    were replaced by the default in silence, so `?window=2w` showed 7 days as if asked for, and
    `?end=tomorrow` a window ending at the data."""
    bad = st.session_state.get(STATE_BAD_LINK)
    if not bad:
        return []
    bad_window, bad_clouds, first_window, first_clouds, options, bad_end = bad
    out: list[str] = []
    if bad_window is not None and window == first_window:
        out.append(f"**The link's time window “{md(bad_window)}” is not one of {', '.join(WINDOWS)}, so "
                   f"{window} is shown.**")
    if bad_clouds and tuple(clouds) == first_clouds:
        rest = f"{', '.join(clouds)} is shown" if clouds else "every cloud is shown"
        out.append(f"**The link's cloud filter names {_listed(bad_clouds)}, not a cloud in this store "
                   f"({md(', '.join(options))}), so left out:** {md(rest)}.")
    if bad_end is not None and not end_now:
        out.append(f"**The link's end “{md(bad_end)}” is not “now”**, the one end a link can give, so the window "
                   "ends as without one, at the store's newest data when that is before now (tick *End the window "
                   "now* in the sidebar to end it now).")
    if not out:
        del st.session_state[STATE_BAD_LINK]
    return out


def ends_now() -> bool:
    """Whether this session's window ends now by choice (the sidebar's *End the window now*): links to
    other pages say so (`?end=now`), else they open on the window ending at the data."""
    return bool((st.session_state.get(STATE_SAVED) or {}).get(KEY_END_NOW))


def notes() -> list[str]:
    """This run's notes on what the workflow filter left out (`_dropped_notes`)."""
    return list(st.session_state.get(STATE_NOTES) or [])


def other_windows(f: Filters, first_data: dt.datetime | None = None) -> list[tuple[dt.datetime, dt.datetime]]:
    """(since, until) of the sidebar's other spans ending where `f` ends, in the order the analyses
    compute them ahead of time: the slowest to analyse first, the nearest span breaking ties.

    The analyses read a window and the one before it, so their time follows the days of data those
    two hold (`first_data`: where the store's data begins; None: as if it covered them). A window that
    reads little is analysed within the target when it is asked for; one that reads much (30 or 90
    days of a 1M-execution store: 1.9 to 2.1 s alone, over 3 s beside the page's own run) is only in
    time if it was computed ahead. Nearest first, the order this replaced, left 30 days third, behind
    14 and 3 days.
    """
    def data_days(days: float) -> float:
        start = f.until - dt.timedelta(days=2 * days)
        if first_data is not None:
            start = min(max(start, first_data), f.until)
        return round((f.until - start).total_seconds() / 86400, 3)

    spans = sorted((days for days in WINDOWS.values() if abs(days - f.days) > 1e-9),
                   key=lambda days: (-data_days(days), abs(math.log(days / f.days))))
    return [(f.until - dt.timedelta(days=days), f.until) for days in spans]


def default_filters(summary: Mapping[str, Any]) -> Filters:
    """The filters of a page opened without choices (the default window over the store's data, every
    cloud and workflow): what a first visitor's page asks the analyses for."""
    first = summary.get("first")
    span = time_window(WINDOWS[DEFAULT_WINDOW], first_data=first, last_data=known_to(summary))
    return Filters(span.since, span.until, data_since=first)


def current() -> Filters:
    """The filters of this run (set by the router's sidebar); defaults when a page runs alone."""
    filters = st.session_state.get(STATE_FILTERS)
    if filters is None:
        span = current_window()
        filters = Filters(span.since, span.until)
    return filters


def current_window() -> TimeWindow:
    """This run's TimeWindow (where it ends, whether the previous window has data)."""
    span = st.session_state.get(STATE_WINDOW)
    if span is None:
        span = time_window(WINDOWS[DEFAULT_WINDOW], first_data=None, last_data=None)
    return span


def data_end_note(span: TimeWindow) -> str | None:
    """The caption a page shows when its window ends at the data rather than now."""
    if not span.ends_at_data or span.data_end is None:
        return None
    return (f"The data in this store ends at {span.data_end:%Y-%m-%d %H:%M} UTC (its newest run, or its last "
            "sync past it), so the window ends there, "
            "not now (tick *End the window now* in the sidebar to change that).")


def describe(f: Filters, ends_at_data: bool = False) -> str:
    span = next((k for k, v in WINDOWS.items() if abs(v - f.days) < 1e-6), f"{f.days:.1f}d")
    lead = f"{span} to the latest data" if ends_at_data else f"last {span}"
    parts = [f"{lead} ({f.since:%Y-%m-%d %H:%M} → {f.until:%Y-%m-%d %H:%M} UTC)"]
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
        summary = data.summary()
    except Exception:  # noqa: BLE001 - the page itself explains what is wrong with the store
        options, summary = None, {}
    return sidebar(options, known_to(summary), summary.get("first"))


def known_to(summary: Mapping[str, Any]) -> dt.datetime | None:
    """Where the store's knowledge ends (`store_summary`'s known_to: data, or a sync's watermark past it;
    None for a store that cannot be read)."""
    return summary.get("known_to")
