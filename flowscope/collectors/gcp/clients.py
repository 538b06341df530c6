"""Sessions, endpoints, the read-only guard and the documented quotas of the GCP collector.

One thin REST layer over google-auth's `AuthorizedSession` (requests) for every Google API the
collector calls: the Workflows Python client speaks gRPC and does not expose step entries, and
one layer means one read-only guard, one retry policy and one call count.

- Credentials: a pre-obtained access token in `FLOWSCOPE_GCP_TOKEN` (emulators, tests,
  air-gapped set-ups; never read from the config file), else Application Default Credentials
  (`google.auth.default()`: gcloud login, service account, workload identity). google-auth is
  imported on first use, so importing flowscope never needs it.
- Endpoints: each API keeps its own host (`https://{service}.googleapis.com`); `endpoint` in the
  source overrides the root of all of them (with `{service}` in it, per API). Plain `http://`
  only on a loopback address: a bearer token never crosses a network in clear text.
- Read-only: `ReadOnlySession.request` refuses, before anything is sent, every method other than
  GET, and POST except to the Cloud Logging `entries:list` path.
- Quotas: one token bucket per (project, location, API) sized to the documented per-minute
  quotas (`QUOTAS`); retries with exponential backoff and full jitter (tenacity) on 429, 5xx,
  timeouts and dropped connections (before or during the body), each attempt taking its own
  token; a `Retry-After` the server sends is waited out (up to `RETRY_AFTER_MAX_S`) before the
  next attempt, never undercut.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flowscope.collectors.native import cleaned
from flowscope.collectors.throttle import RETRY_AFTER_MAX_S, Quota, RateLimiters
from flowscope.collectors.window import CollectionError
from flowscope.netaddr import endpoint_fault

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

TOKEN_ENV = "FLOWSCOPE_GCP_TOKEN"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
"""The only OAuth scope the Workflows APIs accept (see their discovery documents); the collector
stays read-only by `ReadOnlySession` and the least-privilege role in docs/gcp-role.md."""
DEFAULT_ROOT = "https://{service}.googleapis.com"
BACKOFF_S = 0.5
"""First retry waits up to this long (full jitter), doubling per attempt up to 20 s."""
SERVICES = ("workflows", "workflowexecutions", "logging", "monitoring")

# ---------------------------------------------------------------- the read-only allow-list

READ_ONLY_POST_PATHS = (
    re.compile(r"^/v2/entries:list$"),                                  # Cloud Logging entries.list
)
"""The only POST allowed: Cloud Logging's list call, which takes its filter in a body (Cloud
Monitoring is read with GET `metricDescriptors.list` and `timeSeries.list`)."""

PERMISSIONS = (
    "workflows.locations.list",
    "workflows.workflows.get",
    "workflows.workflows.list",
    "workflows.executions.get",
    "workflows.executions.list",
    "workflows.stepEntries.list",
    "logging.logEntries.list",
    "monitoring.timeSeries.list",
    "monitoring.metricDescriptors.list",
)
"""What docs/gcp-role.md grants (a test keeps them equal). Step entries have their own permission
(`workflows.stepEntries.list`, listed in Google's Workflows permissions table)."""


class ReadOnlyViolation(RuntimeError):
    """A request that could change something was about to be sent."""


def check_read_only(method: str, url: str) -> None:
    """Raise ReadOnlyViolation unless `method url` is a read the collector may make."""
    verb = method.upper()
    if verb == "GET":
        return
    path = urlsplit(url).path
    if verb == "POST" and any(p.match(path) for p in READ_ONLY_POST_PATHS):
        return
    raise ReadOnlyViolation(f"{verb} {path} is not a read-only call flowscope may make")


# ---------------------------------------------------------------- endpoints

def endpoint_problem(endpoint: str) -> str | None:
    """Why `endpoint` (a root override) cannot be used, or None: the endpoints' one rule
    (`netaddr.endpoint_fault`; a `{service}` in the host name is read as a part of it)."""
    fault = endpoint_fault(endpoint)
    return f"endpoint {fault}" if fault else None


def service_root(endpoint: str | None, service: str) -> str:
    """The root URL of one Google API: the default host, or the source's override."""
    template = endpoint or DEFAULT_ROOT
    return template.replace("{service}", service).rstrip("/")


# ---------------------------------------------------------------- documented quotas

# Workflows quotas (https://cloud.google.com/workflows/quotas, checked 2026-11), per project and
# location, per minute: Workflow API requests (list, get, ...) 1,200; Execution API get requests
# 6,000. The Execution API list quota's value was cut from the stored page: 600 per minute is
# assumed (unconfirmed), and step entries share it (ListStepEntries is a list of the Executions
# API). All overridable per source (`quotas = {"executions.list" = [100, 10]}`).
# Bucket: a ten-second burst, refilled at the per-minute quota / 60.
def _per_minute(n: float) -> Quota:
    return Quota(capacity=max(1.0, n / 6), rate=n / 60)


QUOTAS: dict[str, Quota] = {
    "workflows": _per_minute(1200),
    "executions.get": _per_minute(6000),
    "executions.list": _per_minute(600),
    "stepEntries.list": _per_minute(600),
    # Cloud Logging entries.list: 60 per minute per project (Cloud Logging quotas, as remembered;
    # unconfirmed here). Cloud Monitoring time series reads: 6,000 per minute per project (as
    # remembered; unconfirmed).
    "logging.entries.list": _per_minute(60),
    "monitoring": _per_minute(6000),
}


def default_quota(api: str, overrides: Mapping[str, Quota] | None = None) -> Quota | None:
    if overrides and api in overrides:
        return overrides[api]
    return QUOTAS.get(api)


# ---------------------------------------------------------------- errors

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
GONE_STATUS = 404


class GcpApiError(CollectionError):
    """A Google API call that failed; `code` is Google's status word (NOT_FOUND, ...)."""

    def __init__(self, message: str, *, http_status: int | None, operation: str | None = None,
                 code: str | None = None, target: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, operation=operation, code=code, target=target,
                         retryable=http_status in RETRYABLE_STATUS)
        self.http_status = http_status
        self.retry_after = retry_after
        """Seconds the server asked to wait before trying again (its `Retry-After`), if it said."""

    @property
    def gone(self) -> bool:
        return self.http_status == GONE_STATUS


class GcpAuthError(GcpApiError):
    """The credentials were refused (401) or could not be obtained: the whole scope fails."""


def _api_error(response: Any, operation: str, target: str | None) -> GcpApiError:
    status = int(response.status_code)
    code, message = None, None
    try:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            code, message = error.get("status"), error.get("message")
    except (ValueError, RecursionError):        # no JSON, or nested too deeply to read: the status says it
        pass
    code = str(code or f"HTTP_{status}")
    said = f": {cleaned(str(message), 200)}" if message else ""     # cleaned before the cut
    text = f"{operation} failed: HTTP {status} {code}" + said
    cls = GcpAuthError if status == 401 else GcpApiError
    if status == 401:
        text += f" (the access token was refused: expired or revoked? check {TOKEN_ENV} or `gcloud auth`)"
    return cls(text, http_status=status, operation=operation, code=code, target=target,
               retry_after=retry_after_s(response.headers.get("Retry-After")))


def retry_after_s(value: Any, *, now: dt.datetime | None = None) -> float | None:
    """A `Retry-After` header as seconds (RFC 9110: delay-seconds or an HTTP-date), None when
    absent or unreadable (cloud text: never trusted to be well formed)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        seconds = (when - (now or dt.datetime.now(dt.timezone.utc))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _retry_wait(backoff: Callable[[Any], float]) -> Callable[[Any], float]:
    """The wait before a retry: the jittered backoff, or the server's `Retry-After` (up to
    `RETRY_AFTER_MAX_S`) when it asks for longer: retrying sooner is refused again and burns attempts."""

    def wait(state: Any) -> float:
        jittered = float(backoff(state))
        exc = state.outcome.exception() if state.outcome is not None else None
        asked = getattr(exc, "retry_after", None)
        return max(jittered, min(float(asked), RETRY_AFTER_MAX_S)) if asked is not None else jittered

    return wait


def _retryable(exc: BaseException) -> bool:
    import requests

    if isinstance(exc, GcpApiError):
        return exc.retryable
    # ChunkedEncodingError: the connection broke after the headers, mid-body ("IncompleteRead")
    return isinstance(exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError))


# ---------------------------------------------------------------- credentials

def credentials() -> "Credentials":
    """`FLOWSCOPE_GCP_TOKEN` as a bearer token, else Application Default Credentials."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        from google.oauth2.credentials import Credentials as TokenCredentials

        return TokenCredentials(token)
    import google.auth

    try:
        creds, _project = google.auth.default(scopes=list(SCOPES))
    except Exception as exc:  # noqa: BLE001 - DefaultCredentialsError and transport errors alike
        raise GcpAuthError(f"no Google credentials: {type(exc).__name__}: {cleaned(str(exc), 200)} "
                           f"(run `gcloud auth application-default login`, or set {TOKEN_ENV})",
                           http_status=None, operation="google.auth.default", code="NO_CREDENTIALS") from None
    return creds


# ---------------------------------------------------------------- the session

def _session_class() -> type:
    from google.auth.transport.requests import AuthorizedSession

    class ReadOnlySession(AuthorizedSession):
        """An AuthorizedSession that refuses any request that is not a read (see module doc)."""

        def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
            check_read_only(method, url.decode() if isinstance(url, bytes) else url)
            return super().request(method, url, *args, **kwargs)

    return ReadOnlySession


@dataclass
class GcpClients:
    """The REST surface of one scope: guarded session, roots, buckets, retries, call counts."""

    session: Any
    project: str
    endpoint: str | None = None
    limiters: RateLimiters = field(default_factory=lambda: RateLimiters(lambda _r, api: default_quota(api)))
    max_attempts: int = 6
    backoff_s: float = 0.5
    max_backoff_s: float = 20.0
    read_timeout: float = 30.0
    calls: dict[str, int] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _count(self, table: dict[str, int], api: str) -> None:
        with self._lock:
            table[api] = table.get(api, 0) + 1

    def url(self, service: str, path: str) -> str:
        return f"{service_root(self.endpoint, service)}/{path.lstrip('/')}"

    def get_json(self, service: str, path: str, *, api: str, location: str = "-",
                 params: Mapping[str, Any] | None = None, target: str | None = None) -> dict[str, Any]:
        """GET one resource or page as JSON, rate limited and retried; GcpApiError otherwise."""
        return self._call("GET", service, path, api=api, location=location, params=params, target=target)

    def post_json(self, service: str, path: str, *, api: str, body: Mapping[str, Any], location: str = "-",
                  target: str | None = None) -> dict[str, Any]:
        """POST a list call that takes its query in a body (Logging entries:list); read-only guarded."""
        return self._call("POST", service, path, api=api, location=location, body=body, target=target)

    def _call(self, method: str, service: str, path: str, *, api: str, location: str,
              params: Mapping[str, Any] | None = None, body: Mapping[str, Any] | None = None,
              target: str | None = None) -> dict[str, Any]:
        response = self.request(method, self.url(service, path), api=api, location=location,
                                target=target or path, params=dict(params or {}), json=body)
        try:
            doc = response.json()
        except ValueError:
            raise GcpApiError(f"{api}: the response is not JSON (HTTP {response.status_code})",
                              http_status=response.status_code, operation=api, code="BAD_RESPONSE",
                              target=target) from None
        except RecursionError:
            raise GcpApiError(f"{api}: the response is JSON nested too deeply to read", operation=api,
                              http_status=response.status_code, code="BAD_RESPONSE", target=target) from None
        if not isinstance(doc, dict):
            raise GcpApiError(f"{api}: the response is not a JSON object", http_status=response.status_code,
                              operation=api, code="BAD_RESPONSE", target=target)
        return doc

    def request(self, method: str, url: str, *, api: str, location: str = "-", target: str | None = None,
                **kwargs: Any) -> Any:
        """One HTTP call: read-only checked, a quota token per attempt, retried with backoff and full
        jitter on 429 / 5xx / timeouts; a response of 400 or more raises GcpApiError."""
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

        check_read_only(method, url)         # before a token is taken, never mind sent
        kwargs.setdefault("timeout", (5, self.read_timeout))
        attempts = 0

        def once() -> Any:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                self._count(self.retries, api)
            self.limiters.acquire(self.project, location, api)
            self._count(self.calls, api)
            return self._send(method, url, api=api, target=target or url, **kwargs)

        retrying = Retrying(stop=stop_after_attempt(self.max_attempts),
                            wait=_retry_wait(wait_random_exponential(multiplier=self.backoff_s,
                                                                     max=self.max_backoff_s)),
                            retry=retry_if_exception(_retryable), reraise=True)
        return retrying(once)

    def _send(self, method: str, url: str, *, api: str, target: str, **kwargs: Any) -> Any:
        from google.auth.exceptions import RefreshError, TransportError

        try:
            response = self.session.request(method, url, **kwargs)
        except RefreshError as exc:
            raise GcpAuthError(
                f"{api} failed: HTTP 401 UNAUTHENTICATED: the access token was refused and cannot be refreshed "
                f"(expired or revoked? set a fresh {TOKEN_ENV} or run `gcloud auth application-default login`): "
                f"{cleaned(str(exc), 160)}", http_status=401, operation=api, code="UNAUTHENTICATED",
                target=target) from None
        except TransportError as exc:
            raise GcpAuthError(f"{api}: obtaining an access token failed: {cleaned(str(exc), 200)}",
                               http_status=None, operation=api, code="TOKEN_TRANSPORT", target=target) from None
        if response.status_code >= 400:
            raise _api_error(response, api, target)
        return response

    def http_for(self, api: str, location: str = "-") -> "PacedHttp":
        """A requests-like object for a Google client library (`_http=`): its calls go through
        `request` (read-only guard, quota tokens, retries, call counts)."""
        return PacedHttp(self, api, location)

    def pages(self, service: str, path: str, *, api: str, location: str = "-",
              params: Mapping[str, Any] | None = None, target: str | None = None) -> Iterator[dict[str, Any]]:
        """Every page of a `pageToken` list call, until a page carries no `nextPageToken`.

        Pages may hold fewer items than asked for (even none) and still have a next token: only
        the token ends the listing. A token the server repeats is an error, not an endless loop.
        """
        token: str | None = None
        seen: set[str] = set()
        while True:
            query = dict(params or {})
            if token:
                query["pageToken"] = token
            page = self.get_json(service, path, api=api, location=location, params=query, target=target)
            yield page
            token = page.get("nextPageToken") or None
            if not token:
                return
            if token in seen:
                raise GcpApiError(f"{api}: the server repeated a page token", http_status=None, operation=api,
                                  code="REPEATED_PAGE_TOKEN", target=target or path)
            seen.add(token)

    def items(self, page: Mapping[str, Any], key: str, *, api: str, target: str | None = None) -> list[Any]:
        """The `key` list of one page of a list call: [] when the page leaves it out (GCP omits an empty list),
        a GcpApiError BAD_RESPONSE when it holds anything else (a proxy's or a broken gateway's page): read as
        no items, `"executions": {...}` said "nothing there" and the sync succeeded."""
        found = page.get(key)
        if found is None:
            return []
        if not isinstance(found, list):
            raise GcpApiError(f"{api}: a page whose {key} is no list ({type(found).__name__})", http_status=None,
                              operation=api, code="BAD_RESPONSE", target=target)
        return found

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"calls": dict(sorted(self.calls.items())), "retries": dict(sorted(self.retries.items()))}


class PacedHttp:
    """What google-cloud-* clients call as their HTTP transport (`request(method, url, ...)`),
    routed through `GcpClients.request`; everything else is the authorized session's."""

    def __init__(self, clients: GcpClients, api: str, location: str) -> None:
        self._clients = clients
        self._api = api
        self._location = location

    def request(self, method: str, url: str, data: Any = None, headers: Any = None, timeout: Any = None,
                **kwargs: Any) -> Any:
        if timeout is not None:
            kwargs["timeout"] = timeout
        return self._clients.request(method, url, api=self._api, location=self._location, data=data,
                                     headers=headers, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._clients.session, name)


def scope_clients(*, project: str, endpoint: str | None = None, quota_overrides: Mapping[str, Quota] | None = None,
                  max_attempts: int = 6, read_timeout: float = 30.0, pool: int = 16,
                  creds: "Credentials | None" = None, backoff_s: float | None = None) -> GcpClients:
    """Clients for one scope: a read-only AuthorizedSession with a connection pool for `pool` threads."""
    from requests.adapters import HTTPAdapter

    session = _session_class()(creds or credentials())
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    overrides = dict(quota_overrides or {})
    return GcpClients(session=session, project=project, endpoint=endpoint, max_attempts=max_attempts,
                      read_timeout=read_timeout, backoff_s=BACKOFF_S if backoff_s is None else backoff_s,
                      limiters=RateLimiters(lambda _location, api: default_quota(api, overrides),
                                            shared=("gcp", service_root(endpoint, "{service}"))))
