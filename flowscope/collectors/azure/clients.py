"""The HTTP side of the Azure collector: credentials, endpoints, the read-only guard, ARM's quota.

One `ArmClient` per scope (subscription), built on azure-core's pipeline, so retries, Retry-After,
bearer tokens and paging are the SDK's own, not hand-written:

- credentials: a pre-obtained bearer token from the environment variable `FLOWSCOPE_AZURE_TOKEN`
  (emulators, tests, air-gapped set-ups; never read from the config file), else azure-identity's
  `DefaultAzureCredential` (CLI login, environment, managed identity, workload identity), imported
  only when a sync needs it. Nothing credential-like is stored or logged.
- endpoints: https anywhere; plain http only on a loopback address (azure-core refuses to send a
  bearer token over http unless a request opts out, and we opt out for loopback alone).
- `ReadOnlyPolicy`, the last policy before the wire: only GET, and POST to the two read-only query
  paths (Log Analytics KQL, metrics batch), ever leave the process; anything else raises
  `ReadOnlyViolation` before it is sent. `docs/azure-role.json` grants the same reads.
- `QuotaPolicy`: one token from the subscription's read bucket before every HTTP attempt, retries
  included (ARM: 250 reads burst, 25 per second refill, per subscription, principal and region),
  and the bucket is drained to what `x-ms-ratelimit-remaining-subscription-reads` says is left.
- `JitterRetryPolicy`: azure-core's RetryPolicy (429/408/5xx, timeouts, Retry-After honoured up to
  `RETRY_AFTER_MAX_S`, one that does not read left to the backoff) with the exponential backoff
  spread by random jitter, so parallel workers do not retry in lockstep.
- `pages()`: azure-core's `ItemPaged` following `nextLink`; a nextLink to another host is refused
  (it would carry our token elsewhere: cloud text is untrusted).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from flowscope.collectors.deep_json import loads_keeping_deep_definitions
from flowscope.collectors.native import cleaned
from flowscope.collectors.throttle import RETRY_AFTER_MAX_S, Quota, TokenBucket, client_bucket, shared_bucket
from flowscope.collectors.window import CollectionError
from flowscope.extras import install_command
from flowscope.netaddr import endpoint_fault, is_loopback_url

TOKEN_ENV = "FLOWSCOPE_AZURE_TOKEN"
DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
LOGIC_API_VERSION = "2019-05-01"
WEB_API_VERSION = "2024-04-01"
"""Microsoft.Web (Standard apps: sites, their workflows, the site's workflow management API)."""
ARM_READS = Quota(250, 25)
"""ARM's subscription read bucket (burst, refill per second), per subscription, principal and region:
"Understand how Azure Resource Manager throttles requests" (learn.microsoft.com, the 2024 regional
token-bucket limits, checked 2026-11)."""
REMAINING_HEADER = "x-ms-ratelimit-remaining-subscription-reads"
READ_ONLY_POSTS = ("/query", "/metrics:getbatch")
"""Path endings a POST may have: Log Analytics `/v1/workspaces/{id}/query` and the metrics batch
`/subscriptions/{sub}/metrics:getBatch`. Both only read."""


PERMISSIONS: dict[str, str] = {
    # the collector's operation names (`ArmClient` calls) -> the Azure RBAC action each needs;
    # docs/azure-role.json grants exactly these (a test keeps them equal)
    "workflows.list": "Microsoft.Logic/workflows/read",
    "versions.get": "Microsoft.Logic/workflows/versions/read",
    "runs.list": "Microsoft.Logic/workflows/runs/read",
    "runs.get": "Microsoft.Logic/workflows/runs/read",
    "actions.list": "Microsoft.Logic/workflows/runs/actions/read",
    "repetitions.list": "Microsoft.Logic/workflows/runs/actions/repetitions/read",
    "scopeRepetitions.list": "Microsoft.Logic/workflows/runs/actions/scoperepetitions/read",
    "triggers.list": "Microsoft.Logic/workflows/triggers/read",
    "histories.list": "Microsoft.Logic/workflows/triggers/histories/read",
    "histories.get": "Microsoft.Logic/workflows/triggers/histories/read",
    "metrics.get": "Microsoft.Insights/metrics/read",
    # `metrics_endpoint`: the batch API (POST {sub}/metrics:getBatch), authorized by the same read
    "metrics.getBatch": "Microsoft.Insights/metrics/read",
    # Standard apps: the sites (kind workflowapp) and their workflows; their runs, actions and
    # triggers are read through the site's workflow management API, under the same Logic actions
    "sites.list": "Microsoft.Web/sites/read",
    "siteWorkflows.list": "Microsoft.Web/sites/workflows/read",
    # their deployment slots (WebApps_ListSlots) and each slot's workflows (WebApps_ListInstanceWorkflowsSlot)
    "slots.list": "Microsoft.Web/sites/slots/read",
    "slotWorkflows.list": "Microsoft.Web/sites/slots/workflows/read",
    # each Standard app's App Service plan (SKU, instances): the Standard-plan cost
    "serverfarms.get": "Microsoft.Web/serverfarms/read",
    # the Log Analytics bulk path (`workspace_id`): KQL queries of the workspace (POST .../query)
    "logs.query": "Microsoft.OperationalInsights/workspaces/query/read",
}
STANDARD_RUNTIME_PERMISSIONS = frozenset({
    # a Standard workflow's runs.list / runs.get / actions.list / ... and triggers.list /
    # histories.list go to its site's workflow management API, authorized by these instead
    "Microsoft.Web/sites/hostruntime/webhooks/api/workflows/runs/read",
    "Microsoft.Web/sites/hostruntime/webhooks/api/workflows/triggers/read",
})
OPT_IN_PERMISSIONS: dict[str, str] = {
    # `request_histories = true` only: the same permission lets a reader see request and response
    # headers (and signed callback URIs) of HTTP actions, so it is not in the shipped role
    "requestHistories.list": "Microsoft.Logic/workflows/runs/actions/requestHistories/read",
    "repetitionRequestHistories.list": "Microsoft.Logic/workflows/runs/actions/repetitions/requestHistories/read",
}


class AzureConfigError(ValueError):
    """An Azure source setting that cannot be used (endpoint, credentials); the message names it."""


class ReadOnlyViolation(RuntimeError):
    """A request other than a read was about to leave the process."""


class ArmError(CollectionError):
    """An ARM call that failed: `status` is the HTTP status (None for a connection failure)."""

    def __init__(self, message: str, *, status: int | None, operation: str | None = None,
                 code: str | None = None, target: str | None = None) -> None:
        super().__init__(message, operation=operation, code=code, target=target,
                         retryable=status is None or status == 429 or status >= 500)
        self.status = status

    @property
    def gone(self) -> bool:
        return self.status == 404

    @property
    def unauthenticated(self) -> bool:
        """A 401, or no token to send at all (the sign-in stopped giving tokens: a revoked refresh
        token mid-sync): every later call of the scope fails alike."""
        return self.status == 401 or self.code == "ClientAuthenticationError"


# ---------------------------------------------------------------- endpoints and credentials

def check_endpoint(url: Any, key: str) -> str:
    """`url` without a trailing slash, checked by the endpoints' one rule (`netaddr.endpoint_fault`: http only on
    a loopback host, no bad port, credentials, query or fragment); AzureConfigError naming `key` otherwise."""
    if not isinstance(url, str) or not url:
        raise AzureConfigError(f"azure source: {key} must be a URL like https://management.azure.com")
    if fault := endpoint_fault(url):
        raise AzureConfigError(f"azure source: {key} {fault}")
    return url.rstrip("/")


class StaticTokenCredential:
    """A TokenCredential over a pre-obtained bearer token (`FLOWSCOPE_AZURE_TOKEN`).

    Its real expiry is unknown here: the server's 401 says when it has expired (a failed scope)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, int(time.time()) + 3600)

    def __repr__(self) -> str:
        return "StaticTokenCredential(<redacted>)"


def make_credential(env: Mapping[str, str] | None = None) -> Any:
    """`FLOWSCOPE_AZURE_TOKEN` as a static credential, else azure-identity's default chain.

    The chain logs a warning of a dozen lines (every credential it tried) when none gives a token; the
    scope's own error says it in one (`no_credentials`), so azure-identity's log is kept to errors."""
    env = os.environ if env is None else env
    token = env.get(TOKEN_ENV, "").strip()
    if token:
        return StaticTokenCredential(token)
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise AzureConfigError(f"the Azure collector needs azure-identity: {install_command('azure')} "
                               f"(or set {TOKEN_ENV} to a bearer token)") from None
    identity_log = logging.getLogger("azure.identity")
    if identity_log.level == logging.NOTSET:      # a level the user set stays theirs
        identity_log.setLevel(logging.ERROR)
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def no_credentials(exc: Exception) -> str:
    """A token that could not be had, in one line with what to do: the SDK's first line (its list of
    every credential tried is noise here), and the ways to sign in."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (f"no Azure credentials: {cleaned(first, 160)} (sign in with `az login`, set AZURE_TENANT_ID, "
            f"AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, use a managed or workload identity, or set {TOKEN_ENV})")


def token_scope(endpoint: str) -> str:
    """The OAuth scope of an ARM endpoint (`https://management.azure.com/.default`)."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}/.default"


# ---------------------------------------------------------------- policies

def _policy_bases() -> tuple[Any, Any, Any]:
    from azure.core.pipeline.policies import HTTPPolicy, RetryPolicy, SansIOHTTPPolicy

    return HTTPPolicy, RetryPolicy, SansIOHTTPPolicy


def read_only_allowed(method: str, url: str) -> bool:
    """Whether a request only reads: GET, or POST to a read-only query path."""
    method = method.upper()
    if method == "GET":
        return True
    path = urlsplit(url).path.lower().rstrip("/")
    return method == "POST" and path.endswith(READ_ONLY_POSTS)


class ArmBucket(TokenBucket):
    """A token bucket that the server's own count (`x-ms-ratelimit-remaining-*`) can drain."""

    def clamp(self, remaining: float) -> None:
        """Hold at most `remaining` tokens: the server says that is all that is left."""
        with self._lock:
            self._refill(self._clock())
            self._tokens = max(0.0, min(self._tokens, remaining))


@dataclass
class CallStats:
    """HTTP attempts and logical calls of one client (thread-safe), for collection_runs and benches."""

    calls: dict[str, int] = field(default_factory=dict)
    http_attempts: int = 0
    throttled: int = 0
    server_errors: int = 0
    lowest_remaining: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def call(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1

    def attempt(self, status: int | None, remaining: int | None) -> None:
        with self._lock:
            self.http_attempts += 1
            self.throttled += status == 429
            self.server_errors += status is not None and status >= 500
            if remaining is not None and (self.lowest_remaining is None or remaining < self.lowest_remaining):
                self.lowest_remaining = remaining

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"calls": dict(sorted(self.calls.items())), "http_attempts": self.http_attempts,
                    "throttled_429": self.throttled, "server_errors_5xx": self.server_errors,
                    "lowest_remaining_reads": self.lowest_remaining}


def make_policies(credential: Any, scope: str, bucket: ArmBucket | None, stats: CallStats, *,
                  retry_total: int, backoff: float) -> list[Any]:
    """The pipeline, in order: retries, then per attempt the token, the quota, the read-only guard."""
    from azure.core.pipeline.policies import (
        BearerTokenCredentialPolicy,
        HeadersPolicy,
        RequestIdPolicy,
        UserAgentPolicy,
    )

    http_policy, retry_policy, sansio_policy = _policy_bases()

    class JitterRetryPolicy(retry_policy):  # type: ignore[misc, valid-type]
        """Exponential backoff spread by jitter (half to the full step), Retry-After honoured up to a cap."""

        def get_backoff_time(self, settings: dict[str, Any]) -> float:
            base = float(super().get_backoff_time(settings))
            return base * (0.5 + random.random() / 2)   # noqa: S311 - jitter, not security

        def get_retry_after(self, response: Any) -> float | None:
            """The server's wait, capped; None (the backoff decides) for a header that is neither
            seconds nor an HTTP date: azure-core raised ValueError on it, out of the retry loop."""
            try:
                asked = super().get_retry_after(response)
            except (ValueError, TypeError, OverflowError):
                return None
            return min(float(asked), RETRY_AFTER_MAX_S) if asked is not None else None

    class QuotaPolicy(http_policy):  # type: ignore[misc, valid-type]
        """One read token per HTTP attempt; the server's remaining count drains the bucket."""

        def send(self, request: Any) -> Any:
            if bucket is not None:
                bucket.acquire()
            try:
                response = self.next.send(request)
            except Exception:
                stats.attempt(None, None)
                raise
            headers = response.http_response.headers
            raw = headers.get(REMAINING_HEADER)
            remaining = int(raw) if raw is not None and str(raw).strip().isdigit() else None
            stats.attempt(response.http_response.status_code, remaining)
            if remaining is not None and bucket is not None:
                bucket.clamp(remaining)
            return response

    class ReadOnlyPolicy(sansio_policy):  # type: ignore[misc, valid-type]
        """The last check before the wire: only reads leave the process."""

        def on_request(self, request: Any) -> None:
            http = request.http_request
            if not read_only_allowed(http.method, http.url):
                raise ReadOnlyViolation(f"{http.method} {urlsplit(http.url).path} is not a read; "
                                        "flowscope only reads (GET, and POST to query endpoints)")

    return [
        RequestIdPolicy(),
        HeadersPolicy({"Accept": "application/json"}),
        UserAgentPolicy(sdk_moniker="flowscope-collector"),
        # every kind of retry (status, read, connect) may use the whole budget: a throttling storm
        # can take more than azure-core's default of three status retries
        JitterRetryPolicy(retry_total=retry_total, retry_status=retry_total, retry_read=retry_total,
                          retry_connect=retry_total, retry_backoff_factor=backoff, retry_backoff_max=60),
        BearerTokenCredentialPolicy(credential, scope),
        QuotaPolicy(),
        ReadOnlyPolicy(),
    ]


# ---------------------------------------------------------------- the client

class ArmClient:
    """Reads of one ARM endpoint through one azure-core pipeline (shared by a scope's threads)."""

    def __init__(self, endpoint: str, credential: Any, *, quota: Quota | None = ARM_READS,
                 retry_total: int = 8, backoff: float = 0.8, read_timeout: float = 30,
                 connect_timeout: float = 10, pool: int = 16, subscription: str | None = None) -> None:
        """`subscription`: the read bucket is then the process's one for (endpoint, subscription),
        shared by every scope of that subscription (ARM counts reads per subscription)."""
        try:
            import requests
            from azure.core import PipelineClient
            from azure.core.pipeline.transport import RequestsTransport
        except ImportError:  # pragma: no cover - exercised only without the extra
            raise AzureConfigError(f"the Azure collector needs azure-core: {install_command('azure')}") from None

        self.endpoint = check_endpoint(endpoint, "arm_endpoint")
        self._origin = origin(self.endpoint)
        self._http_opt_out = {"enforce_https": False} if urlsplit(self.endpoint).scheme == "http" else {}
        self.stats = CallStats()
        self.bucket = _read_bucket(self.endpoint, subscription, quota) if quota else None
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.trust_env = is_loopback_url(self.endpoint) is False   # no proxy detour for loopback
        transport = RequestsTransport(session=session, session_owner=True, connection_timeout=connect_timeout,
                                      read_timeout=read_timeout)
        policies = make_policies(credential, token_scope(self.endpoint), self.bucket, self.stats,
                                 retry_total=retry_total, backoff=backoff)
        self._client: Any = PipelineClient(base_url=self.endpoint, policies=policies, transport=transport)

    def close(self) -> None:
        self._client.close()

    def url(self, path_or_url: str, params: Mapping[str, str] | None = None) -> str:
        """An absolute URL on this endpoint; a URL to any other origin is refused."""
        if path_or_url.startswith(("http://", "https://")):
            parts = urlsplit(path_or_url)
            if origin(path_or_url) != self._origin:
                raise ArmError(f"refusing a link to another host ({parts.netloc}): it would carry the token there",
                               status=None, code="ForeignLink")
            url = path_or_url
        else:
            url = self.endpoint + "/" + path_or_url.lstrip("/")
        if params:
            parts = urlsplit(url)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            query.update(params)
            url = parts._replace(query=urlencode(query, safe="$:',/", quote_via=quote)).geturl()
        return url

    def send(self, method: str, path_or_url: str, *, operation: str, params: Mapping[str, str] | None = None,
             json_body: Any = None) -> Any:
        """One call (retried inside the pipeline): the decoded JSON body, or `ArmError`."""
        from azure.core.exceptions import AzureError, ClientAuthenticationError
        from azure.core.rest import HttpRequest

        url = self.url(path_or_url, params)
        self.stats.call(operation)
        request = HttpRequest(method, url, json=json_body)
        try:
            response = self._client.send_request(request, **self._http_opt_out)
        except ReadOnlyViolation:
            raise
        except ClientAuthenticationError as exc:
            raise ArmError(f"{operation} failed: {no_credentials(exc)}", status=None, operation=operation,
                           code=type(exc).__name__, target=_target(url)) from None
        except AzureError as exc:
            raise ArmError(f"{operation} failed: {type(exc).__name__}: {cleaned(str(exc), 200)}", status=None,
                           operation=operation, code=type(exc).__name__, target=_target(url)) from None
        status = response.status_code
        if status >= 400:
            code, message = _error_of(response)
            raise ArmError(cleaned(f"{operation} failed: HTTP {status} {code or ''}: {message or ''}".strip(), 300),
                           status=status, operation=operation, code=code or f"HTTP{status}", target=_target(url))
        try:
            try:
                return response.json()
            except RecursionError:  # one workflow's definition too deep to read: kept as text, the rest read
                return loads_keeping_deep_definitions(response.text())
        except ValueError:
            raise ArmError(f"{operation}: the response is not JSON", status=status, operation=operation,
                           code="NotJson", target=_target(url)) from None
        except RecursionError:      # nested too deeply outside a definition: that call's error
            raise ArmError(f"{operation} of {_target(url)}: the response is JSON nested too deeply to read",
                           status=status, operation=operation, code="TooDeep", target=_target(url)) from None

    def get(self, path_or_url: str, *, operation: str, params: Mapping[str, str] | None = None) -> Any:
        return self.send("GET", path_or_url, operation=operation, params=params)

    def pages(self, path: str, *, operation: str, params: Mapping[str, str] | None = None
              ) -> Iterator[list[dict[str, Any]]]:
        """The `value` pages of a list call, following `nextLink` to the end (azure-core's ItemPaged).

        Pages may be empty and still name a next one: only a missing `nextLink` ends the listing. A
        nextLink already followed is an error (`RepeatedNextLink`), not a listing that never ends."""
        from azure.core.paging import ItemPaged

        first = self.url(path, {"api-version": LOGIC_API_VERSION, **(params or {})})
        followed: set[str] = set()

        def get_next(link: str | None) -> Any:
            if link is not None:
                if link in followed:
                    raise ArmError(f"{operation} failed: the server repeated a nextLink (the listing would never "
                                   "end)", status=None, operation=operation, code="RepeatedNextLink",
                                   target=_target(link))
                followed.add(link)
            return self.get(link or first, operation=operation)

        def extract(body: Any) -> tuple[str | None, Iterator[Any]]:
            # ARM's every list page names `value` (`[]` when empty): a body without it is a proxy's or a
            # broken gateway's, not "nothing there", and read as an empty page it hid the whole listing
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise ArmError(f"{operation}: a page without a `value` list", status=200, operation=operation,
                               code="BadPage", target=_target(first))
            link = body.get("nextLink")
            return (link if isinstance(link, str) and link else None), iter(body["value"])

        paged: ItemPaged[dict[str, Any]] = ItemPaged(get_next, extract)
        for page in paged.by_page():
            yield list(page)

    def list_all(self, path: str, *, operation: str, params: Mapping[str, str] | None = None
                 ) -> list[dict[str, Any]]:
        return [item for page in self.pages(path, operation=operation, params=params) for item in page]


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL, the port made explicit and the host lower-cased, so a link
    ARM spells `https://management.azure.com:443/...` is the endpoint's own origin; None for one
    with user info or an unreadable port (never the endpoint's)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.username is not None or parts.password is not None or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    return scheme, parts.hostname.lower(), port or {"https": 443, "http": 80}.get(scheme, 0)


def _read_bucket(endpoint: str, subscription: str | None, quota: Quota) -> ArmBucket:
    """A client's ARM read bucket: shared by the scopes of one subscription, else its own."""
    def make() -> ArmBucket:
        return ArmBucket(client_bucket(quota).capacity, quota.rate)

    if subscription is None:
        return make()
    return shared_bucket(("azure-arm", endpoint, subscription.lower(), quota), make)


def _target(url: str) -> str:
    """What a call was about: its path (never the query, which may hold a filter or a signature)."""
    return urlsplit(url).path[:300]


def _error_of(response: Any) -> tuple[str | None, str | None]:
    """ARM's `{"error": {"code", "message"}}`, truncated (cloud text: shown escaped, never trusted)."""
    try:
        body = response.json()
    except (ValueError, RecursionError):        # no JSON, or nested too deeply to read: the status says it
        return None, None
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return None, None
    code, message = err.get("code"), err.get("message")
    return (cleaned(str(code), 100) if code else None), (cleaned(str(message), 200) if message else None)
