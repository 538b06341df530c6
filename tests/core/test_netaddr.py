"""The one loopback rule (dashboard bind guard, plain-http collector endpoints, SMTP without TLS)."""

from __future__ import annotations

import pytest

from flowscope.netaddr import is_loopback, is_loopback_url


@pytest.mark.parametrize("host, expected", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
    (" LOCALHOST ", True), ("0.0.0.0", False), ("", False), (None, False), ("10.0.0.1", False),
    ("localhost.evil.example", False), ("example.com", False), ("::", False),
])
def test_is_loopback(host, expected):
    assert is_loopback(host) is expected


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.0.1:8080/x", True), ("http://[::1]:9/", True), ("http://localhost/", True),
    ("https://management.azure.com", False), ("http://127.0.0.1.nip.io/", False),
])
def test_is_loopback_url(url, expected):
    assert is_loopback_url(url) is expected
