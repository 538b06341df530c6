"""Whether an address stays on this machine: the one rule the dashboard's bind guard, the collectors'
plain-http endpoints and the SMTP notifier share; and the one rule of a collector's endpoint URL
(`endpoint_fault`), which AWS, Azure and GCP each frame in their own words."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit


def is_loopback(host: str | None) -> bool:
    """True for `localhost` and loopback IP addresses (v4 or v6, bracketed or not). Unset or empty
    is False (a bind address left empty means every interface), and any other host name may
    resolve anywhere."""
    if not host:
        return False
    text = host.strip().strip("[]")
    if text.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """`is_loopback` of a URL's host."""
    return is_loopback(urlsplit(url).hostname)


LOOPBACK_NAMES = "127.0.0.1, ::1, localhost"


def endpoint_fault(url: str) -> str | None:
    """What is wrong with `url` as a cloud endpoint setting, or None: the one rule of AWS `endpoint_url`, the Azure
    `*_endpoint`s and the GCP `endpoint`, each of which frames the text after its setting's name ("aws source:
    endpoint_url " + fault). An http(s) URL with a host and, if any, a port 1-65535 (a bad one failed the scope at
    its first call, or at once with a traceback); plain http only on loopback (`is_loopback`: the requests carry
    credentials, signed or bearer); no credentials, query or fragment (the endpoint is recorded in collection_runs;
    credentials come from the SDK's chain)."""
    shown = _USERINFO.sub("//***@", url)
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:   # "http://[::1" (Invalid IPv6 URL), "http://[zz]/"
        return f"is not a readable URL ({exc}), got {shown!r}"
    if parts.scheme not in ("https", "http") or not host:
        return f"must be an https:// URL (or http:// on a loopback address), got {shown!r}"
    if not port_ok(parts):
        return f"has a port that is not a number from 1 to 65535, got {shown!r}"
    if parts.scheme == "http" and not is_loopback(host):
        return (f"is plain http on a non-loopback host ({host}); requests carry credentials, so they go over https "
                f"only (http is allowed for {LOOPBACK_NAMES})")
    if parts.username is not None or parts.password is not None:
        return ("must be a bare root URL: it must not carry credentials (user:password@); the endpoint is recorded "
                "in collection_runs, credentials come from the SDK's chain")
    if parts.query or parts.fragment:
        return "must be a bare root URL: it must not carry a query or fragment"
    return None


_USERINFO = re.compile(r"//[^/?#]*@")
"""`user:password@` of a URL, masked where a message repeats the URL (messages reach logs and terminals)."""


def port_ok(parts: SplitResult) -> bool:
    """No port, or one from 1 to 65535 (`SplitResult.port` raises ValueError for 99999 or "abc", and 0 is
    nothing a client can connect to): the endpoints' rule and the webhook URLs' (`report.notify`)."""
    try:
        return parts.port != 0
    except ValueError:
        return False
