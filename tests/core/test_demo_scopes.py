"""The demo's collection runs name their scopes as a live sync does: it wrote `aws:123456789012/us-east-1` and
`gcp:projects/p/locations/l`, ids no sync writes, so Collection health, doctor and the findings showed the demo
user names they never see live, and an AWS scope's account and region could not be read back."""

from __future__ import annotations

import datetime as dt

from flowscope import aws_ids
from flowscope.collectors.azure.source import AzureScope
from flowscope.collectors.gcp.source import GcpScope
from flowscope.model import C
from flowscope.simulate.demo import FAILED_SCOPE, collection_rows

END = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def test_the_demo_scopes_are_the_ids_a_live_sync_writes():
    rows = collection_rows({("aws", "123456789012", "us-east-1"): 5, ("azure", "0000-AbC", None): 3,
                            ("gcp", "flowscope-demo", "us-central1"): 2}, END)
    scopes = {r[C.cloud]: r[C.scope] for r in rows if r[C.scope] != FAILED_SCOPE}
    assert scopes == {"aws": aws_ids.scope_id("123456789012", "us-east-1"),
                      "azure": AzureScope(subscription="0000-AbC").scope_id(),
                      "gcp": GcpScope(project="flowscope-demo", location="us-central1").scope_id()}
    assert aws_ids.scope_account_region(scopes["aws"]) == ("123456789012", "us-east-1")


def test_the_failed_scope_is_a_live_id_too():
    assert FAILED_SCOPE == GcpScope(project="analytics-sandbox", location="europe-west1").scope_id()
    assert any(r[C.scope] == FAILED_SCOPE for r in collection_rows({}, END))
