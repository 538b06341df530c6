"""One POST of a payload to a webhook URL, and the receiver's reason when it refuses, the URL kept out.

Slack, Teams and the JSON webhook all post here (`_post`): what may pass (no response, HTTP 429, 5xx) is
`Transient`, the rest `Permanent`. The URL is a secret, so the receiver's reason (`refusal`) is quoted
without it or any part of it that may be a token (`url_secrets`, `without_url`).
"""

from __future__ import annotations

import re
from typing import Any

from flowscope.report.notify.failures import Permanent, Transient


def _post(url: str, body: dict[str, Any], timeout: float) -> str:
    """One POST; the URL is a secret, so no error names it (requests' messages do: only types are kept)."""
    import requests

    try:
        response = requests.post(url, json=body, timeout=timeout, allow_redirects=False)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise Transient(f"{type(exc).__name__} (no response)") from None
    except requests.RequestException as exc:
        raise Permanent(f"{type(exc).__name__}") from None
    if response.status_code < 300:
        return f"HTTP {response.status_code}"
    said = f"HTTP {response.status_code}" + (f": {why}" if (why := refusal(response.text, url)) else "")
    if response.status_code == 429 or response.status_code >= 500:
        from flowscope.collectors.gcp.clients import retry_after_s

        raise Transient(said, retry_after_s(response.headers.get("Retry-After")))
    raise Permanent(said)


REFUSAL_CHARS = 200
"""The most of a receiver's reason a failed delivery quotes."""


def refusal(body: str, url: str) -> str:
    """Why a receiver refused a message, in one short line: Slack's word ("invalid_blocks",
    "channel_is_archived"), a JSON error's code and message (a Teams workflow's), else its text; nothing
    for an HTML page (a proxy's). "HTTP 400" alone could not tell a deleted channel from a message built
    wrong. The URL is a secret: it and every part of it that may be a token (`url_secrets`) are taken out,
    as is any credential `textsafety.SECRET_RULES` knows, and terminal escapes (the line is printed)."""
    import json

    from flowscope.textsafety import one_line, without_secrets

    # a reason is short; a page of megabytes is not read whole, nor a token cut in two at the end of what is
    text = body[:REFUSAL_READ] if len(body) <= REFUSAL_READ else re.sub(r"\S*\Z", "", body[:REFUSAL_READ])
    text = text.strip()
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        error = doc.get("error", doc)
        if isinstance(error, dict):
            text = ": ".join(str(error[k]) for k in ("code", "message") if error.get(k))
        elif isinstance(error, str):
            text = error
    if text.startswith("<"):
        return ""
    return without_secrets(without_url(one_line(text), url))[:REFUSAL_CHARS]


REFUSAL_READ = 8000
"""The most of a receiver's answer `refusal` reads."""
SECRET_QUERY_NAME = re.compile(r"tok|sig|key|secret|pass|pwd|auth|code|cred", re.IGNORECASE)
"""A query parameter whose value is a credential whatever it looks like (?token=, a Teams workflow's sig=,
an Azure Function's code=, ?key=, ?apikey=)."""
PLAIN_SEGMENT = re.compile(r"[a-z]{1,15}")
"""A path segment that is a word, not a token: "services", "workflows", "triggers", "hook"."""
PLAIN_VALUE = re.compile(r"[a-z]{1,15}|\d{1,4}(?:[.-]\d{1,4}){0,2}")
"""A query value that is a word or a version, not a token: api-version=2016-06-01, sv=1.0, api-version=1."""
LONG_SECRET = 8
"""A secret this long is taken out wherever it is; a shorter one only where it stands alone (not inside a
longer word or number), so a token "T0" or "abc" does not break "T01" or "abcde" in a reason."""


def url_secrets(url: str) -> list[str]:
    """The parts of a webhook URL a message must not quote, longest first: the URL, its path and query, its
    user name and password, the value of each query parameter named like a credential, and each other query
    value and path segment that is not a plain word or version (each as written and percent-decoded). Any
    may be the token whatever its length: only parts of 16 characters or more were taken out, and a
    13-character ?token= that the server echoed was printed."""
    from urllib.parse import unquote, unquote_plus, urlsplit

    try:
        parts = urlsplit(url)
        found = {url, parts.path + (f"?{parts.query}" if parts.query else ""), parts.path,
                 parts.username or "", parts.password or ""}
    except ValueError:
        return [url]
    found |= {s for s in parts.path.split("/") if not PLAIN_SEGMENT.fullmatch(unquote(s))}
    for pair in parts.query.split("&"):
        name, equals, value = pair.partition("=")
        name, value = (name, value) if equals else ("", name)       # "?TOKEN": the name is the secret
        if SECRET_QUERY_NAME.search(unquote_plus(name)) or not PLAIN_VALUE.fullmatch(unquote_plus(value)):
            found.add(value)
    found |= {unquote_plus(s) for s in found} | {unquote(s) for s in found}
    return sorted((s for s in found if any(c.isalnum() for c in s)), key=len, reverse=True)


def without_url(text: str, url: str) -> str:
    """`text` with every `url_secrets` part of `url` replaced by "[the webhook URL]", in one pass (a
    replacement is never searched again for a shorter part)."""
    patterns = [re.escape(s) if len(s) >= LONG_SECRET else rf"(?<![^\W_]){re.escape(s)}(?![^\W_])"
                for s in url_secrets(url)]
    return re.sub("|".join(patterns), "[the webhook URL]", text) if patterns else text
