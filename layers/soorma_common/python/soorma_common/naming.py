"""Every AWS resource name and CDK logical id, from (stage, agent, topic).

The CDK stack and the local cloud both call these functions, so the two can never disagree on a
name. Limits honoured: SQS queue names <= 80 characters, EventBridge rule names <= 64, Lambda
function names <= 64, DynamoDB table names <= 255.
"""

from __future__ import annotations

import re

from soorma_common.topics import EventTopic

AGENT_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,35}$")
STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,9}$")
SOURCE_PREFIX = "soorma."

#: The DynamoDB tables, by role. `idempotency` holds the exactly-once claims in Powertools' own
#: layout (partition key `id`), apart from the event log so that claims spread over partitions.
TABLE_ROLES = ("registry", "memory", "events", "idempotency")


def check_agent_name(name: str) -> str:
    """Return `name` if it is a valid agent name, else raise `ValueError` saying the rule."""
    if not AGENT_NAME_PATTERN.fullmatch(name) or name.endswith("-") or "--" in name:
        raise ValueError(
            f"invalid agent name {name!r}: use 1-36 lowercase letters, digits and single hyphens, "
            "starting with a letter (it becomes part of queue, rule and function names)"
        )
    return name


def check_stage(stage: str) -> str:
    """Return `stage` if valid (1-10 lowercase letters and digits), else raise `ValueError`."""
    if not STAGE_PATTERN.fullmatch(stage):
        raise ValueError(
            f"invalid stage {stage!r}: use 1-10 lowercase letters and digits, "
            "starting with a letter"
        )
    return stage


def event_source(agent: str) -> str:
    """The EventBridge `Source` (and envelope `source`) of events an agent publishes."""
    return f"{SOURCE_PREFIX}{agent}"


def agent_of_source(source: str) -> str | None:
    """The agent name inside a `soorma.<agent>` source, or None for other sources."""
    return source[len(SOURCE_PREFIX) :] if source.startswith(SOURCE_PREFIX) else None


def stack_name(stage: str) -> str:
    """The stage's CloudFormation stack (and its CloudWatch dashboard)."""
    return f"soorma-{check_stage(stage)}"


def bus_name(stage: str) -> str:
    """The stage's EventBridge bus."""
    return f"soorma-{check_stage(stage)}"


def archive_name(stage: str) -> str:
    """The stage's EventBridge archive (for replay)."""
    return f"soorma-{check_stage(stage)}-archive"


def table_name(stage: str, role: str) -> str:
    """A DynamoDB table of the stage: role is one of `TABLE_ROLES`."""
    if role not in TABLE_ROLES:
        raise ValueError(f"unknown table role {role!r}; expected one of {TABLE_ROLES}")
    return f"soorma-{check_stage(stage)}-{role}"


def function_name(stage: str, agent: str) -> str:
    """An agent's Lambda function."""
    return f"soorma-{check_stage(stage)}-{check_agent_name(agent)}"


def queue_name(stage: str, agent: str, topic: EventTopic | str) -> str:
    """The SQS queue that feeds `agent` the events of `topic` it subscribes to."""
    topic = EventTopic.parse(topic)
    return f"soorma-{check_stage(stage)}-{check_agent_name(agent)}-{topic.value}"


def dead_letter_queue_name(source_queue: str) -> str:
    """The DLQ of a queue made by `queue_name` (one DLQ per queue)."""
    return f"{source_queue}-dlq"


def source_queue_name(dead_letter_queue: str) -> str:
    """The queue a DLQ belongs to (inverse of `dead_letter_queue_name`)."""
    if not dead_letter_queue.endswith("-dlq"):
        raise ValueError(f"{dead_letter_queue!r} is not a Soorma dead-letter queue name")
    return dead_letter_queue[: -len("-dlq")]


def rule_name(agent: str, topic: EventTopic | str, *, replies: bool = False) -> str:
    """The rule (on the stage's bus) that routes `topic` events to the agent's queue.

    `replies=True` names the rule that routes replies addressed to the agent (`detail.replyto`).
    """
    topic = EventTopic.parse(topic)
    name = f"{check_agent_name(agent)}-{topic.value}"
    return f"{name}-replies" if replies else name


def queue_name_from_arn(arn: str) -> str:
    """The queue name at the end of an SQS ARN (`arn:aws:sqs:region:account:name`)."""
    return arn.rsplit(":", 1)[-1]


def logical_id(*parts: str) -> str:
    """A CloudFormation logical id from name parts: `("order-processor", "action-requests")` ->
    `OrderProcessorActionRequests`."""
    words = re.split(r"[^A-Za-z0-9]+", "-".join(parts))
    return "".join(w[:1].upper() + w[1:] for w in words if w)
