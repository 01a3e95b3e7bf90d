"""The stall sweep: report open plans without progress on `system-events` (`workflow.stalled`).

Invoked by the stage's EventBridge Scheduler rate schedule (`infra/stall_sweep.py`) with the
input `{"stalled_after_seconds": N}`; runs `soorma.workflows.stalls.sweep` over the memory table
(`SOORMA_MEMORY_TABLE`, its `by_progress` index: one Query per shard, no Scan) and publishes as
`soorma.platform` on `SOORMA_EVENT_BUS`. Emits the EMF metric `StalledWorkflows` (plans reported
by this sweep, 0 included) in the `Soorma` namespace with `service=stall-sweep`, which the
stage's alarm watches. See docs/deadlines.md, "Stalled workflows".
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from soorma.memory.table import MemoryTable
from soorma.workflows.stalls import DEFAULT_STALLED_AFTER_SECONDS, platform_publisher, sweep
from soorma_common.delivery import METRICS_NAMESPACE
from soorma_common.naming import STALL_SWEEP

#: The metric the alarm watches.
STALLED_METRIC = "StalledWorkflows"

logger = Logger(service=STALL_SWEEP)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=STALL_SWEEP)


def stalled_after(event: Any) -> float:
    """The schedule's `stalled_after_seconds` (default 15 minutes); a bad value is an error
    that names it."""
    value = event.get("stalled_after_seconds") if isinstance(event, dict) else None
    if value is None:
        return DEFAULT_STALLED_AFTER_SECONDS
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"stalled_after_seconds must be a positive number, got {value!r}")
    return float(value)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One sweep: returns what it did (Queries, candidates, plans reported, marks lost)."""
    after = stalled_after(event)
    report = sweep(MemoryTable.from_settings(), platform_publisher(), stalled_after_seconds=after)
    metrics.add_metric(name=STALLED_METRIC, unit=MetricUnit.Count, value=len(report.reported))
    for stalled in report.reported:
        logger.warning(
            "workflow stalled",
            extra={
                "tenant_id": stalled.tenant_id,
                "plan_id": stalled.plan_id,
                "correlation_id": stalled.correlation_id,
                "last_progress": stalled.last_progress,
            },
        )
    return {
        "queries": report.queries,
        "candidates": report.candidates,
        "reported": len(report.reported),
        "lost": report.lost,
    }
