"""Pure parts of the collector: IAM policy vs allow-list, config validation, windows, token buckets."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from flowscope.collectors.aws import collector as aws
from flowscope.collectors.aws.clients import (
    CALLER_SIDE_ACTIONS,
    READ_ONLY_OPERATIONS,
    default_quota,
    iam_actions,
    policy_actions,
)
from flowscope.collectors.aws.logs import choose_path, log_group_name, logging_info
from flowscope.collectors.sync import run_sync, validate_sources
from flowscope.collectors.throttle import TokenBucket, bounded_map
from flowscope.collectors.window import CollectWindow, ScopeResult
from flowscope.model import UTC, RunStatus
from flowscope.settings import ConfigError, Settings

POLICY = Path(__file__).resolve().parents[2] / "docs" / "iam-policy.json"


def test_iam_policy_grants_exactly_the_allow_list_and_only_reads():
    doc = json.loads(POLICY.read_text())
    granted = set()
    for statement in doc["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        granted.update([actions] if isinstance(actions, str) else actions)
    assert granted == policy_actions()
    assert iam_actions() - granted == CALLER_SIDE_ACTIONS
    verbs = ("List", "Get", "Describe", "Filter")
    for prefix, ops in READ_ONLY_OPERATIONS.items():
        for op in ops:
            assert op.startswith(verbs) or op == "AssumeRole", f"{prefix}:{op} is not a read"
    assert not any("*" in a for a in granted)


def test_unknown_keys_and_clouds_are_named():
    with pytest.raises(ValueError, match="unknown key.*regoins"):
        aws.validate({"cloud": "aws", "regoins": ["us-east-1"]})
    with pytest.raises(ValueError, match="regions must be a non-empty list"):
        aws.validate({"cloud": "aws", "regions": "us-east-1"})
    with pytest.raises(ValueError, match="standard_path"):
        aws.validate({"cloud": "aws", "regions": ["x"], "standard_path": "fast"})
    with pytest.raises(ConfigError, match=r"sources\[1\]: unknown cloud 'oracle'"):
        validate_sources([{"cloud": "oracle"}])
    [(_, source, module, scopes)] = validate_sources([{"cloud": "AWS", "regions": ["us-east-1"]}], clouds=["Aws"])
    assert source["cloud"] == "aws" and module is aws and scopes, "cloud = \"AWS\" is aws"
    with pytest.raises(ConfigError, match=r"sources\[2\].*unknown key"):
        validate_sources([{"cloud": "aws", "regions": ["us-east-1"]}, {"cloud": "aws", "regions": ["x"], "bad": 1}])
    with pytest.raises(ConfigError, match="no \\[\\[sources\\]\\]"):
        run_sync(Settings(store="/nonexistent/never-created", sources=[]))


def test_scopes_are_regions_times_roles():
    scopes = aws.scopes({"cloud": "aws", "regions": ["us-east-1", "eu-west-1"],
                         "role_arn": ["arn:aws:iam::111111111111:role/r", "arn:aws:iam::222222222222:role/r"],
                         "lag": "10m", "state_machines": ["orders-*"]})
    assert len(scopes) == 4
    ids = {s.scope_id(None) for s in scopes}
    assert len(ids) == 4 and all(i.startswith(("aws:111111111111:", "aws:222222222222:")) for i in ids)
    assert scopes[0].lag == dt.timedelta(minutes=10)


def test_window_lower_bound():
    now = dt.datetime(2026, 5, 1, tzinfo=UTC)
    assert CollectWindow(end=now).lower_bound is None
    since = now - dt.timedelta(days=30)
    assert CollectWindow(end=now, since=since).lower_bound == since
    wm = now - dt.timedelta(hours=1)
    lag = dt.timedelta(minutes=15)
    assert CollectWindow(end=now, watermark=wm, lag=lag).lower_bound == wm - lag
    assert CollectWindow(end=now, watermark=wm, since=since, lag=lag).lower_bound == since


def test_token_bucket_holds_the_sustained_rate_across_threads():
    clock = [0.0]
    lock = threading.Lock()

    def sleep(s: float) -> None:
        with lock:
            clock[0] += s

    bucket = TokenBucket(10, 20, clock=lambda: clock[0], sleep=sleep)
    bounded_map(lambda _: bucket.acquire(), range(110), 4)
    # 10 from the burst, then 100 at 20/s: at least 5 s of (virtual) time
    assert clock[0] >= 5.0 - 1e-6
    assert bucket.acquired == 110


def test_documented_quotas():
    # AWS Step Functions Developer Guide, "Step Functions service quotas", API action throttling
    # (bucket size, refill per second): us-east-1 / us-west-2 / eu-west-1 vs all other Regions.
    def q(region, api):
        quota = default_quota(region, api)
        return quota.capacity, quota.rate

    assert q("us-east-1", "GetExecutionHistory") == q("ap-south-2", "GetExecutionHistory") == (400, 20)
    assert q("us-east-1", "ListExecutions") == (200, 5)
    assert q("ap-south-2", "ListExecutions") == (100, 2)
    assert q("us-west-2", "DescribeExecution") == (300, 15)
    assert q("ap-south-2", "DescribeExecution") == (250, 10)
    assert q("eu-west-1", "ListStateMachines") == q("ap-south-2", "ListStateMachines") == (100, 5)
    assert q("us-east-1", "DescribeStateMachine") == (200, 20)
    assert q("us-east-1", "ListMapRuns") == (100, 1)
    assert q("us-east-1", "DescribeMapRun") == (200, 1)
    assert q("us-east-1", "DescribeStateMachineAlias") == (200, 1)
    assert default_quota("eu-west-1", "FilterLogEvents").rate == 5


def test_path_choice_per_machine():
    logged = {"loggingConfiguration": {"level": "ALL", "destinations": [
        {"cloudWatchLogsLogGroup": {"logGroupArn": "arn:aws:logs:us-east-1:1:log-group:/g/x:*"}}]}}
    assert logging_info(logged).log_group == "/g/x"
    assert log_group_name("/plain") == "/plain"
    assert choose_path(logged, 500, 40)[0] == "logs"
    assert choose_path(logged, 0, 40)[0] == "history"
    path, why = choose_path({"loggingConfiguration": {"level": "ERROR"}}, 500, 40)
    assert path == "history" and "ERROR" in why["reason"]
    assert choose_path(logged, 500, 40, preference="history")[0] == "history"


def test_scope_result_row_is_a_collection_runs_row():
    from flowscope.model import COLLECTION_RUNS, to_arrow

    result = ScopeResult(cloud="aws", scope="aws:1:us-east-1", started_at=dt.datetime.now(UTC))
    result.record_error({"code": "ThrottlingException", "message": "x"})
    result.finish()
    assert result.status == RunStatus.PARTIAL
    table = to_arrow("collection_runs", [result.row()])
    assert table.schema == COLLECTION_RUNS
    assert json.loads(result.row()["details"])["error_count"] == 1


def test_no_credentials_fail_the_scope_with_how_to_sign_in(store, monkeypatch):
    """botocore says "Unable to locate credentials" and no more: the failed scope says how to give some."""
    from flowscope.collectors.sync import sync_store

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    report = sync_store(store, [{"cloud": "aws", "regions": ["eu-west-1"], "endpoint_url": "http://127.0.0.1:9",
                                 "max_attempts": 1, "read_timeout": 2}])
    [result] = report.results
    assert result.status == "failed" and report.exit_code == 3
    assert result.error.startswith("AwsAuthError: no AWS credentials: NoCredentialsError: Unable to locate")
    assert "aws sso login" in result.error and "AWS_ACCESS_KEY_ID" in result.error


@pytest.mark.parametrize("max_attempts", [1, 3])
def test_max_attempts_counts_every_attempt_the_first_included(_aws_env, store, max_attempts):
    """`max_attempts` is documented as "botocore attempts per call, retries included", but was
    handed to botocore's `max_attempts`, which counts retries: a throttled call was sent one time
    more than configured (2 for 1, 9 for the default 8), spending quota the user had capped."""
    from tests.aws.sfn_fake import FakeSfn

    throttled = {"ListStateMachines": lambda b: (400, {"__type": "ThrottlingException", "message": "Rate exceeded"})}
    with FakeSfn(throttled) as fake:
        source = {"cloud": "aws", "regions": ["us-east-1"], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": max_attempts}
        [result] = aws.sync(source, store)
        assert result.status == RunStatus.FAILED
        assert fake.count("ListStateMachines") == max_attempts


def test_scopes_of_one_account_and_region_share_its_quota(_aws_env):
    """Two sources of one account and region (two teams' name globs, a profile and a role into the
    same account) are collected in parallel, each with its own token buckets: together they
    called at twice the documented rate (FilterLogEvents' 5/s is a hard limit) and were
    throttled. The buckets are now the process's, per endpoint, account, region and API."""
    from flowscope.collectors.aws.clients import scope_clients

    def clients(region: str, account: str = "123456789012", endpoint: str = "http://127.0.0.1:9") -> Any:
        return scope_clients(region=region, endpoint_url=endpoint, account=account)

    a, b = clients("eu-central-1"), clients("eu-central-1")
    for api in ("GetExecutionHistory", "FilterLogEvents"):
        assert a.limiters.bucket(a.account, a.region, api) is b.limiters.bucket(b.account, b.region, api)
    other_region, other_account = clients("eu-west-3"), clients("eu-central-1", account="210987654321")
    other_endpoint = clients("eu-central-1", endpoint="http://127.0.0.1:10")
    for c in (other_region, other_account, other_endpoint):
        assert (c.limiters.bucket(c.account, c.region, "GetExecutionHistory")
                is not a.limiters.bucket(a.account, a.region, "GetExecutionHistory"))


def test_a_denied_describe_state_machine_alias_is_named_as_such(_aws_env, store):
    """DescribeStateMachineAlias denied (states:DescribeStateMachineAlias missing from a policy):
    the warning said 'ListStateMachineAliases failed', which had succeeded, pointing at the wrong
    permission. It now names the call that failed, and the aliases are still listed."""
    from tests.aws.sfn_fake import ACCOUNT, FakeSfn, machine_handlers

    sm = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:orders"
    alias = f"{sm}:live"
    handlers = {
        **machine_handlers({"orders": sm}, "STANDARD", 1.7e9),
        "ListStateMachineAliases": lambda b: {"stateMachineAliases": [
            {"stateMachineAliasArn": alias, "creationDate": 1.7e9}]},
        "DescribeStateMachineAlias": lambda b: (400, {"__type": "AccessDeniedException", "message": "denied"}),
        "ListExecutions": lambda b: {"executions": []},
    }
    with FakeSfn(handlers) as fake:
        source = {"cloud": "aws", "regions": ["us-east-1"], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": 1}
        [result] = aws.sync(source, store)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert result.warnings == ["DescribeStateMachineAlias denied (AccessDeniedException); aliases' routing is not "
                               "recorded in this scope (the read-only policy, docs/iam-policy.json, grants it)"]
    [workflow] = store.read_rows("workflows")
    assert json.loads(workflow["attributes"])["aliases"] == [{"arn": alias, "name": "live", "routing": None}]


def test_a_denied_version_listing_is_said_once_and_not_asked_again(_aws_env, store):
    """states:ListStateMachineVersions missing from the policy: every state machine asked again
    (at the API's 1 call a second) and warned about on its own, so a sync of 300 machines printed
    300 warning lines and waited minutes for the same AccessDenied. Now it is said once for the
    scope, and no other machine is asked."""
    from tests.aws.sfn_fake import ACCOUNT, FakeSfn, machine_handlers

    arns = [f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:m{i}" for i in range(3)]
    handlers = {
        **machine_handlers({a.rsplit(":", 1)[1]: a for a in arns}, "STANDARD", 1.7e9),
        "ListStateMachineVersions": lambda b: (400, {"__type": "AccessDeniedException", "message": "denied"}),
        "ListExecutions": lambda b: {"executions": []},
    }
    with FakeSfn(handlers) as fake:
        source = {"cloud": "aws", "regions": ["us-east-1"], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": 1, "concurrency": 1}
        [result] = aws.sync(source, store)
        assert fake.count("ListStateMachineVersions") == 1
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert result.warnings == ["ListStateMachineVersions denied (AccessDeniedException); versions are not recorded "
                               "in this scope (the read-only policy, docs/iam-policy.json, grants it)"]
    assert len(store.read_rows("workflows")) == 3


def test_a_region_without_state_machines_says_so(_aws_env, store):
    """A region holding no state machine (regions = ["eu-west-3"] where "eu-west-1" was meant) synced
    as a clean success with nothing written and nothing said, where a name glob matching nothing is
    called out. The run now warns that the region listed none."""
    from tests.aws.sfn_fake import ACCOUNT, FakeSfn

    with FakeSfn({"ListStateMachines": lambda b: {"stateMachines": []}}) as fake:
        source = {"cloud": "aws", "regions": ["eu-west-3"], "endpoint_url": fake.endpoint, "max_attempts": 1}
        [result] = aws.sync(source, store)
    assert result.status == RunStatus.SUCCEEDED
    assert result.warnings == [f"no state machines in account {ACCOUNT}, region eu-west-3: nothing to collect "
                               "(check the source's regions and credentials)"]


@pytest.mark.parametrize(("extra", "said"), [
    ({"role_arn": "arn:bad"}, "role_arn 'arn:bad' is not a role ARN"),
    ({"role_arn": ["arn:aws:iam::123456789012:role/r", "arn:aws:iam::12345:role/r"]}, "arn:aws:iam::12345:role/r"),
    ({"regions": ["us-east-1", "eu-west-1", "us-east-1"]}, "regions names 'us-east-1' twice"),
    ({"role_arn": ["arn:aws:iam::123456789012:role/r"] * 2}, "role_arn names 'arn:aws:iam::123456789012:role/r' twice"),
])
def test_a_malformed_role_or_a_repeated_region_is_a_config_error(extra, said):
    """A role ARN without its account failed every sync with an IndexError traceback (the scope is
    named after the role's account); a region or role listed twice made two scopes of one id,
    collected at the same time into the same rows. Both are config errors now, naming the value."""
    source = {"cloud": "aws", "regions": ["us-east-1"], **extra}
    with pytest.raises(ValueError, match=re.escape(said)):
        aws.validate(source)


@pytest.mark.parametrize(("url", "said"), [
    ("http://127.0.0.1:99999", "aws source: endpoint_url has a port that is not a number from 1 to 65535"),
    ("http://127.0.0.1:0", "aws source: endpoint_url has a port that is not a number from 1 to 65535"),
    ("http://[::1", "aws source: endpoint_url is not a readable URL (Invalid IPv6 URL), got 'http://[::1'"),
])
def test_a_bad_port_or_an_unreadable_endpoint_url_is_an_aws_config_error(url, said):
    """The endpoints' one rule (`netaddr.endpoint_fault`) in AWS's words: a bad port and an unreadable URL
    were refused as "must be an https:// URL", which is what they were; port 0 was accepted."""
    with pytest.raises(aws.SourceConfigError, match=re.escape(said)):
        aws.validate({"cloud": "aws", "regions": ["us-east-1"], "endpoint_url": url})


KNOWN = frozenset({"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eusc-de-east-1"})


@pytest.mark.parametrize(("region", "said"), [
    ("us-east-1", None),
    ("eusc-de-east-1", None),
    # two letters swapped (the reported typo): the name of the same letters first, though difflib ranks
    # us-west-1 higher
    ("us-esat-1", "names 'us-esat-1', a region the installed botocore 9.9.9 does not know (did you mean "
                  "'us-east-1' or"),
    ("US-EAST-1", "(did you mean 'us-east-1'"),
    (" eu-west-1", "(did you mean 'eu-west-1'"),
    ("eu-wset-2", "(did you mean 'eu-west-2'"),
    ("mars-north-1", "names 'mars-north-1', a region the installed botocore 9.9.9 does not know"),
])
def test_region_fault_names_the_closest_known_regions(region, said):
    from flowscope.collectors.aws.source import region_fault

    fault = region_fault(region, KNOWN, "9.9.9")
    assert fault == said if said is None else said in (fault or "")
    if region == "mars-north-1":
        assert "did you mean" not in (fault or "")


def test_known_regions_are_botocores_every_partition():
    """Read from botocore's endpoint data (never a hard-coded list, never a botocore Session: that reads
    ~/.aws/config, and a missing profile failed the check with ProfileNotFound)."""
    import botocore

    from flowscope.collectors.aws.source import known_regions

    version, names = known_regions() or ("", frozenset())
    assert version == botocore.__version__
    assert {"us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"} <= names and "us-esat-1" not in names


@pytest.mark.parametrize("endpoint", [None, "http://127.0.0.1:9"])
def test_an_unknown_region_is_refused_with_or_without_an_endpoint(endpoint, monkeypatch):
    """With an `endpoint_url` too: moto serves only the regions botocore knows (`us-esat-1` got an HTML 500
    page), and real AWS behind a private endpoint signs for a real region."""
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")          # never read: no botocore Session
    source = {"cloud": "aws", "regions": ["us-east-1", "us-esat-1"]}
    if endpoint:
        source["endpoint_url"] = endpoint
    with pytest.raises(aws.SourceConfigError, match=r"aws source: regions names 'us-esat-1', a region the installed "
                                                    r"botocore \S+ does not know \(did you mean 'us-east-1'"):
        aws.validate(source)


def test_a_wrong_region_fails_sync_and_doctor_before_any_call(moto, api_calls, defs, tmp_path):
    """Reported: `regions = ["us-esat-1"]` went to moto, which answered an HTML 500 page (exit 3); real AWS
    fails with a DNS error deep in botocore. `sync` and `doctor` now refuse it as the config mistake it is
    (exit 2, the file, line and setting named, the closest regions and botocore's version said), and no call
    is made; the right region still syncs."""
    import botocore
    from typer.testing import CliRunner

    from flowscope.cli import app
    from flowscope.exitcodes import ExitCode

    runner = CliRunner()
    path = tmp_path / "flowscope.toml"

    def config(region: str) -> str:
        path.write_text(f'store = "{tmp_path / "store"}"\n[[sources]]\ncloud = "aws"\nregions = ["{region}"]\n'
                        f'endpoint_url = "{moto.endpoint}"\nmax_attempts = 1\n')
        return str(path)

    for command in ("sync", "doctor"):
        result = runner.invoke(app, [command, "--config", config("us-esat-1")])
        said = " ".join(result.output.split())
        assert result.exit_code == ExitCode.USAGE, (command, result.output)
        assert (f"config file {path}, line 4: sources[1]: aws source: regions names 'us-esat-1', a region the "
                f"installed botocore {botocore.__version__} does not know (did you mean 'us-east-1'") in said, said
        assert "needs an upgrade" in said and "pip install -U boto3" in said
        assert not api_calls.calls, api_calls.calls
    assert not (tmp_path / "store").exists()
    moto.machine("orders", defs.PASS_CHOICE)
    result = runner.invoke(app, ["sync", "--config", config("us-east-1")])
    assert result.exit_code == ExitCode.OK, result.output
    assert api_calls.count("ListStateMachines") == 1
