"""The dashboard server wrapper: localhost by default, sign-in required elsewhere, secrets for st.login."""

from __future__ import annotations

import tomllib

import pytest

from flowscope.ui import server


def test_refuses_a_public_address_without_auth(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOWSCOPE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="without sign-in"):
        server.serve(str(tmp_path), address="0.0.0.0", wait=False)


def test_command_runs_app_py_headless_on_loopback(tmp_path):
    cmd = server.command(str(tmp_path), 8600)
    assert cmd[cmd.index("run") + 1].endswith("app.py")
    assert server.app_path().is_file()
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "8600"


def test_auth_settings_become_streamlit_secrets():
    text = server.secrets_toml({"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": 'x"y',
                                "google": {"client_id": "id", "client_secret": "s",
                                           "server_metadata_url": "https://accounts.google.com/.well-known/x"}})
    parsed = tomllib.loads(text)
    assert parsed["auth"]["cookie_secret"] == 'x"y'
    assert parsed["auth"]["google"]["client_id"] == "id"
