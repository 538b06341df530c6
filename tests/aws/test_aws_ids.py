"""`aws_ids`: the one definition of the AWS collection scope id, written by the collector
(`AwsScope.scope_id`) and read back by the analysis (`collection._of_scope`)."""

from __future__ import annotations

import pytest

from flowscope.aws_ids import arn_account_region, globs_suffix, scope_account_region, scope_id, scope_without_account
from flowscope.collectors.aws.source import scopes

ACCOUNT, REGION = "123456789012", "eu-west-1"


@pytest.mark.parametrize(("scope", "expected"), [
    (f"aws:{ACCOUNT}:{REGION}", (ACCOUNT, REGION)),
    (f"aws:{ACCOUNT}:{REGION}#7e047ff3", (ACCOUNT, REGION)),
    ("aws:default:us-east-1", ("default", "us-east-1")),
    ("gcp:my-project:all-locations", None),
    ("azure:sub/rg", None),
    (f"aws:{ACCOUNT}", None),
    (f"aws:{ACCOUNT}:{REGION}:extra", None),
    (f"aws::{REGION}", None),
    ("", None),
])
def test_a_scope_id_is_read_back_as_its_account_and_region(scope, expected):
    assert scope_account_region(scope) == expected


def test_a_scope_id_is_written_as_it_always_was():
    """Stored ids key every scope's history: the shared format writes them byte for byte as before."""
    assert scope_id(ACCOUNT, REGION) == f"aws:{ACCOUNT}:{REGION}"
    assert globs_suffix([]) == ""
    assert globs_suffix(["pay-*", "orders"]) == globs_suffix(["orders", "pay-*"]) == "#7e047ff3"
    [with_globs] = scopes({"cloud": "aws", "regions": [REGION], "state_machines": ["pay-*", "orders"],
                           "role_arn": "arn:aws:iam::111111111111:role/r"})
    assert with_globs.scope_id(None) == f"aws:111111111111:{REGION}#7e047ff3"
    assert with_globs.scope_id(ACCOUNT) == f"aws:{ACCOUNT}:{REGION}#7e047ff3"
    assert with_globs.source_key() == f"aws:profile=:role=arn:aws:iam::111111111111:role/r:{REGION}#7e047ff3@"
    [plain] = scopes({"cloud": "aws", "regions": ["us-east-1"], "profile": "prod"})
    assert plain.scope_id(None) == "aws:prod:us-east-1" and plain.source_key() == "aws:profile=prod:role=:us-east-1@"
    assert scope_account_region(with_globs.scope_id(ACCOUNT)) == (ACCOUNT, REGION)


@pytest.mark.parametrize(("workflow_id", "expected"), [
    (f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:pay", (ACCOUNT, REGION)),
    (f"arn:aws-cn:states:cn-north-1:{ACCOUNT}:stateMachine:pay", (ACCOUNT, "cn-north-1")),
    ("pay", None),
    ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Logic/workflows/w", None),
    ("projects/p/locations/l/workflows/w", None),
])
def test_an_arn_says_its_account_and_region(workflow_id, expected):
    assert arn_account_region(workflow_id) == expected


@pytest.mark.parametrize(("scope", "expected"), [
    ("aws:default:eu-west-1", "eu-west-1"),
    (f"aws:{ACCOUNT}:eu-west-1#7e047ff3", "eu-west-1#7e047ff3"),
    ("azure:sub:rg", None),
    ("aws:only-two", None),
])
def test_a_scope_without_its_account_keeps_region_and_globs(scope, expected):
    """What `doctor` matches a scope whose account is not known yet by: the same region and globs of any account."""
    assert scope_without_account(scope) == expected
