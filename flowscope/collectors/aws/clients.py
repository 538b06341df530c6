"""boto3 clients for one (profile, role, account, region) scope: read-only, retried, rate limited.

- Credentials come from boto3's default chain (or a named profile); with `role_arn` the role is
  assumed with refreshable credentials (a long sync outlives one STS session). Nothing
  credential-like is stored or logged.
- `botocore_config`: adaptive retry mode (exponential backoff with full jitter on
  ThrottlingException, 5xx and timeouts, plus botocore's client-side rate adaptation),
  bounded attempts and timeouts.
- Every client created here refuses any operation outside `READ_ONLY_OPERATIONS` (a
  `before-call` hook raises `ReadOnlyViolation` before anything is sent), and takes a token from
  the (account, region, API) bucket before every HTTP attempt (`before-send`), retries included;
  the buckets are shared by every scope of the process on that account and region.
- `docs/iam-policy.json` is the same allow-list as an IAM policy; a test keeps them equal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flowscope.collectors.native import cleaned
from flowscope.collectors.throttle import Quota, RateLimiters
from flowscope.collectors.window import CollectionError
from flowscope.extras import install_command

try:  # boto3 is the `aws` extra: importing flowscope must not need it
    import boto3
    from botocore.config import Config
    from botocore.credentials import (
        AssumeRoleCredentialFetcher,
        DeferredRefreshableCredentials,
    )
except ImportError:  # pragma: no cover - exercised only without the extra
    boto3 = None

# ---------------------------------------------------------------- the read-only allow-list

READ_ONLY_OPERATIONS: dict[str, frozenset[str]] = {
    # endpoint prefix -> operations the collector may call
    "states": frozenset({
        "ListStateMachines", "DescribeStateMachine", "ListStateMachineVersions",
        "ListStateMachineAliases", "DescribeStateMachineAlias", "ListExecutions",
        "DescribeExecution", "GetExecutionHistory", "ListMapRuns", "DescribeMapRun",
    }),
    "logs": frozenset({"FilterLogEvents"}),
    "monitoring": frozenset({"GetMetricData"}),
    "sts": frozenset({"GetCallerIdentity", "AssumeRole"}),
}
IAM_SERVICE_PREFIX = {"states": "states", "logs": "logs", "monitoring": "cloudwatch", "sts": "sts"}
CALLER_SIDE_ACTIONS = frozenset({"sts:GetCallerIdentity", "sts:AssumeRole"})
"""Not in the read-only role's policy: GetCallerIdentity needs no permission, and AssumeRole is
granted to the caller (and by the role's trust policy), not by the role itself."""


def iam_actions() -> set[str]:
    """The allow-list as IAM actions (`states:GetExecutionHistory`, ...)."""
    return {f"{IAM_SERVICE_PREFIX[prefix]}:{op}" for prefix, ops in READ_ONLY_OPERATIONS.items() for op in ops}


def policy_actions() -> set[str]:
    """The actions docs/iam-policy.json must grant: the allow-list minus caller-side ones."""
    return iam_actions() - CALLER_SIDE_ACTIONS


class ReadOnlyViolation(RuntimeError):
    """An operation outside the read-only allow-list was about to be called."""


def _check_read_only(model: Any = None, **_: Any) -> None:
    prefix = model.service_model.endpoint_prefix
    if model.name not in READ_ONLY_OPERATIONS.get(prefix, frozenset()):
        raise ReadOnlyViolation(f"{prefix}:{model.name} is not a read-only operation flowscope may call")


# ---------------------------------------------------------------- documented quotas

# Step Functions API throttling: one token bucket per API, account and Region (bucket size, refill
# per second). Source: AWS Step Functions Developer Guide, "Step Functions service quotas", section
# "Quotas related to API action throttling" (https://docs.aws.amazon.com/step-functions/latest/dg/
# service-quotas.html; awsdocs/aws-step-functions-developer-guide, checked 2026-11). Two columns:
# us-east-1, us-west-2 and eu-west-1 vs all other Regions. Soft quotas (an account may have more);
# overridable per source (`quotas = {...}`).
SFN_QUOTAS_LARGE: dict[str, Quota] = {
    "ListStateMachines": Quota(100, 5),
    "DescribeStateMachine": Quota(200, 20),
    "ListStateMachineVersions": Quota(100, 1),
    "ListStateMachineAliases": Quota(100, 1),
    "DescribeStateMachineAlias": Quota(200, 1),
    "ListExecutions": Quota(200, 5),
    "DescribeExecution": Quota(300, 15),
    "GetExecutionHistory": Quota(400, 20),
    "ListMapRuns": Quota(100, 1),
    "DescribeMapRun": Quota(200, 1),
}
SFN_QUOTAS_OTHER: dict[str, Quota] = {**SFN_QUOTAS_LARGE, "ListExecutions": Quota(100, 2),
                                      "DescribeExecution": Quota(250, 10)}
LARGE_REGIONS = frozenset({"us-east-1", "us-west-2", "eu-west-1"})
OTHER_QUOTAS: dict[str, Quota] = {
    # FilterLogEvents: 5 TPS per account and Region, a hard limit (AWS Knowledge Center, "How do I
    # determine throttling in my CloudWatch logs?", repost.aws/knowledge-center/cloudwatch-logs-
    # throttling, checked 2026-11). GetMetricData: 50 TPS per Region, from the CloudWatch service
    # quotas page as remembered; the stored copy read here was cut before that row, so it is
    # unconfirmed. Both overridable per source like the rest.
    "FilterLogEvents": Quota(5, 5),
    "GetMetricData": Quota(50, 50),
}


def default_quota(region: str, api: str, overrides: dict[str, Quota] | None = None) -> Quota | None:
    if overrides and api in overrides:
        return overrides[api]
    table = SFN_QUOTAS_LARGE if region in LARGE_REGIONS else SFN_QUOTAS_OTHER
    return table.get(api) or OTHER_QUOTAS.get(api)


def botocore_config(*, max_attempts: int = 8, connect_timeout: float = 5, read_timeout: float = 30,
                    pool: int = 16) -> "Config":
    """Adaptive retries (backoff with jitter on throttling, 5xx, timeouts), bounded attempts.

    `max_attempts` counts every attempt, the first included (the source's documented meaning):
    botocore's own `max_attempts` key counts retries only, so it is passed as
    `total_max_attempts` (`max_attempts = 1` made two calls, the default 8 made nine).
    """
    return Config(
        retries={"mode": "adaptive", "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=pool,
        user_agent_extra="flowscope-collector",
    )


# ---------------------------------------------------------------- hooks for tests and benches

_CLIENT_HOOKS: list[Callable[[Any], None]] = []
_HOOKS_LOCK = threading.Lock()


@contextmanager
def client_hook(fn: Callable[[Any], None]) -> Iterator[None]:
    """Call `fn(client)` on every client created while the context is open (tests count calls)."""
    with _HOOKS_LOCK:
        _CLIENT_HOOKS.append(fn)
    try:
        yield
    finally:
        with _HOOKS_LOCK:
            _CLIENT_HOOKS.remove(fn)


# ---------------------------------------------------------------- sessions and clients

@dataclass
class AwsScopeClients:
    """The clients of one (account, region) scope, shared by the scope's worker threads."""

    region: str
    account: str
    sfn: Any
    logs: Any
    cloudwatch: Any
    limiters: RateLimiters
    endpoint_url: str | None = None
    calls: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1


def make_session(*, region: str, profile: str | None = None, role_arn: str | None = None,
                 endpoint_url: str | None = None, external_id: str | None = None,
                 config: "Config | None" = None) -> "boto3.Session":
    """A boto3 session for one region: default chain or `profile`, then `role_arn` assumed."""
    if boto3 is None:  # pragma: no cover
        raise RuntimeError(f"the AWS collector needs boto3: {install_command('aws')}")
    base = boto3.Session(profile_name=profile, region_name=region)
    if not role_arn:
        return base
    source = base.get_credentials()
    if source is None:
        raise RuntimeError("no AWS credentials found to assume the role with")
    extra: dict[str, Any] = {"RoleSessionName": "flowscope-readonly"}
    if external_id:
        extra["ExternalId"] = external_id

    def sts_creator(service: str, **kwargs: Any) -> Any:
        client = base.client(service, region_name=region, endpoint_url=endpoint_url,
                             config=config or botocore_config(), **kwargs)
        _install_guards(client, None)
        return client

    fetcher = AssumeRoleCredentialFetcher(client_creator=sts_creator, source_credentials=source,
                                          role_arn=role_arn, extra_args=extra)
    credentials = DeferredRefreshableCredentials(refresh_using=fetcher.fetch_credentials,
                                                 method="assume-role")
    botocore_session = base._session  # noqa: SLF001 - the documented way to plug credentials in
    botocore_session._credentials = credentials  # noqa: SLF001
    return boto3.Session(botocore_session=botocore_session, region_name=region)


def _install_guards(client: Any, on_send: Callable[[str], None] | None) -> None:
    events = client.meta.events
    # provide-client-params fires first (before parameter validation); before-call guards again
    events.register("provide-client-params", _check_read_only, unique_id="flowscope-read-only-params")
    events.register("before-call", _check_read_only, unique_id="flowscope-read-only")
    if on_send is not None:
        def before_send(event_name: str = "", **_: Any) -> None:
            on_send(event_name.rsplit(".", 1)[-1])
            return None
        events.register("before-send", before_send, unique_id="flowscope-rate-limit")
    with _HOOKS_LOCK:
        hooks = list(_CLIENT_HOOKS)
    for hook in hooks:
        hook(client)


# ---------------------------------------------------------------- a faster parse of big pages

FAST_PARSED_OPERATIONS = ("FilterLogEvents",)
"""Operations whose successful responses are decoded by orjson instead of botocore's shape walk.

A FilterLogEvents page holds up to 10,000 events; botocore walks the output shape member by
member (~8 µs per event), five times the cost of decoding the JSON. The output of these
operations is plain JSON whose modeled types are strings, integers, lists and structures, so the
decoded document equals botocore's parse (tests/aws/test_log_path.py compares the two)."""


def install_fast_json(client: Any, operations: tuple[str, ...]) -> None:
    """Decode the 2xx bodies of `operations` with orjson; errors still go through botocore."""
    import orjson

    service_id = client.meta.service_model.service_id.hyphenize()

    def before_parse(response_dict: dict[str, Any] | None = None,
                     customized_response_dict: dict[str, Any] | None = None, **_: Any) -> None:
        if response_dict is None or customized_response_dict is None:
            return
        body = response_dict.get("body")
        if response_dict.get("status_code") != 200 or not body:
            return
        try:
            decoded = orjson.loads(body)
        except orjson.JSONDecodeError:
            return                          # let botocore report it as it always does
        if isinstance(decoded, dict):
            customized_response_dict.update(decoded)
            response_dict["body"] = b"{}"     # botocore now parses nothing; its dict is updated with ours

    for operation in operations:
        client.meta.events.register(f"before-parse.{service_id}.{operation}", before_parse,
                                    unique_id=f"flowscope-fast-json-{operation}")


def resolve_account(session: "boto3.Session", *, region: str, role_arn: str | None,
                    endpoint_url: str | None, config: "Config") -> str:
    """The account id: from the role ARN when given, else STS GetCallerIdentity."""
    if role_arn:
        parts = role_arn.split(":")
        if len(parts) > 4 and parts[4].isdigit():
            return parts[4]
    sts = session.client("sts", region_name=region, endpoint_url=endpoint_url, config=config)
    _install_guards(sts, None)
    return str(sts.get_caller_identity()["Account"])


def scope_clients(*, region: str, profile: str | None = None, role_arn: str | None = None,
                  endpoint_url: str | None = None, account: str | None = None,
                  external_id: str | None = None, limiters: RateLimiters | None = None,
                  quota_overrides: dict[str, Quota] | None = None, max_attempts: int = 8,
                  concurrency: int = 8, read_timeout: float = 30) -> AwsScopeClients:
    """Clients for one scope, every one read-only guarded and rate limited per (account, region, API)."""
    config = botocore_config(max_attempts=max_attempts, pool=concurrency + 4, read_timeout=read_timeout)
    session = make_session(region=region, profile=profile, role_arn=role_arn, endpoint_url=endpoint_url,
                           external_id=external_id, config=config)
    account = account or resolve_account(session, region=region, role_arn=role_arn,
                                         endpoint_url=endpoint_url, config=config)
    # the process's buckets (per endpoint, account, region, API): scopes of one account and region
    # collected in parallel (two sources, name globs) draw on one server-side quota together
    limiters = limiters or RateLimiters(lambda r, api: default_quota(r, api, quota_overrides),
                                        shared=("aws", endpoint_url or ""))
    holder: dict[str, AwsScopeClients] = {}

    def on_send(operation: str) -> None:
        limiters.acquire(account, region, operation)
        holder["clients"].count(operation)

    def make(service: str) -> Any:
        client = session.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
        _install_guards(client, on_send)
        return client

    logs = make("logs")
    install_fast_json(logs, FAST_PARSED_OPERATIONS)

    clients = AwsScopeClients(region=region, account=account, sfn=make("stepfunctions"),
                              logs=logs, cloudwatch=make("cloudwatch"),
                              limiters=limiters, endpoint_url=endpoint_url)
    holder["clients"] = clients
    return clients


def restarting_pages(call: Callable[..., dict[str, Any]], params: dict[str, Any], *,
                     expired: Callable[[BaseException], bool], max_restarts: int = 3, key: str | None = None,
                     ) -> Iterator[tuple[dict[str, Any], bool]]:
    """Pages of a `nextToken`-paginated call, each with whether it is the first after a restart.

    A token the service calls expired or invalid (`expired(exc)`) restarts from the first page,
    at most `max_restarts` times; the caller drops what it already had (or what it already saw).
    Any other failure is raised, and so is a page whose nextToken was already sent in this listing
    (the one it was asked with, or one of an earlier page: A, B, A, ... would be asked again for ever;
    botocore's paginators refuse only the first), and a page
    without its `key` list (`BadPage`): the service always sends it, `[]` when empty, so a body
    without it is a proxy's or a broken gateway's, and read as empty it said "nothing there".
    """
    token: str | None = None
    sent: set[str] = set()
    restarts = 0
    restarted = False
    while True:
        try:
            page = call(**params, **({"nextToken": token} if token else {}))
        except Exception as exc:  # noqa: BLE001 - only an expired token is handled here
            if token and restarts < max_restarts and expired(exc):
                restarts += 1
                token, restarted = None, True
                sent.clear()        # a new listing: its tokens are its own
                continue
            raise
        if token:
            sent.add(token)
        if key is not None and not isinstance(page.get(key) if isinstance(page, dict) else None, list):
            name = getattr(call, "__name__", "the listing")
            raise CollectionError(f"{name}: a page without its `{key}` list", operation=name, code="BadPage")
        yield page, restarted
        restarted = False
        token = page.get("nextToken")
        if not token:
            return
        if token in sent:
            name = getattr(call, "__name__", "the listing")
            raise CollectionError(f"{name} returned the same nextToken it was sent (for this page or an earlier "
                                  "one); stopped rather than asking for the same pages again for ever",
                                  operation=name, code="RepeatedNextToken")


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError (None for other exceptions)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


class AwsAuthError(CollectionError):
    """The scope found no usable AWS credentials (none at all, a missing profile, an expired SSO login)."""


def explain_credentials(exc: Exception) -> Exception:
    """A botocore credentials failure as one line saying how to sign in (botocore says "Unable to locate
    credentials" and no more); any other exception as it is."""
    from botocore.exceptions import (
        CredentialRetrievalError,
        NoCredentialsError,
        PartialCredentialsError,
        ProfileNotFound,
        TokenRetrievalError,
        UnauthorizedSSOTokenError,
    )

    kinds = (NoCredentialsError, PartialCredentialsError, ProfileNotFound, TokenRetrievalError,
             UnauthorizedSSOTokenError, CredentialRetrievalError)
    if not isinstance(exc, kinds):
        return exc
    return AwsAuthError(f"no AWS credentials: {type(exc).__name__}: {cleaned(str(exc), 160)} (set the source's "
                        "profile or AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; run `aws sso login` "
                        "for an SSO profile; or use an instance or task role: docs/iam-policy.json is the read-only "
                        "policy)", code=type(exc).__name__)
