"""Whether an address stays on this machine: the one rule the dashboard's bind guard, the collectors'
plain-http endpoints and the SMTP notifier share."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


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
