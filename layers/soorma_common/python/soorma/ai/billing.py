"""Token usage of each decision on `billing-events`, so a tenant's LLM spend can be summed, and
as CloudWatch metrics (EMF, `LlmInputTokens` / `LlmOutputTokens` by agent and model).

The two count different things on purpose: the billing event is published with the handler's
other events (exactly once per decision, whatever the redeliveries), while the metrics are
emitted when the model answers, so a record whose handler failed after calling the model still
shows the tokens it really spent."""

from __future__ import annotations

from typing import Any

from soorma.ai.providers import TokenUsage
from soorma.config import metrics_disabled
from soorma.context import PlatformContext
from soorma_common.delivery import METRICS_NAMESPACE
from soorma_common.topics import EventTopic

#: The event type of a decision's token usage on `billing-events`.
USAGE_EVENT = "llm.tokens_used"


def usage_data(
    *,
    agent: str,
    model_id: str,
    usage: TokenUsage,
    model_calls: int,
    tenant_id: str | None,
    plan_id: str | None = None,
) -> dict[str, Any]:
    """The billing record of one decision: model, tokens in and out, calls, plan, tenant."""
    return {
        "agent": agent,
        "model_id": model_id,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "model_calls": model_calls,
        "plan_id": plan_id,
        "tenant_id": tenant_id,
    }


def count_tokens(agent: str, model_id: str, usage: TokenUsage) -> None:
    """Emit a model call's tokens as EMF metrics (nothing while `POWERTOOLS_METRICS_DISABLED`)."""
    if metrics_disabled():
        return
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    dimensions = {"service": agent, "model_id": model_id}
    for name, value in (
        ("LlmInputTokens", usage.input_tokens),
        ("LlmOutputTokens", usage.output_tokens),
    ):
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=value,
            namespace=METRICS_NAMESPACE,
            default_dimensions=dimensions,
        ):
            pass


def publish_usage(
    context: PlatformContext,
    *,
    model_id: str,
    usage: TokenUsage,
    model_calls: int,
    plan_id: str | None = None,
) -> None:
    """Publish a decision's token usage on `billing-events` (buffered with the handler's other
    events: a redelivery re-sends it with the same id, never a second charge)."""
    data = usage_data(
        agent=context.agent.name,
        model_id=model_id,
        usage=usage,
        model_calls=model_calls,
        tenant_id=context.tenant_id,
        plan_id=plan_id,
    )
    attributes = {"plan_id": plan_id} if plan_id else {}
    context.bus.publish(EventTopic.BILLING_EVENTS, USAGE_EVENT, data, **attributes)
    count_tokens(context.agent.name, model_id, usage)
