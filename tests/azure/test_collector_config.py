"""Azure collector: source validation, endpoints and credentials, the read-only guard, paging safety."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from flowscope.collectors.azure import arm, clients
from flowscope.collectors.azure import collector as az
from flowscope.collectors.sync import live_collection_available, validate_sources
from flowscope.settings import ConfigError
from tests.azure.arm_server import SAMPLE_SUB, ArmServer, sample_corpus

SUB = "00000000-0000-0000-0000-000000000000"


def source(**kw):
    return {"cloud": "azure", "subscription_id": SUB, **kw}


@pytest.mark.parametrize("bad, words", [
    ({"regions": ["x"]}, "unknown key(s) regions"),
    ({"subscription_id": ""}, "subscription_id"),
    ({"subscription_id": "../x"}, "subscription_id"),
    ({"resource_groups": "rg"}, "resource_groups must be a non-empty list"),
    ({"resource_groups": ["ok", "bad/rg"]}, "'bad/rg' is not a valid resource group name"),
    ({"workflows": [1]}, "workflows must be a non-empty list"),
    ({"arm_endpoint": "http://management.example.com"}, "plain http on a non-loopback host"),
    ({"arm_endpoint": "ftp://127.0.0.1"}, "arm_endpoint must be an https:// URL"),   # the endpoints' one wording
    ({"arm_endpoint": "https://x.example?sig=1"}, "must not carry a query"),
    # credentials in the URL were accepted, then written into every collection_runs row (details.endpoint)
    ({"arm_endpoint": "https://svc:s3cret@arm.example"}, "must not carry credentials"),
    ({"metrics_endpoint": "https://u@{region}.metrics.example"}, "must not carry credentials"),
    ({"logs_endpoint": "http://10.0.0.1"}, "logs_endpoint is plain http"),
    ({"lag": "soon"}, "lag"),
    ({"concurrency": 0}, "concurrency must be a positive integer"),
    ({"read_timeout": True}, "read_timeout"),
    ({"quota": [250]}, "quota must be [burst, refill_per_second]"),
])
def test_bad_sources_are_refused_with_the_key_named(bad, words):
    with pytest.raises(az.SourceConfigError) as info:
        az.validate(source(**bad))
    assert words in str(info.value)


def test_scopes_one_per_subscription_with_a_stable_id():
    [plain] = az.scopes(source())
    assert plain.scope_id() == f"azure:{SUB}" and plain.arm_endpoint == "https://management.azure.com"
    [narrowed] = az.scopes(source(resource_groups=["Integration-Prod"], workflows=["orders-*"], lag="1h",
                                  arm_endpoint="http://127.0.0.1:8080/", quota=[10, 2]))
    assert narrowed.scope_id().startswith(f"azure:{SUB}#") and narrowed.scope_id() != plain.scope_id()
    assert narrowed.arm_endpoint == "http://127.0.0.1:8080" and narrowed.lag == dt.timedelta(hours=1)
    assert narrowed.quota == clients.Quota(10, 2)
    # resource group names are case-insensitive in ARM: the scope id does not change with their case
    [again] = az.scopes(source(resource_groups=["integration-prod"], workflows=["orders-*"]))
    assert again.scope_id() == narrowed.scope_id()


def test_sync_and_doctor_see_the_azure_collector():
    assert live_collection_available("azure")
    [(_, _, module, found)] = validate_sources([source()])
    assert module is az and len(found) == 1
    with pytest.raises(ConfigError, match="sources\\[1\\]: azure source: unknown key"):
        validate_sources([source(token="x")])


@pytest.mark.parametrize("url, ok", [
    ("http://127.0.0.1:1234", True), ("http://localhost", True), ("http://[::1]:99", True),
    ("https://management.azure.com", True), ("http://127.0.0.1.example.com", False),
    ("http://10.1.2.3", False), ("http://management.azure.com", False),
])
def test_http_only_on_loopback(url, ok):
    if ok:
        assert clients.check_endpoint(url + "/", "arm_endpoint") == url
    else:
        with pytest.raises(clients.AzureConfigError, match="non-loopback"):
            clients.check_endpoint(url, "arm_endpoint")


def test_token_from_the_environment_only(monkeypatch):
    cred = clients.make_credential({clients.TOKEN_ENV: " abc "})
    assert isinstance(cred, clients.StaticTokenCredential)
    assert cred.get_token("https://management.azure.com/.default").token == "abc"
    assert "abc" not in repr(cred)
    # no token: azure-identity's default chain (constructed lazily, nothing contacted yet)
    monkeypatch.delenv(clients.TOKEN_ENV, raising=False)
    assert type(clients.make_credential({})).__name__ == "DefaultAzureCredential"
    assert clients.token_scope("https://management.usgovcloudapi.net") == "https://management.usgovcloudapi.net/.default"


def test_no_credentials_is_one_line_saying_how_to_sign_in(monkeypatch):
    """DefaultAzureCredential with nothing to use: the SDK logged a dozen lines (every credential it tried)
    and the scope's error repeated them in one long line; now one line says so and how to sign in."""
    import logging

    from azure.core.exceptions import ClientAuthenticationError

    class Nothing:
        def get_token(self, *scopes, **kwargs):
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token from the included "
                                            "credentials.\nAttempted credentials:\n\tEnvironmentCredential: ...")

    with ArmServer() as server:
        client = clients.ArmClient(server.endpoint, Nothing())
        with pytest.raises(clients.ArmError) as caught:
            client.get(f"/subscriptions/{SUB}/providers/Microsoft.Logic/workflows", operation="workflows.list",
                       params={"api-version": "2019-05-01"})
        assert server.requests == 0
    said = str(caught.value)
    assert said.startswith("workflows.list failed: no Azure credentials: DefaultAzureCredential failed")
    assert "az login" in said and clients.TOKEN_ENV in said and "Attempted" not in said and "\n" not in said
    identity = logging.getLogger("azure.identity")
    monkeypatch.setattr(identity, "level", logging.NOTSET)
    clients.make_credential({})
    assert identity.level == logging.ERROR, "its dozen-line warning is the scope's error already"
    monkeypatch.setattr(identity, "level", logging.DEBUG)
    clients.make_credential({})
    assert identity.level == logging.DEBUG, "a level the user set stays"


def test_read_only_guard_stops_writes_before_the_wire():
    with ArmServer() as server:
        client = clients.ArmClient(server.endpoint, clients.StaticTokenCredential(server.token))
        for method in ("DELETE", "PUT", "PATCH", "POST"):
            with pytest.raises(clients.ReadOnlyViolation, match="not a read"):
                client.send(method, f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Logic/workflows/w"
                            "?api-version=2019-05-01", operation="write")
        assert server.methods == {}           # nothing reached the server
        client.get(f"/subscriptions/{SUB}/providers/Microsoft.Logic/workflows", operation="workflows.list",
                   params={"api-version": "2019-05-01"})
        assert dict(server.methods) == {"GET": 1}
    assert clients.read_only_allowed("POST", "https://api.loganalytics.io/v1/workspaces/w/query")
    assert clients.read_only_allowed("POST", f"https://x.metrics.monitor.azure.com/subscriptions/{SUB}/metrics:getBatch")
    assert not clients.read_only_allowed("POST", f"https://management.azure.com/subscriptions/{SUB}/x/run")
    assert not clients.read_only_allowed("POST", "https://management.azure.com/x/query/cancel")


def test_next_link_to_another_host_is_refused():
    with ArmServer() as server:
        client = clients.ArmClient(server.endpoint, clients.StaticTokenCredential(server.token))
        with pytest.raises(clients.ArmError, match="another host"):
            client.get("https://evil.example/subscriptions/x?api-version=2019-05-01", operation="runs.list")
        assert server.requests == 0


def test_a_next_link_naming_the_default_port_or_another_case_is_the_same_host():
    """ARM writes nextLinks as `https://management.azure.com:443/subscriptions/...?$skiptoken=...`:
    the same origin as the endpoint `https://management.azure.com`, spelled with its default port.
    Refused as another host, every listing longer than a page failed (runs, actions, histories)."""
    client = clients.ArmClient("https://management.azure.com", clients.StaticTokenCredential("t"))
    try:
        for link in ("https://management.azure.com:443/subscriptions/x/runs?api-version=2019-05-01&$skiptoken=a",
                     "https://Management.Azure.com/subscriptions/x/runs?api-version=2019-05-01&$skiptoken=b"):
            assert client.url(link) == link
        for foreign in ("https://management.azure.com:8443/subscriptions/x", "http://management.azure.com/x",
                        "https://management.azure.com.evil.example/x", "https://user@management.azure.com/x"):
            with pytest.raises(clients.ArmError, match="another host"):
                client.url(foreign)
    finally:
        client.close()


def test_bearer_token_needs_https_except_on_loopback():
    with pytest.raises(clients.AzureConfigError, match="non-loopback"):
        clients.ArmClient("http://example.com", clients.StaticTokenCredential("t"))
    with ArmServer() as server:          # loopback http: the token is sent (azure-core opted out for it)
        client = clients.ArmClient(server.endpoint.replace("127.0.0.1", "localhost"),
                                   clients.StaticTokenCredential(server.token))
        assert client.get(f"/subscriptions/{SUB}/providers/Microsoft.Logic/workflows", operation="workflows.list",
                          params={"api-version": "2019-05-01"}) == {"value": []}


def test_scrub_drops_payloads_and_signed_links():
    record = {"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Logic/workflows/w/runs/1",
              "properties": {"status": "Succeeded", "outputs": {"x": {"value": "secret"}},
                             "trigger": {"name": "t", "inputs": {"a": 1},
                                         "outputsLink": {"uri": "https://x?sig=SECRET", "contentSize": 5}},
                             "inputsLink": {"uri": "https://x?sig=SECRET", "contentSize": 7},
                             "retryHistory": [{"startTime": "2018-01-01T00:00:00Z", "outputs": "p"}]}}
    clean = arm.scrub(record)
    text = repr(clean)
    assert "SECRET" not in text and "secret" not in text and "'p'" not in text
    assert clean["properties"]["inputsLink"] == {"contentSize": 7}
    assert clean["properties"]["trigger"]["outputsLink"] == {"contentSize": 5}
    assert record["properties"]["inputsLink"]["uri"].endswith("SECRET")     # the input is not changed


def test_scrub_drops_the_run_response_payload_and_its_signed_links():
    """A run's `properties.response` (a WorkflowRunTrigger in the REST spec: what a Response action
    answered) kept its inline body and its SAS-signed `outputsLink.uri`; now scrubbed like `trigger`."""
    record = {"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Logic/workflows/w/runs/1",
              "properties": {"status": "Succeeded",
                             "response": {"name": "Response", "code": "OK", "outputs": {"body": "secret"},
                                          "outputsLink": {"uri": "https://x?sv=1.0&sig=SECRET", "contentSize": 9}}}}
    clean = arm.scrub(record)
    assert "SECRET" not in repr(clean) and "secret" not in repr(clean)
    assert clean["properties"]["response"] == {"name": "Response", "code": "OK", "outputsLink": {"contentSize": 9}}


def test_every_sample_is_served_and_listed_with_next_links():
    with ArmServer(page_size=1) as server:
        server.load_documents(sample_corpus())
        client = clients.ArmClient(server.endpoint, clients.StaticTokenCredential(server.token))
        workflows = arm.list_workflows(client, SAMPLE_SUB)
        assert sorted(w["name"] for w in workflows) == ["test-workflow", "testFlow", "testWorkflowName"]
        assert server.counts["workflows.list"] == 3               # one page each: nextLink followed
        flow = next(w for w in workflows if w["name"] == "testFlow")
        [run] = arm.list_runs(client, flow["id"], None)
        reps = arm.list_repetitions(client, run["id"] + "/actions/testAction")
        assert [r["name"] for r in reps] == ["000000", "000001"]
        assert all("uri" not in r["properties"]["inputsLink"] for r in reps)
        assert arm.list_workflows(client, SAMPLE_SUB, "testResourceGroup", ["test*Name"])[0]["name"] == \
            "testWorkflowName"
        with pytest.raises(ValueError, match="not an ARM resource id"):
            arm.list_actions(client, "https://evil.example/subscriptions/x")


def test_shipped_role_grants_exactly_what_the_collector_calls(tmp_path, monkeypatch):
    import json
    from pathlib import Path

    from flowscope.store import Store

    role = json.loads((Path(__file__).resolve().parents[2] / "docs" / "azure-role.json").read_text())
    assert set(role["Actions"]) == set(clients.PERMISSIONS.values()) | clients.STANDARD_RUNTIME_PERMISSIONS
    assert not role["DataActions"] and not any(a.endswith(("/write", "/delete", "/action")) for a in role["Actions"])
    assert not set(role["Actions"]) & set(clients.OPT_IN_PERMISSIONS.values())
    monkeypatch.setenv(clients.TOKEN_ENV, "test-token")
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        [result] = az.sync(source(subscription_id=SAMPLE_SUB, arm_endpoint=server.endpoint, request_histories=True),
                           Store(tmp_path / "s"))
    called = set(json.loads(result.row()["details"])["api"]["calls"])
    assert called and called <= set(clients.PERMISSIONS) | set(clients.OPT_IN_PERMISSIONS)


@pytest.mark.parametrize("key, url, said", [
    ("arm_endpoint", "http://127.0.0.1:99999", "arm_endpoint has a port that is not a number from 1 to 65535"),
    ("logs_endpoint", "https://api.example:0", "logs_endpoint has a port that is not a number from 1 to 65535"),
    ("metrics_endpoint", "https://{region}.m.example:x", "metrics_endpoint has a port that is not a number"),
    ("arm_endpoint", "http://[::1", "arm_endpoint is not a readable URL (Invalid IPv6 URL), got 'http://[::1'"),
])
def test_a_bad_port_or_an_unreadable_endpoint_is_an_azure_config_error(key, url, said):
    """The endpoints' one rule (`netaddr.endpoint_fault`) in Azure's words, in the source check and where a client
    is built: a bad port was accepted (the scope failed at its first call) and `http://[::1` raised urlsplit's
    bare ValueError ("Invalid IPv6 URL", no setting named)."""
    with pytest.raises(az.SourceConfigError) as info:
        az.validate(source(**{key: url}))
    assert f"azure source: {said}" in str(info.value)
    with pytest.raises(clients.AzureConfigError, match=re.escape(f"azure source: {said}")):
        clients.check_endpoint(url, key)
