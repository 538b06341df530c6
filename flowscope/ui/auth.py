"""Optional sign-in with Streamlit's OIDC login (`st.login`), when flowscope.toml has [auth].

`flowscope dashboard` hands the [auth] table to Streamlit as its secrets (see server.py); with
`streamlit run app.py`, put the same table in `.streamlit/secrets.toml` (either place makes sign-in
required). Without sign-in the dashboard serves data only when bound to loopback, however started.
"""

from __future__ import annotations

from typing import Any

import streamlit as st


def auth_settings() -> dict[str, Any]:
    """flowscope.toml's [auth] table; settings.ConfigError when the config file cannot be used. It was
    read as "no [auth]": on a public bind the page told an operator whose [auth] had a typo to add one."""
    from flowscope.settings import load_settings

    return dict(load_settings().auth or {})


def config_unusable() -> bool:
    """Whether the config file cannot be used (what is wrong with it: `data.config_problem`)."""
    from flowscope.settings import ConfigError

    try:
        auth_settings()
    except ConfigError:
        return True
    return False


def secrets_auth() -> dict[str, Any]:
    """The [auth] table of Streamlit's own secrets (.streamlit/secrets.toml or --secrets.files), if any."""
    try:
        if st.secrets.load_if_toml_exists():
            return dict(st.secrets.get("auth") or {})
    except Exception:  # noqa: BLE001 - unreadable secrets are the same as none here
        pass
    return {}


def sign_in_settings() -> dict[str, Any]:
    """What sign-in is configured with: flowscope.toml's [auth], else Streamlit's [auth] secrets.
    Either one makes sign-in required (require_login enforces it). A config file that cannot be used
    configures none (`require_private_or_sign_in` says so on a public bind)."""
    from flowscope.settings import ConfigError

    try:
        configured = auth_settings()
    except ConfigError:
        configured = {}
    return configured or secrets_auth()


def require_private_or_sign_in() -> None:
    """Stop the run before any page when the server is reachable beyond this machine and nobody must sign in.

    `flowscope dashboard` already refuses such a bind; this holds the same rule for `streamlit run app.py`
    with any --server.address (or none: Streamlit then listens on every interface).
    """
    from flowscope.netaddr import is_loopback

    address = st.get_option("server.address")
    if is_loopback(address) or sign_in_settings():
        return
    where = f"`{address}`" if address else "every network interface (no server.address set)"
    if config_unusable():       # its details (file, line, values) are not for whoever opened the page
        st.error(f"**This dashboard is served on {where} and its config file cannot be used, so whether "
                 "sign-in is configured cannot be read: it shows no data.** Run `flowscope doctor` where the "
                 "dashboard runs: it names the file and the line to fix.", icon=":material/lock:")
        st.stop()
        return
    st.error(f"**This dashboard is served on {where} without sign-in, so it shows no data.** "
             "Serve it on this machine only with `flowscope dashboard` (binds 127.0.0.1), or with "
             "`streamlit run app.py --server.address 127.0.0.1` (the repository's .streamlit/config.toml sets "
             "this when started from the repository folder). To share it, configure sign-in: add an [auth] "
             "section to flowscope.toml (OIDC, see the README's Dashboard section) and start it with "
             "`flowscope dashboard --address 0.0.0.0`, or put the [auth] table in .streamlit/secrets.toml.",
             icon=":material/lock:")
    st.stop()


def _provider(cfg: dict[str, Any]) -> str | None:
    """The named provider ([auth.NAME] sub-table) to log in with; None for the default one. [auth]'s own
    `client_kwargs` table is the default provider's options, no provider (`server.NOT_PROVIDERS`)."""
    from flowscope.ui.server import NOT_PROVIDERS

    named = [k for k, v in cfg.items() if isinstance(v, dict) and k not in NOT_PROVIDERS]
    return cfg.get("provider") or (named[0] if len(named) == 1 else None)


def require_login() -> None:
    """Stop the run with a login button until the user is signed in (no-op when no sign-in is configured)."""
    cfg = sign_in_settings()
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
        from flowscope.textsafety import markdown_text

        # the identity provider's text (its user chooses the name): literal, not Markdown
        who = getattr(st.user, 'email', None) or getattr(st.user, 'name', 'user')
        st.caption(f"Signed in as {markdown_text(who)}")
        st.button("Sign out", on_click=st.logout)
