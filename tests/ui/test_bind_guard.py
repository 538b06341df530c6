"""The loopback-only rule holds however the dashboard is started: an app bound beyond loopback with no
sign-in configured shows a refusal, and no data, before any page renders."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from flowscope.ui import server
from tests.ui.helpers import APP

REPO = Path(APP).parent


@pytest.fixture
def bound(monkeypatch):
    """Set Streamlit's server.address for one test (as `--server.address` would), then restore it."""
    before = st_config.get_option("server.address")

    def bind(address: str | None) -> None:
        st_config.set_option("server.address", address)

    yield bind
    st_config.set_option("server.address", before)


def run(store: str, monkeypatch, tmp_path) -> AppTest:
    monkeypatch.setenv("FLOWSCOPE_STORE", store)
    monkeypatch.delenv("FLOWSCOPE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)                          # no flowscope.toml, no .streamlit/secrets.toml
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "192.0.2.10", "flowscope.example.com", None, ""])
def test_a_public_bind_without_sign_in_shows_a_refusal_and_no_data(address, bound, three_cloud_store,
                                                                  monkeypatch, tmp_path):
    bound(address)
    at = run(three_cloud_store, monkeypatch, tmp_path)
    text = " ".join(e.value for e in at.error)
    assert "without sign-in" in text and "[auth]" in text and "127.0.0.1" in text, text
    assert not at.metric and not at.dataframe and not at.title   # no page rendered


@pytest.mark.parametrize("address", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_a_loopback_bind_serves_the_pages(address, bound, one_cloud_store, monkeypatch, tmp_path):
    bound(address)
    at = run(one_cloud_store, monkeypatch, tmp_path)
    assert not at.error, [e.value for e in at.error]
    assert at.metric                                            # the overview's numbers


def test_a_public_bind_with_sign_in_configured_asks_to_sign_in(bound, one_cloud_store, monkeypatch, tmp_path):
    """[auth] in flowscope.toml and Streamlit's secrets: the sign-in page, not the refusal, not data."""
    bound("0.0.0.0")
    auth = ('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\ncookie_secret = "s"\n'
            'client_id = "id"\nclient_secret = "x"\n'
            'server_metadata_url = "https://accounts.google.com/.well-known/openid-configuration"\n')
    (tmp_path / "flowscope.toml").write_text(auth)
    monkeypatch.setenv("FLOWSCOPE_STORE", one_cloud_store)
    monkeypatch.delenv("FLOWSCOPE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = tomllib.loads(auth)["auth"]
    at.user = {"is_logged_in": False}                    # what a real session reads before login
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.metric and not at.dataframe


def test_the_signed_in_name_is_literal_text(bound, one_cloud_store, monkeypatch, tmp_path):
    """The name the identity provider sends (its user chooses it) was written into the sidebar as Markdown:
    "Eve ![x](https://evil.example/t.png)" loaded an image from elsewhere, a link or :red[...] rendered as such."""
    bound("127.0.0.1")
    name = "Eve ![x](https://evil.example/t.png) [click](https://e.example) :red[b]"
    at = run_with_secrets(one_cloud_store, monkeypatch, tmp_path, {"is_logged_in": True, "name": name})
    assert not at.exception, [e.value for e in at.exception]
    from flowscope.textsafety import markdown_text

    shown = [c.value for c in at.sidebar.caption if "Signed in as" in c.value]
    assert shown == [f"Signed in as {markdown_text(name)}"], shown
    assert "](" not in shown[0] and ":red[" not in shown[0], shown


def run_with_secrets(store: str, monkeypatch, tmp_path, user: dict) -> AppTest:
    """The app run once by `user` (Streamlit's st.user), with [auth] only in .streamlit/secrets.toml."""
    monkeypatch.setenv("FLOWSCOPE_STORE", store)
    monkeypatch.delenv("FLOWSCOPE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s",
                          "client_id": "id", "client_secret": "x",
                          "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration"}
    at.user = user
    at.run()
    return at


def signed_out_with_secrets(store: str, monkeypatch, tmp_path) -> AppTest:
    """The app run once by a visitor not signed in, with [auth] only in .streamlit/secrets.toml."""
    return run_with_secrets(store, monkeypatch, tmp_path, {"is_logged_in": False})


def test_sign_in_in_streamlit_secrets_alone_is_enforced(bound, one_cloud_store, monkeypatch, tmp_path):
    """`streamlit run app.py` with [auth] only in .streamlit/secrets.toml: sign-in is required, so the
    public bind is allowed and shows the sign-in page."""
    bound("0.0.0.0")
    at = signed_out_with_secrets(one_cloud_store, monkeypatch, tmp_path)
    assert not at.exception, [e.value for e in at.exception]
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.metric and not at.dataframe


def test_the_repository_streamlit_config_binds_loopback():
    """`streamlit run app.py` from the repository reads .streamlit/config.toml: 127.0.0.1, not every interface."""
    cfg = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert server.is_loopback(cfg["server"]["address"])


@pytest.mark.parametrize(("address", "expected"), [("127.0.0.1", True), ("127.9.9.9", True), ("::1", True),
                                                   ("[::1]", True), ("localhost", True), ("LOCALHOST", True),
                                                   ("0.0.0.0", False), ("::", False), ("", False), (None, False),
                                                   ("10.0.0.1", False), ("localhost.example.com", False)])
def test_is_loopback(address, expected):
    assert server.is_loopback(address) is expected


@pytest.mark.parametrize(("variable", "value"), [("FLOWSCOPE_UI_ANALYSES_NICE", "high"),
                                                  ("FLOWSCOPE_UI_ANALYSES_MEMORY", "lots")])
def test_a_bad_dashboard_variable_under_streamlit_run_is_one_error_naming_it(variable, value, bound,
                                                                           one_cloud_store, monkeypatch, tmp_path):
    """`streamlit run app.py` with FLOWSCOPE_UI_ANALYSES_NICE=high was a traceback of int() on every page
    (`flowscope dashboard` refuses it before it starts the server): now one error naming it, and no page."""
    bound("127.0.0.1")
    monkeypatch.setenv(variable, value)
    at = run(one_cloud_store, monkeypatch, tmp_path)
    text = " ".join(e.value for e in at.error).replace("\\", "")   # as rendered: Markdown escapes gone
    assert variable in text and repr(value) in text, text
    assert not at.metric and not at.dataframe          # no page computed with a setting it cannot use


BROKEN_AUTH = ('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\ncookie_secret = "s"\n'
               'client_id = "id"\nclient_secret = "x\n')       # the closing quote forgotten: line 5


def test_a_public_bind_with_a_broken_config_says_the_config_is_broken(bound, one_cloud_store, monkeypatch, tmp_path):
    """[auth] in a flowscope.toml with a syntax error, on a public bind: the error was swallowed and the
    page said "served without sign-in ... add an [auth] section", which the operator had done. Now it says
    the config file cannot be used (and shows no data), without its details to whoever opened the page."""
    bound("0.0.0.0")
    (tmp_path / "flowscope.toml").write_text(BROKEN_AUTH)
    at = run(one_cloud_store, monkeypatch, tmp_path)
    text = " ".join(e.value for e in at.error)
    assert "config file cannot be used" in text and "flowscope doctor" in text, text
    assert "add an [auth] section" not in text and "line 5" not in text, text
    assert not at.metric and not at.dataframe and not at.title


def test_a_broken_config_with_sign_in_in_streamlit_secrets_asks_to_sign_in_first(bound, one_cloud_store,
                                                                                monkeypatch, tmp_path):
    """Sign-in from .streamlit/secrets.toml on a public bind: a broken flowscope.toml is said to whoever
    signed in, not (file, line and all) to anyone who opens the page."""
    bound("0.0.0.0")
    (tmp_path / "flowscope.toml").write_text(BROKEN_AUTH)
    at = signed_out_with_secrets(one_cloud_store, monkeypatch, tmp_path)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert [b.label for b in at.button] == ["Sign in"]
