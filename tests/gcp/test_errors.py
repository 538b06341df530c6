"""A Workflows exception payload -> the model's error (its name) and cause (its message, then where)."""

import pytest

from flowscope.collectors.gcp.transform.errors import error_and_cause
from flowscope.model import MAX_TEXT_CHARS


@pytest.mark.parametrize("payload, where, expected", [
    ('{"message":"HTTP server responded with error code 503","code":503,"tags":["HttpError"]}', None,
     ("HttpError 503", "HTTP server responded with error code 503")),
    ('{"message":"order too big","tags":["RaisedError"]}', 'RaisedError: in step "too_big"',
     ("RaisedError", 'order too big; RaisedError: in step "too_big"')),
    ('{"message":"connection refused","tags":["ConnectionError","ConnectionFailedError"]}', "main.fetch",
     ("ConnectionError/ConnectionFailedError", "connection refused; main.fetch")),
    ('{"code":429,"tags":["HttpError"]}', None, ("HttpError 429", None)),              # no message
    ('{"code":true,"tags":["HttpError"]}', None, ("HttpError", None)),                 # a code that is not one
    ('"out of stock"', "main.reserve", ("out of stock", "main.reserve")),             # raise "out of stock"
    ('{"reason":"custom","retry":false}', None, ('{"reason":"custom","retry":false}', None)),  # a map of its own
    ('{"message":"x","tags":[]}', None, ('{"message":"x","tags":[]}', None)),
    ('{"message":"x","tags":[1]}', None, ('{"message":"x","tags":[1]}', None)),
    ("[1, 2]", None, ("[1, 2]", None)),
    ("not json", "main.x", ("not json", "main.x")),
    ("", None, (None, None)),
    (None, None, (None, None)),
    (None, "main.x", (None, "main.x")),
], ids=["http", "raised-with-context", "two-tags", "no-message", "bool-code", "raised-string", "own-map",
        "empty-tags", "non-string-tag", "list", "not-json", "empty", "none", "where-only"])
def test_error_and_cause(payload, where, expected):
    assert error_and_cause(payload, where) == expected


def test_long_messages_are_truncated():
    error, cause = error_and_cause('{"message":"%s","tags":["HttpError"]}' % ("x" * 10_000), "main.call")
    assert error == "HttpError" and len(cause) == MAX_TEXT_CHARS and cause.endswith("…")


@pytest.mark.parametrize("body", ["short", "x" * 5_000], ids=["cached", "too-long-to-cache"])
def test_http_error_body_and_headers_are_not_kept(body):
    payload = ('{"body":"%s","code":404,"headers":{"Set-Cookie":"session=secret"},'
               '"message":"HTTP server responded with error code 404","tags":["HttpError"]}' % body)
    assert error_and_cause(payload) == ("HttpError 404", "HTTP server responded with error code 404")


def test_a_payload_nested_thousands_deep_is_kept_as_text_not_a_recursion_error():
    """A workflow raising a map nested 3,000 levels deep: reading its payload raised RecursionError out of
    the executions' transform (the execution, and a live scope, lost). It is kept as text, truncated."""
    payload = '{"a":' * 3000 + "1" + "}" * 3000
    error, cause = error_and_cause(payload, None)
    assert len(error) == MAX_TEXT_CHARS and error.startswith('{"a":{"a":') and cause is None


def test_an_api_answer_nested_too_deeply_is_its_http_error_or_a_bad_response():
    """A body nesting 3,000 levels deep raised a bare RecursionError out of the client (an error's body
    read for its message, a 200's for its data)."""
    import json

    from flowscope.collectors.gcp.clients import GcpApiError, _api_error

    class Deep:
        status_code = 503
        headers: dict = {}

        def json(self):
            return json.loads("[" * 3000 + "]" * 3000)

    error = _api_error(Deep(), "executions.list", "projects/p")
    assert isinstance(error, GcpApiError) and "HTTP 503" in str(error)
