"""The GCP formats (`FORMATS`): format name -> the module reading that native document."""

from __future__ import annotations

from typing import Any

from flowscope.collectors.gcp.transform.detect import detect
from flowscope.collectors.gcp.transform.executions import transform_executions
from flowscope.collectors.gcp.transform.log_entries import transform_log_entries
from flowscope.collectors.gcp.transform.step_entries import transform_step_entries
from flowscope.collectors.gcp.transform.workflows import transform_workflows
from flowscope.collectors.native import FormatHandler, ImportContext, NativeFormatError
from flowscope.model import Batch

FORMATS: dict[str, FormatHandler] = {
    "gcp.workflow": transform_workflows,
    "gcp.executions": transform_executions,
    "gcp.step_entries": transform_step_entries,
    "gcp.log_entries": transform_log_entries,
}


def transform(doc: Any, ctx: ImportContext | None = None) -> Batch:
    """Detect the format of a document and transform it; NativeFormatError when none fits."""
    ctx = ctx or ImportContext()
    fmt = detect(doc)
    if fmt is None:
        raise NativeFormatError(ctx.source_name, "$", "not a Google Cloud Workflows document "
                                "(Workflow, Execution, StepEntry list or Workflows log entries)")
    return FORMATS[fmt](doc, ctx)
