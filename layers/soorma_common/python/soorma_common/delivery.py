"""Delivery settings shared by the CDK stack and the local cloud (ARCHITECTURE.md "Delivery path").

Both read these numbers from here, so that `cdk deploy` and `soorma dev` wire queues the same way.
"""

from __future__ import annotations

#: Records per Lambda invocation (SQS event-source mapping batch size).
BATCH_SIZE = 10
#: Receives of one message before SQS moves it to the queue's DLQ.
MAX_RECEIVE_COUNT = 5
#: How long a DLQ keeps a dead letter (the SQS maximum, 14 days).
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
#: Default agent function timeout.
DEFAULT_FUNCTION_TIMEOUT_SECONDS = 30
#: Queue visibility timeout = this factor x the function timeout (AWS's guidance for SQS -> Lambda).
VISIBILITY_TIMEOUT_FACTOR = 6
#: EventBridge rule target retry policy (then the rule's DLQ).
RULE_MAX_RETRY_ATTEMPTS = 185
RULE_MAX_EVENT_AGE_SECONDS = 24 * 3600
#: Attribute DynamoDB TTL deletes items by, on every table.
TTL_ATTRIBUTE = "expires_at"
#: CloudWatch namespace of the runtime's EMF metrics (alarms and dashboards read it too).
METRICS_NAMESPACE = "Soorma"


def visibility_timeout_for(function_timeout_seconds: int) -> int:
    """The queue visibility timeout for a function with this timeout."""
    return VISIBILITY_TIMEOUT_FACTOR * function_timeout_seconds
