"""AWS Step Functions: the cloud's rooms.

- `collector`: scopes of a `[[sources]]` entry and `sync`, the one entry point of live collection;
- `clients`: boto3 sessions, endpoints, the read-only guard and per-API quotas;
- `stepfunctions`, `logs`, `metrics`: the API families (ListExecutions / GetExecutionHistory /
  DescribeMapRun, FilterLogEvents, GetMetricData): I/O and the orchestration of calls;
- `definition`: the one reader of ASL definitions (assembly indexes, the dashboard's graph);
- `events`: the history event types and their named kinds, timestamps, ARNs, log records;
- `transform`: pure native records -> model rows, one module per format, assembly and billing.
"""
