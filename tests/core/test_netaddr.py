"""The one loopback rule (dashboard bind guard, plain-http collector endpoints, SMTP without TLS) and the one
endpoint rule of the three clouds' collectors (`endpoint_fault`)."""

from __future__ import annotations

import pytest

from flowscope.netaddr import endpoint_fault, is_loopback, is_loopback_url


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


@pytest.mark.parametrize("url", [
    "https://management.azure.com", "https://states.us-east-1.amazonaws.com/", "http://127.0.0.1:5057",
    "http://[::1]:9", "http://localhost", "http://LOCALHOST:1/", "https://{service}.googleapis.com",
    "https://{region}.metrics.monitor.azure.com", "https://x.example:443", "http://127.0.0.1:65535",
    "https://x.example/some/path",
])
def test_endpoint_fault_accepts(url):
    assert endpoint_fault(url) is None


@pytest.mark.parametrize("url, fault", [
    # not a URL at all: urlsplit's ValueError, once a traceback in Azure and GCP
    ("http://[::1", "is not a readable URL (Invalid IPv6 URL), got 'http://[::1'"),
    ("http://[zz]:1", "is not a readable URL ("),
    # not http(s), or no host
    ("127.0.0.1:5057", "must be an https:// URL (or http:// on a loopback address), got '127.0.0.1:5057'"),
    ("ftp://127.0.0.1", "must be an https:// URL"),
    ("https://", "must be an https:// URL"),
    ("http://:8080", "must be an https:// URL"),
    # a bad port: AWS alone refused it, Azure and GCP failed at the first call
    ("http://127.0.0.1:99999", "has a port that is not a number from 1 to 65535, got 'http://127.0.0.1:99999'"),
    ("http://127.0.0.1:abc", "has a port that is not a number from 1 to 65535"),
    ("https://x.example:0", "has a port that is not a number from 1 to 65535"),
    # plain http off loopback
    ("http://example.com:5057", "is plain http on a non-loopback host (example.com)"),
    ("http://127.0.0.1.nip.io", "is plain http on a non-loopback host (127.0.0.1.nip.io)"),
    ("http://10.0.0.1", "is plain http on a non-loopback host (10.0.0.1)"),
    # not a bare root URL
    ("https://user:pw@example.com", "must be a bare root URL: it must not carry credentials"),
    ("https://user@example.com", "must be a bare root URL: it must not carry credentials"),
    ("https://x.example?sig=1", "must be a bare root URL: it must not carry a query or fragment"),
    ("https://x.example/#top", "must be a bare root URL: it must not carry a query or fragment"),
])
def test_endpoint_fault_names_what_is_wrong(url, fault):
    assert fault in (endpoint_fault(url) or "")


@pytest.mark.parametrize("url", ["ftp://svc:s3cret@x.example/", "http://svc:s3cret@[::1", "https://svc:s3cret@x:0"])
def test_endpoint_fault_never_repeats_a_password(url):
    said = endpoint_fault(url) or ""
    assert said and "s3cret" not in said and "//***@" in said
