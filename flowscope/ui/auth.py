"""Optional sign-in with Streamlit's OIDC login (`st.login`), when flowscope.toml has [auth].

`flowscope dashboard` hands the [auth] table to Streamlit as its secrets (see server.py); with
`streamlit run app.py`, put the same table in `.streamlit/secrets.toml`. Without [auth] the
dashboard has no login and binds to 127.0.0.1 only.
"""

from __future__ import annotations

from typing import Any

import streamlit as st


def auth_settings() -> dict[str, Any]:
    try:
        from flowscope.settings import load_settings

        return dict(load_settings().auth or {})
    except Exception:  # noqa: BLE001 - a broken config is reported by the CLI, not here
        return {}


def _provider(cfg: dict[str, Any]) -> str | None:
    """The named provider ([auth.NAME] sub-table) to log in with; None for the default one."""
    named = [k for k, v in cfg.items() if isinstance(v, dict)]
    return cfg.get("provider") or (named[0] if len(named) == 1 else None)


def require_login() -> None:
    """Stop the run with a login button until the user is signed in (no-op without [auth])."""
    cfg = auth_settings()
    if not cfg:
        return
    try:
        logged_in = bool(st.user.is_logged_in)
    except Exception:  # noqa: BLE001 - secrets missing: tell the operator how to fix it
        st.error("Sign-in is configured in flowscope.toml ([auth]) but Streamlit has no [auth] secrets: start the "
                 "dashboard with `flowscope dashboard`, or copy the [auth] table to .streamlit/secrets.toml.")
        st.stop()
        return
    if not logged_in:
        st.title("flowscope")
        st.write("Sign in to see the dashboard.")
        st.button("Sign in", on_click=st.login, args=(_provider(cfg),) if _provider(cfg) else ())
        st.stop()
    with st.sidebar:
        st.caption(f"Signed in as {getattr(st.user, 'email', None) or getattr(st.user, 'name', 'user')}")
        st.button("Sign out", on_click=st.logout)
