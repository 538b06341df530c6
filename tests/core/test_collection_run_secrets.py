"""A collection run's errors and warnings quote what the cloud's SDK said, URLs with credentials included:
none of them reaches the store (`collection_runs.details`, `.error`), nor the summary `sync` prints."""

from __future__ import annotations

import datetime as dt
import json

from flowscope.collectors.sync import SyncReport
from flowscope.collectors.window import CollectionError, ScopeResult
from flowscope.model import UTC, Batch, C
from flowscope.store import Store

SECRETS = ("s1gnature", "fnk3y", "t0ken-abcdefgh", "hunter2", "pr0xyp4ss")


def _leaky_result() -> ScopeResult:
    result = ScopeResult(cloud="azure", scope="azure:sub/rg", started_at=dt.datetime(2026, 11, 1, tzinfo=UTC))
    result.record_error(CollectionError("GET https://prod-07.westeurope.logic.azure.com/run?sv=1.0&sig=s1gnature "
                                        "failed", operation="runs.get", code="Forbidden",
                                        target="https://fn.azurewebsites.net/api/x?code=fnk3y"))
    result.record_error(RuntimeError("401 for Authorization: Bearer t0ken-abcdefgh"))
    result.record_error({"code": "Proxy", "message": "via https://svc:hunter2@proxy.example:8080/"})
    result.warn("metrics skipped: https://api.example/m?key=fnk3y refused")
    result.details["endpoint"] = "https://user:pr0xyp4ss@mgmt.example/"
    return result.finish()


def test_collection_run_row_keeps_no_credentials(tmp_path):
    store = Store(tmp_path / "store")
    store.write(Batch(collection_runs=[_leaky_result().row()]))
    (row,) = store.read_rows("collection_runs")
    stored = json.dumps({C.details: row[C.details], C.error: row[C.error]})
    assert [s for s in SECRETS if s in stored] == []
    details = json.loads(row[C.details])
    assert details["errors"][0]["message"].startswith("GET https://prod-07.westeurope.logic.azure.com/run?sv=1.0&sig=REDACTED")
    assert details["errors"][0]["target"] == "https://fn.azurewebsites.net/api/x?code=REDACTED"
    assert details["warnings"] == ["metrics skipped: https://api.example/m?key=REDACTED refused"]


def test_sync_summary_prints_no_credentials():
    failed = ScopeResult(cloud="gcp", scope="gcp:p/l", started_at=dt.datetime(2026, 11, 1, tzinfo=UTC))
    failed.finish(failed=RuntimeError("token refused at https://oauth2.example/t?access_token=t0ken-abcdefgh"))
    lines = "\n".join(SyncReport(results=[_leaky_result(), failed]).summary_lines())
    assert [s for s in SECRETS if s in lines] == []
    assert "access_token=REDACTED" in lines and "sig=REDACTED" in lines and "key=REDACTED" in lines


def test_details_cleaned_string_by_string_whoever_writes_them(tmp_path):
    """The store cleans every writer's details (an import's, an older flowscope's row) one JSON string at a
    time: a rule run over the whole text would read `https://a", "b": "u:p@` as a user:password and break it."""
    store = Store(tmp_path / "store")
    run = ScopeResult(cloud="aws", scope="aws:1/eu", started_at=dt.datetime(2026, 11, 1, tzinfo=UTC)).finish().row()
    run[C.details] = json.dumps({"a": "https://host", "b": "u:v@w", "c": ["Bearer t0ken-abcdefgh"]},
                                separators=(",", ":"))
    store.write(Batch(collection_runs=[run]))
    (row,) = store.read_rows("collection_runs")
    assert json.loads(row[C.details]) == {"a": "https://host", "b": "u:v@w", "c": ["Bearer REDACTED"]}


def test_a_message_cut_short_never_keeps_part_of_a_credential():
    """A message cut at 200 characters before its credentials were taken out: a cut between `user:pass`
    and its `@`, or eight characters into a bearer token, left what came before it, which no rule matches."""
    from flowscope.collectors.window import as_collection_error

    for quoted in ("https://svc:hunter2hunter2@proxy.example/", "Authorization: Bearer t0ken-abcdefgh"):
        for pad in range(170, 200):
            error = as_collection_error(RuntimeError("x" * pad + quoted), "runs.list", None)
            kept = error.as_dict()["message"]
            assert "hunt" not in kept and "t0ke" not in kept, (pad, kept)


def test_an_execution_error_cut_to_its_column_never_keeps_part_of_a_credential():
    """Errors and causes are cut to 1,024 characters by each cloud's transform, and the store takes credentials
    out after: a `user:password@` or a token across the cut kept the part before it (no rule matches it)."""
    from flowscope.collectors.aws.transform import causes, values
    from flowscope.collectors.azure.transform.records import error_of
    from flowscope.collectors.gcp.transform.errors import error_and_cause
    from flowscope.model import Status

    for pad in range(990, 1024, 3):
        text = "x" * pad + "https://svc:hunter2hunter2@proxy.example/ Bearer t0ken-abcdefgh"
        kept = [values.text(text), causes.readable_cause(text), *error_of({"error": {"code": text, "message": text}},
                                                                           Status.FAILED),
                error_and_cause(json.dumps({"message": text, "tags": ["E"]}), None)[1], error_and_cause(text)[0]]
        assert [k for k in kept if k is None or "hunt" in k or "t0ke" in k] == [], pad


def test_a_failed_scopes_own_entry_never_keeps_part_of_a_credential(tmp_path, monkeypatch):
    """A scope failing as a whole keeps its exception in `details.errors`, cut at 300 characters: cut before
    the store cleaned it, a `user:password@` across the cut kept the part before it."""
    from flowscope.collectors.aws import clients as aws_clients
    from flowscope.collectors.aws import collector as aws
    from flowscope.collectors.aws.source import AwsScope
    from flowscope.collectors.azure import clients as az_clients
    from flowscope.collectors.azure import collector as az
    from flowscope.collectors.azure.source import scopes as azure_scopes

    def refuse(*_a, **_k):
        raise RuntimeError("x" * 270 + " via https://svc:hunter2hunter2@proxy.example/")

    monkeypatch.setattr(aws_clients, "scope_clients", refuse)
    monkeypatch.setattr(az_clients, "make_credential", refuse)
    monkeypatch.setenv("FLOWSCOPE_AZURE_TOKEN", "t")
    store = Store(tmp_path / "s")
    results = [aws.collect_scope(AwsScope(region="us-east-1"), store),
               az.collect_scope(azure_scopes({"cloud": "azure", "subscription_id":
                                              "34adfa4f-cedf-4dc0-ba29-b6d1a69ab345"})[0], store)]
    for result in results:
        assert result.errors and not [e for e in result.errors if "hunt" in json.dumps(e)], result.errors


QUOTED = ("https://svc:hunter2hunter2@proxy.example/", "Authorization: Bearer t0ken-abcdefgh")


def _cut_messages(text: str) -> dict[str, str | None]:
    """What each collector keeps of an SDK's or a cloud's `text`, where it cuts it short."""
    from botocore.exceptions import ClientError, CredentialRetrievalError

    from flowscope.collectors.aws.clients import explain_credentials
    from flowscope.collectors.aws.metrics import _messages
    from flowscope.collectors.aws.stepfunctions import as_collection_error as aws_error
    from flowscope.collectors.azure.clients import _error_of, no_credentials
    from flowscope.collectors.azure.metrics import _unauthenticated
    from flowscope.collectors.window import as_collection_error

    class Response:
        def json(self) -> dict:
            return {"error": {"code": text, "message": text}}

    code, message = _error_of(Response())
    refused = ClientError({"Error": {"Code": "AccessDenied", "Message": text}}, "ListExecutions")
    return {**_cut_sweep(text),
        "window.as_collection_error": str(as_collection_error(RuntimeError(text), "runs.list", None)),
        "aws.explain_credentials": str(explain_credentials(CredentialRetrievalError(provider="sso", error_msg=text))),
        "aws.as_collection_error": str(aws_error(refused, "ListExecutions", None)),
        "aws.metrics._messages": _messages({"Messages": [{"Code": "E", "Value": text}]}, {}),
        "azure._error_of code": code,
        "azure._error_of message": message,
        "azure.no_credentials": no_credentials(RuntimeError(text)),
        "azure.metrics._unauthenticated": str(_unauthenticated(RuntimeError(text))),
    }


def _cut_sweep(text: str) -> dict[str, str | None]:
    """The cuts of skip reasons, scope failures and partial answers, beside those of `_cut_messages`."""
    from types import SimpleNamespace

    from azure.monitor.query import LogsQueryStatus

    from flowscope.collectors.azure import loganalytics
    from flowscope.collectors.sink import StoreSink, close_run_row
    from flowscope.model import Batch, Skip

    result = ScopeResult(cloud="azure", scope="azure:s", started_at=dt.datetime(2026, 11, 1, tzinfo=UTC))
    sink = StoreSink(None, result, transforms=None, flush_every=10**9)        # type: ignore[arg-type]
    sink.add(Batch(skips=[Skip(text, text, text)]))

    class Refusing:
        def write(self, _batch: Batch) -> None:
            raise RuntimeError(text)

    class Client:
        def query_workspace(self, *_a: object, **_k: object) -> object:
            return SimpleNamespace(status=LogsQueryStatus.PARTIAL,
                                   partial_error=SimpleNamespace(code="PartialError", message=text))

    try:
        loganalytics.query_slice(Client(), {}, "ws", ["/subscriptions/s/resourcegroups/r/providers/microsoft.logic/"
                                                      "workflows/w"],
                                 dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 11, 2, tzinfo=UTC))
        partial = None
    except loganalytics.PartialResult as exc:
        partial = str(exc)
    return {**{f"sink.skips_kept {k}": v for k, v in sink.skips_kept[0].items()},
            "sink.close_run_row": close_run_row(Refusing(), result).error,      # type: ignore[arg-type]
            "azure.loganalytics partial": partial}


def test_every_collector_cut_keeps_no_part_of_a_credential():
    """Each collector cut a cloud's or an SDK's message (at 80 to 300 characters) itself, some before the
    credentials were taken out: a cut between `user:pass` and its `@`, or into a bearer token, left what came
    before it, which no rule matches. Each one takes them out first (`native.cleaned`)."""
    leaks = set()
    for quoted in QUOTED:
        for pad in range(60, 300, 3):
            for where, kept in _cut_messages("x" * pad + " " + quoted).items():
                if kept is not None and ("hunt" in kept or "t0ke" in kept):
                    leaks.add(where)
    assert sorted(leaks) == []


def test_every_collector_cut_says_it_was_cut():
    """The same cut everywhere (`native.cleaned`): a message cut short says so (`…`), where some sliced it."""
    cut = {where for where, kept in _cut_messages("y" * 2_000).items() if kept is not None and "…" in kept}
    assert sorted(set(_cut_messages("y")) - cut) == []


def test_a_runtime_log_error_cut_to_its_column_keeps_no_part_of_a_credential():
    """A Log Analytics runtime row's `Error` was cut to 1,024 characters before the transform took the
    credentials out of it (`records.error_of`): a `user:password@` across the cut kept the part before it."""
    from flowscope.collectors.azure.transform.records import error_of
    from flowscope.collectors.azure.transform.runtime_log import _props
    from flowscope.model import Status

    for quoted in QUOTED:
        for pad in range(990, 1024, 3):
            props = _props({"Error": "x" * pad + " " + quoted, "Code": "ActionFailed",
                            "StartTime": "2026-11-01T00:00:00Z"}, completed=False)
            kept = json.dumps([props, error_of(props, Status.FAILED)])
            assert "hunt" not in kept and "t0ke" not in kept, (pad, kept)


def test_an_errors_code_is_kept_cleaned_and_cut_by_the_error_itself():
    """`CollectionError.as_dict` cleaned its message and target but kept `code` as the cloud (or an SDK
    quoting it) gave it: any length, credentials included, left to a later pass of whoever wrote it. It is
    cleaned, then cut (`native.cleaned`), like the rest of the error."""
    from flowscope.collectors.window import MAX_CODE_CHARS

    code = "Forbidden https://svc:hunter2@proxy.example/?sig=s1gnature " + "x" * 5000
    kept = CollectionError("denied", operation="runs.get", code=code).as_dict()["code"]
    assert "hunter2" not in kept and "s1gnature" not in kept
    assert kept.startswith("Forbidden https://REDACTED@proxy.example/?sig=REDACTED") and len(kept) == MAX_CODE_CHARS
    assert CollectionError("x", code="ThrottlingException").as_dict()["code"] == "ThrottlingException"
    assert CollectionError("x").as_dict()["code"] is None


def test_an_errors_target_is_kept_cleaned_and_cut_by_the_error_itself():
    """`CollectionError.as_dict` took the credentials out of `target` but never cut it, while message and code
    are cleaned, then cut (`native.cleaned`): a URL target with a long query (GCP names a call by its URL) was
    kept whole in the collection run's row. It is cut the same way, at `MAX_TARGET_CHARS`."""
    from flowscope.collectors.window import MAX_TARGET_CHARS

    target = "https://svc:hunter2@workflowexecutions.example/v1/x?access_token=t0ken-abcdefgh&f=" + "y" * 50_000
    kept = CollectionError("denied", operation="executions.list", target=target).as_dict()["target"]
    assert "hunter2" not in kept and "t0ken" not in kept
    assert kept.startswith("https://REDACTED@workflowexecutions.example/v1/x?access_token=REDACTED")
    assert len(kept) == MAX_TARGET_CHARS and kept.endswith("…")
    arn = "arn:aws:states:eu-west-1:123456789012:execution:orders:" + "e" * 80
    assert CollectionError("x", target=arn).as_dict()["target"] == arn
    assert CollectionError("x").as_dict()["target"] is None
