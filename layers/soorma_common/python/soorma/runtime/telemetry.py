"""Per-batch logs and EMF metrics of one agent's runtime (Powertools Logger and Metrics)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from soorma.config import metrics_disabled
from soorma_common.delivery import METRICS_NAMESPACE as NAMESPACE
from soorma_common.envelope import EventEnvelope


class RuntimeTelemetry:
    """A Powertools `Logger` named after the agent, and counters flushed as EMF once per batch."""

    def __init__(self, agent: str) -> None:
        from aws_lambda_powertools import Logger

        self.agent = agent
        self.logger = Logger(service=agent)
        self._counts: Counter[tuple[str, str]] = Counter()
        self._metrics: Any = None
        self._bound = False
        #: Whether events are counted (False while `POWERTOOLS_METRICS_DISABLED` is set).
        self.counting = not metrics_disabled()

    def bind(self, envelope: EventEnvelope) -> None:
        """Put the event's correlation id and keys on every log line until the next `bind`."""
        self._bound = True
        # One `append_keys` (Powertools' `set_correlation_id` is `append_keys(correlation_id=)`).
        self.logger.append_keys(
            correlation_id=envelope.correlation_id,
            event_id=envelope.id,
            event_type=envelope.type,
            topic=envelope.topic,  # a str enum: logged as its value
            tenant_id=envelope.tenant_id,
        )

    def unbind(self) -> None:
        """Drop the per-event keys (once per batch: `bind` overwrites them per record)."""
        if self._bound:
            self.logger.remove_keys(["event_id", "event_type", "topic", "tenant_id"])
            self.logger.set_correlation_id(None)
            self._bound = False

    def late_reply(self, reply: EventEnvelope) -> None:
        """A reply (or a timeout) to a request already answered: logged, counted
        (`EventsLateReply`), never passed to the result handler (`soorma.deadlines`)."""
        self.logger.warning(
            "late reply: its request was already answered or timed out; not delivered",
            extra={"request_id": reply.causation_id, "reply_source": reply.source},
        )
        self.count("late_reply", reply.type)

    def begin_batch(self) -> None:
        """Read, once per batch, whether metrics are emitted (counting is skipped otherwise)."""
        self.counting = not metrics_disabled()

    def count(self, outcome: str, event_type: str) -> None:
        """Count one event with `outcome` (handled, failed, dead_lettered, published)."""
        if self.counting:
            self._counts[(outcome, event_type)] += 1

    def flush(self) -> None:
        """Emit the batch's counters: totals per outcome, and per outcome and event type."""
        if not self._counts or metrics_disabled():
            self._counts.clear()
            return
        from aws_lambda_powertools import Metrics
        from aws_lambda_powertools.metrics import MetricUnit, single_metric

        if self._metrics is None:
            self._metrics = Metrics(namespace=NAMESPACE, service=self.agent)
        totals: Counter[str] = Counter()
        for (outcome, _), n in self._counts.items():
            totals[outcome] += n
        for outcome, n in totals.items():
            self._metrics.add_metric(name=_metric_name(outcome), unit=MetricUnit.Count, value=n)
        self._metrics.flush_metrics()
        for (outcome, event_type), n in self._counts.items():
            with single_metric(
                name=_metric_name(outcome) + "ByType",
                unit=MetricUnit.Count,
                value=n,
                namespace=NAMESPACE,
                default_dimensions={"service": self.agent, "event_type": event_type},
            ):
                pass
        self._counts.clear()


def _metric_name(outcome: str) -> str:
    return "Events" + "".join(part.capitalize() for part in outcome.split("_"))
