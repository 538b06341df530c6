"""Versions and aliases of state machines: listed when the machine changed, or once a day."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest

from flowscope.collectors.aws import collector as aws
from flowscope.model import C, RunStatus

UTC = dt.timezone.utc


def _handlers(sm: str, revision: list[str], now: float) -> dict[str, Any]:
    version = f"{sm}:1"
    alias = f"{sm}:live"
    return {
        "ListStateMachines": lambda b: {"stateMachines": [
            {"stateMachineArn": sm, "name": "orders", "type": "STANDARD", "creationDate": now - 60}]},
        "DescribeStateMachine": lambda b: {
            "stateMachineArn": sm, "name": "orders", "roleArn": "r", "type": "STANDARD", "creationDate": now - 60,
            "revisionId": revision[0],
            "definition": json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})},
        "ListStateMachineVersions": lambda b: {"stateMachineVersions": [
            {"stateMachineVersionArn": version, "creationDate": now - 30}]},
        "ListStateMachineAliases": lambda b: {"stateMachineAliases": [
            {"stateMachineAliasArn": alias, "creationDate": now - 20}]},
        "DescribeStateMachineAlias": lambda b: {
            "stateMachineAliasArn": alias, "name": "live", "creationDate": now - 20,
            "routingConfiguration": [{"stateMachineVersionArn": version, "weight": 100}]},
        "ListExecutions": lambda b: {"executions": []},
    }


def _latest_attributes(store: Any) -> dict[str, Any]:
    row = max(store.read_rows("workflows"), key=lambda r: r[C.seen_at])
    return json.loads(row[C.attributes])


@pytest.mark.slow
def test_versions_and_aliases_are_listed_when_the_machine_changed_or_daily(_aws_env, store):
    """Every sync listed every state machine's versions and aliases and described each alias, at
    the documented 1 call a second each: a scope of 300 machines spent 10 minutes of quota per
    sync on metadata that rarely changes. They are now listed again only when the machine's
    revision changed or the last listing is a day old; the stored row keeps them meanwhile."""
    from tests.aws.sfn_fake import ACCOUNT, FakeSfn

    sm = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:orders"
    t0 = time.time()
    revision = ["rev-1"]
    start = dt.datetime.now(UTC)
    with FakeSfn(_handlers(sm, revision, t0)) as fake:
        source = {"cloud": "aws", "regions": ["us-east-1"], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": 1}
        for hours in (0, 1, 2):
            [result] = aws.sync(source, store, now=start + dt.timedelta(hours=hours))
            assert result.status == RunStatus.SUCCEEDED, result.row()
        assert fake.count("ListStateMachineVersions") == 1
        assert fake.count("ListStateMachineAliases") == 1
        assert fake.count("DescribeStateMachineAlias") == 1
        attributes = _latest_attributes(store)
        assert [v["arn"] for v in attributes["versions"]] == [f"{sm}:1"]
        assert attributes["aliases"][0]["routing"] == [{"stateMachineVersionArn": f"{sm}:1", "weight": 100}]

        revision[0] = "rev-2"          # the machine was updated: listed again at once
        aws.sync(source, store, now=start + dt.timedelta(hours=3))
        assert fake.count("ListStateMachineVersions") == 2

        aws.sync(source, store, now=start + dt.timedelta(hours=4))          # unchanged since
        assert fake.count("ListStateMachineVersions") == 2
        aws.sync(source, store, now=start + dt.timedelta(hours=28))         # a day later
        assert fake.count("ListStateMachineVersions") == 3
        assert fake.count("ListStateMachineAliases") == 3
    assert [v["arn"] for v in _latest_attributes(store)["versions"]] == [f"{sm}:1"]


def test_a_machine_without_versions_or_aliases_reuses_its_empty_listing():
    """An empty listing leaves no `versions` / `aliases` in the stored attributes: it is reused
    all the same (most machines have neither, and were listed again every sync)."""
    from flowscope.collectors.aws.stepfunctions import reusable_metadata

    now = dt.datetime(2024, 5, 4, 12, tzinfo=UTC)
    stored = ("rev", {"metadata_listed_at": (now - dt.timedelta(hours=2)).isoformat()})
    assert reusable_metadata(stored, "rev", now) == {
        "versions": [], "aliases": [], "metadataListedAt": (now - dt.timedelta(hours=2)).isoformat()}
    assert reusable_metadata(stored, "other", now) is None
    assert reusable_metadata(stored, "rev", now + dt.timedelta(days=1)) is None
    assert reusable_metadata(("rev", {}), "rev", now) is None          # never listed in full
    assert reusable_metadata(("rev", {"metadata_listed_at": "not a time"}), "rev", now) is None


def test_a_denied_alias_listing_does_not_make_every_sync_list_the_versions_again(_aws_env, store):
    """Versions listed but aliases denied (a policy without ListStateMachineAliases): nothing was
    kept for reuse, so every sync listed every machine's versions again at 1 call a second (the
    scope stops asking the denied call, which left no machine settled). A denial now stands for a
    day like a listing: the versions are reused, the denial is still said each sync, and both are
    asked again a day later; the machine is still described and collected."""
    from tests.aws.sfn_fake import ACCOUNT, FakeSfn

    sm = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:orders"
    handlers = _handlers(sm, ["rev-1"], time.time())
    handlers["ListStateMachineAliases"] = lambda b: (400, {"__type": "AccessDeniedException", "message": "no"})
    start = dt.datetime.now(UTC)
    with FakeSfn(handlers) as fake:
        source = {"cloud": "aws", "regions": ["us-east-1"], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": 1}
        for hours in (0, 1):
            [result] = aws.sync(source, store, now=start + dt.timedelta(hours=hours))
            assert result.status == RunStatus.SUCCEEDED, result.row()
            assert any("ListStateMachineAliases denied" in w for w in result.warnings), result.warnings
        assert fake.count("ListStateMachineVersions") == 1
        assert fake.count("ListStateMachineAliases") == 1
        aws.sync(source, store, now=start + dt.timedelta(hours=26))          # a day later: asked again
        assert fake.count("ListStateMachineAliases") == 2
    attributes = _latest_attributes(store)
    assert attributes["metadata_denied"] == ["ListStateMachineAliases"]
    assert [v["arn"] for v in attributes["versions"]] == [f"{sm}:1"]
    assert "aliases" not in attributes


def test_a_failed_alias_listing_is_listed_again_next_sync(_aws_env, store):
    """A listing that failed for another reason than a denial (throttled, timed out) is not kept
    for reuse: the next sync asks again."""
    from tests.aws.sfn_fake import ACCOUNT, FakeSfn

    sm = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:orders"
    handlers = _handlers(sm, ["rev-1"], time.time())
    handlers["ListStateMachineAliases"] = lambda b: (400, {"__type": "ThrottlingException", "message": "slow"})
    with FakeSfn(handlers) as fake:
        source = {"cloud": "aws", "regions": ["us-east-1"], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": 1}
        for _ in range(2):
            [result] = aws.sync(source, store)
            assert result.status == RunStatus.SUCCEEDED, result.row()
        assert fake.count("ListStateMachineVersions") == 2
    assert "metadata_listed_at" not in _latest_attributes(store)


def test_credentials_in_older_stored_revisions_are_taken_out_too(_aws_env, store):
    """Definitions are stored without the credentials they quote since a fix of the transform; the
    revisions a store kept from before it (a machine's older definitions, never described again)
    still held a URL's token or a bearer token, shown on the dashboard and exported. A sync now
    rewrites the stored revisions of the machines it reads whose text still holds one."""
    from flowscope.model import Batch
    from tests.aws.sfn_fake import ACCOUNT, FakeSfn

    sm = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:orders"
    leaky = json.dumps({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::http:invoke", "End": True,
        "Parameters": {"ApiEndpoint": "https://hooks.example.com/run?token=s3cr3tT0ken",
                       "Headers": {"Authorization": "Bearer abcdefgh12345678"}}}}})
    seen = dt.datetime.now(UTC) - dt.timedelta(days=30)
    store.write(Batch(workflows=[{
        C.cloud: "aws", C.account: ACCOUNT, C.region: "us-east-1", C.workflow_id: sm, C.name: "orders",
        C.kind: "sfn-standard", C.revision: "rev-0", C.definition: leaky, C.definition_format: "asl-json",
        C.attributes: "{}", C.seen_at: seen}]))
    with FakeSfn(_handlers(sm, ["rev-1"], time.time())) as fake:
        source = {"cloud": "aws", "regions": ["us-east-1"], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": 1}
        [result] = aws.sync(source, store)
        assert result.status == RunStatus.SUCCEEDED, result.row()
    rows = {r[C.revision]: r for r in store.read_rows("workflows")}
    assert set(rows) == {"rev-0", "rev-1"}
    old = rows["rev-0"]
    assert "s3cr3tT0ken" not in old[C.definition] and "abcdefgh12345678" not in old[C.definition]
    assert "token=REDACTED" in old[C.definition]
    assert old[C.seen_at] == seen                               # still the older revision
    assert max(rows.values(), key=lambda r: r[C.seen_at])[C.revision] == "rev-1"
