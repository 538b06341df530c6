"""Bench of the AWS collector against a local fake that enforces the documented token buckets.

    .venv/bin/python bench/bench_aws_collector.py [--executions 700] [--log-records 100000] [--runs 3]

Prints:
- the achieved GetExecutionHistory rate against the quota-bound rate (bucket 400, refill 20/s:
  N calls need at least (N - 400) / 20 s) and the throttles the fake answered;
- GetExecutionHistory calls of a re-sync of the unchanged account (must be 0);
- the log path's records per second (FilterLogEvents pages of 10,000 records, 5 TPS bucket):
  the quota-bound floor, fetch + parse alone, and end to end (transform and store write
  included), as medians of --runs runs and as a share of the fetch-only rate (the figure that
  depends least on how busy this shared machine is).

The fake is an HTTP server on 127.0.0.1, in its own process as the cloud would be, speaking the
JSON protocols of Step Functions and CloudWatch Logs (and STS GetCallerIdentity); nothing
leaves the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.server
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ACCOUNT, REGION = "123456789012", "us-east-1"
SM = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:bench-standard"
XSM = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:bench-express"
GROUP = "/aws/vendedlogs/states/bench-express"
DEFINITION = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "D"}, "D": {"Type": "Succeed"}}})


class Bucket:
    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity, self.rate, self.tokens, self.stamp = capacity, rate, capacity, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class Fake:
    def __init__(self, executions: int, log_records: int) -> None:
        base = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
        self.executions = [{"executionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:bench-standard:e{i:06d}",
                            "stateMachineArn": SM, "name": f"e{i:06d}", "status": "SUCCEEDED",
                            "startDate": (base + dt.timedelta(seconds=i)).timestamp(),
                            "stopDate": (base + dt.timedelta(seconds=i, milliseconds=30)).timestamp()}
                           for i in range(executions)][::-1]   # newest first
        self.quotas = {"GetExecutionHistory": (400, 20), "ListExecutions": (200, 5),
                       "FilterLogEvents": (5, 5), "DescribeStateMachine": (200, 20)}
        self.buckets: dict[tuple[str, str], Bucket] = {}     # per (region, API), as AWS keeps them
        self.calls: dict[str, int] = {}
        self.throttled: dict[str, int] = {}
        self.history_times: list[float] = []
        self.lock = threading.Lock()
        self.log_pages = self._log_pages(log_records, base)

    def _log_pages(self, n: int, base: dt.datetime) -> list[bytes]:
        per_exec = 6
        events = []
        t0 = int(base.timestamp() * 1000)
        for i in range(n):
            e, k = divmod(i, per_exec)
            arn = f"arn:aws:states:{REGION}:{ACCOUNT}:express:bench-express:x{e}:{e:08d}-0000-0000-0000-000000000000"
            typ, details = [("ExecutionStarted", {"roleArn": "r"}), ("PassStateEntered", {"name": "P"}),
                            ("PassStateExited", {"name": "P"}), ("SucceedStateEntered", {"name": "D"}),
                            ("SucceedStateExited", {"name": "D"}), ("ExecutionSucceeded", {})][k]
            ts = t0 + e * 10 + k
            msg = json.dumps({"id": str(k + 1), "type": typ, "details": details, "previous_event_id": str(k),
                              "event_timestamp": str(ts), "execution_arn": arn, "redrive_count": "0"})
            events.append({"logStreamName": "s", "timestamp": ts, "message": msg, "ingestionTime": ts,
                           "eventId": str(i)})
        pages = []
        for start in range(0, len(events), 10_000):
            body: dict[str, Any] = {"events": events[start:start + 10_000]}
            if start + 10_000 < len(events):
                body["nextToken"] = str(start + 10_000)
            pages.append(json.dumps(body).encode())
        return pages or [b'{"events": []}']

    def handle(self, op: str, body: dict[str, Any], region: str = REGION) -> tuple[int, bytes]:
        """Answer as the `region` endpoint would: its own buckets, its own ARNs."""
        if region != REGION:
            body = json.loads(json.dumps(body).replace(f":{region}:", f":{REGION}:"))
        status, data = self._handle(op, body, region)
        if region != REGION:
            data = data.replace(f":{REGION}:".encode(), f":{region}:".encode())
        return status, data

    def _handle(self, op: str, body: dict[str, Any], region: str) -> tuple[int, bytes]:
        with self.lock:
            self.calls[op] = self.calls.get(op, 0) + 1
            bucket = None
            if op in self.quotas:
                bucket = self.buckets.setdefault((region, op), Bucket(*self.quotas[op]))
        if bucket is not None and not bucket.take():
            with self.lock:
                self.throttled[op] = self.throttled.get(op, 0) + 1
            return 400, json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        if op == "GetExecutionHistory":
            with self.lock:
                self.history_times.append(time.monotonic())
            t = 1_700_000_000.0
            events = [{"id": 1, "previousEventId": 0, "timestamp": t, "type": "ExecutionStarted",
                       "executionStartedEventDetails": {"roleArn": "r"}},
                      {"id": 2, "previousEventId": 1, "timestamp": t, "type": "PassStateEntered",
                       "stateEnteredEventDetails": {"name": "P"}},
                      {"id": 3, "previousEventId": 2, "timestamp": t, "type": "PassStateExited",
                       "stateExitedEventDetails": {"name": "P"}},
                      {"id": 4, "previousEventId": 3, "timestamp": t, "type": "ExecutionSucceeded",
                       "executionSucceededEventDetails": {}}]
            return 200, json.dumps({"events": events}).encode()
        if op == "ListStateMachines":
            return 200, json.dumps({"stateMachines": [
                {"stateMachineArn": SM, "name": "bench-standard", "type": "STANDARD", "creationDate": 1.7e9},
                {"stateMachineArn": XSM, "name": "bench-express", "type": "EXPRESS", "creationDate": 1.7e9}]}).encode()
        if op == "DescribeStateMachine":
            arn = body["stateMachineArn"]
            doc = {"stateMachineArn": arn, "name": arn.rsplit(":", 1)[1], "definition": DEFINITION,
                   "roleArn": "r", "type": "EXPRESS" if arn == XSM else "STANDARD", "creationDate": 1.7e9,
                   "loggingConfiguration": {"level": "ALL", "includeExecutionData": False, "destinations": [
                       {"cloudWatchLogsLogGroup": {
                           "logGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}:*"}}]}
                   if arn == XSM else {"level": "OFF"}}
            return 200, json.dumps(doc).encode()
        if op == "ListStateMachineVersions":
            return 200, b'{"stateMachineVersions": []}'
        if op == "ListStateMachineAliases":
            return 200, b'{"stateMachineAliases": []}'
        if op == "ListExecutions":
            start = int(body.get("nextToken") or 0)
            size = body.get("maxResults") or 100
            page = self.executions[start:start + size]
            out: dict[str, Any] = {"executions": page}
            if start + size < len(self.executions):
                out["nextToken"] = str(start + size)
            return 200, json.dumps(out).encode()
        if op == "FilterLogEvents":
            index = int(body.get("nextToken") or 0) // 10_000
            return 200, self.log_pages[index]
        if op == "GetMetricData":
            return 200, b'{"MetricDataResults": []}'
        return 400, json.dumps({"__type": "UnknownOperationException", "message": op}).encode()


def serve(fake: Fake) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - the bench reads the fake's counters here
            with fake.lock:
                data = json.dumps({"calls": fake.calls, "throttled": fake.throttled,
                                   "history_times": fake.history_times}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            target = self.headers.get("X-Amz-Target")
            if target is None:        # STS (query protocol): GetCallerIdentity only
                data = (f"<GetCallerIdentityResponse><GetCallerIdentityResult><Account>{ACCOUNT}</Account>"
                        f"<Arn>arn:aws:iam::{ACCOUNT}:user/bench</Arn><UserId>x</UserId>"
                        "</GetCallerIdentityResult></GetCallerIdentityResponse>").encode()
                status, ctype = 200, "text/xml"
            else:
                scope = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/", self.headers.get("Authorization", ""))
                status, data = fake.handle(target.rsplit(".", 1)[1], json.loads(raw or b"{}"),
                                           scope.group(1) if scope else REGION)
                ctype = "application/x-amz-json-1.0"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _serve_in_child(executions: int, log_records: int, port: Any) -> None:
    fake = Fake(executions, log_records)
    server, _ = serve(fake)
    port.value = server.server_address[1]
    threading.Event().wait()


class RemoteFake:
    """The fake in its own process (as the cloud is): its CPU does not compete with the collector's."""

    def __init__(self, executions: int, log_records: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        port = context.Value("i", 0)
        self.process = context.Process(target=_serve_in_child, args=(executions, log_records, port), daemon=True)
        self.process.start()
        while not port.value:
            time.sleep(0.05)
        self.endpoint = f"http://127.0.0.1:{port.value}"

    def stats(self) -> dict[str, Any]:
        import urllib.request

        with urllib.request.urlopen(self.endpoint + "/stats") as response:  # noqa: S310 - loopback
            return json.loads(response.read())

    def close(self) -> None:
        self.process.terminate()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=700)
    parser.add_argument("--log-records", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for key, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                       "AWS_EC2_METADATA_DISABLED": "true"}.items():
        os.environ[key] = value
    os.environ.pop("AWS_PROFILE", None)

    from flowscope.collectors.aws import collector as aws
    from flowscope.collectors.aws.logs import LogRecordStream, filter_log_events
    from flowscope.store import Store

    fake = RemoteFake(args.executions, args.log_records)
    endpoint = fake.endpoint
    store = Store(Path(tempfile.mkdtemp(prefix="flowscope-bench-")) / "store")
    source = {"cloud": "aws", "regions": [REGION], "endpoint_url": endpoint, "metrics": False,
              "concurrency": args.concurrency, "state_machines": ["bench-standard"]}

    # 1. GetExecutionHistory against the documented bucket
    t0 = time.monotonic()
    [first] = aws.sync(source, store)
    wall = time.monotonic() - t0
    stats = fake.stats()
    n = stats["calls"].get("GetExecutionHistory", 0) - stats["throttled"].get("GetExecutionHistory", 0)
    times = sorted(stats["history_times"])
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    bound = max(0.0, (n - 400) / 20.0)
    print(f"standard sync: status {first.status.value}, {n} histories in {wall:.1f}s wall "
          f"(history phase {span:.1f}s)")
    print(f"  GetExecutionHistory: {n / span if span else float('inf'):.1f}/s achieved; quota-bound "
          f"(bucket 400 + 20/s) needs >= {bound:.1f}s -> {100 * bound / span if span else 100:.1f}% of "
          f"the quota-bound rate; throttled by the fake: {stats['throttled'].get('GetExecutionHistory', 0)}")

    # 2. re-sync of the unchanged account
    before = fake.stats()["calls"].get("GetExecutionHistory", 0)
    [second] = aws.sync(source, store)
    print(f"re-sync unchanged: status {second.status.value}, GetExecutionHistory calls: "
          f"{fake.stats()['calls'].get('GetExecutionHistory', 0) - before}")

    # 3. the log path: the fetch alone (quota-bound), then end to end
    from flowscope.collectors.aws.clients import scope_clients

    pages = -(-args.log_records // 10_000)
    floor = max(0.0, (pages - 4) / 5.0)          # the client keeps 4 of the 5 burst tokens, then 5/s
    print(f"log path: {args.log_records:,} records in {pages} pages; the quota alone needs >= {floor:.1f}s "
          f"after the first call (so at most {args.log_records / max(floor, 1e-9):,.0f} records/s)")
    fetch_runs = []
    for _ in range(args.runs):
        clients = scope_clients(region=REGION, endpoint_url=endpoint)
        time.sleep(1.2)                          # let the fake's 5 TPS bucket refill
        t0 = time.monotonic()
        stream = LogRecordStream(GROUP, {XSM})
        parsed = 0
        for events in filter_log_events(clients.logs, GROUP, None, int(time.time() * 1000)):
            parsed += stream.add(events)
        fetch_runs.append(time.monotonic() - t0)
    fetch_s = statistics.median(fetch_runs)
    print(f"  fetch + parse: {parsed / fetch_s:,.0f} records/s (median of {args.runs})")
    walls, cpus, counts = [], [], {}
    for _ in range(args.runs):
        run_store = Store(Path(tempfile.mkdtemp(prefix="flowscope-bench-")) / "store")
        time.sleep(1.2)
        t0, c0 = time.monotonic(), time.process_time()
        [express] = aws.sync({**source, "state_machines": ["bench-express"]}, run_store)
        walls.append(time.monotonic() - t0)
        cpus.append(time.process_time() - c0)
        counts = express.counts
        if express.status.value != "succeeded":
            print(f"  FAILED: {express.row()}")
    wall = statistics.median(walls)
    records = counts.get("log_records", 0)
    print(f"  end to end (whole sync: describe, read, transform, store write): {records / wall:,.0f} records/s "
          f"(median of {args.runs}: {', '.join(f'{w:.2f}' for w in walls)} s; CPU {statistics.median(cpus):.2f} s); "
          f"{counts.get('executions_from_logs', 0)} executions; {100 * fetch_s / wall:.0f}% of the fetch-only rate")
    fake.close()

if __name__ == "__main__":
    main()
