"""Every name of the platform: event types, and each AWS resource name and CDK logical id.

Event types are checked here once, for the envelope's `type` and `responseevent`, for
subscriptions (`on_event`) and for event definitions. Resource names come from (stage, agent,
topic); the CDK stack and the local cloud both call these functions, so the two can never
disagree on a name. Limits honoured: EventBridge `DetailType` <= 128 characters, SQS queue names
<= 80, EventBridge rule names <= 64, Lambda function names <= 64, DynamoDB table names <= 255.
"""

from __future__ import annotations

import re

from soorma_common.errors import InvalidEventTypeError
from soorma_common.topics import EventTopic

#: EventBridge's limit on `DetailType`, which carries the event type.
MAX_EVENT_TYPE_LENGTH = 128
#: An event type: ASCII letters, digits, `.`, `_` and `-`, starting with a letter or digit, at
#: most 128 characters (`order.placed`, `com.example.object.deleted.v2`). The same text is
#: used as a pydantic (Rust regex) pattern and as a Python regex: ASCII only, so both agree.
EVENT_TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
EVENT_TYPE = re.compile(EVENT_TYPE_PATTERN[1:-1])
#: The subscription pattern that matches every event type of a topic.
WILDCARD = "*"
AGENT_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,35}$")
STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,9}$")
SOURCE_PREFIX = "soorma."
#: Agent names the platform keeps: `soorma.platform` is the source of the replies the platform
#: itself sends (e.g. request timeouts), `soorma.front-door` of the events the HTTP API puts,
#: `stall-sweep` the function that reports stalled workflows: no agent may take these names.
RESERVED_AGENT_NAMES = frozenset({"platform", "front-door", "stall-sweep"})
#: The `system-events` notice an agent publishes when it refuses an event past the hop limit
#: (every agent may put it, whatever its `events_produced`).
LOOP_DETECTED_EVENT = "agent.loop_detected"

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
    if name in RESERVED_AGENT_NAMES:
        raise ValueError(
            f"agent name {name!r} is reserved for the platform (its events carry the source "
            f"{SOURCE_PREFIX}{name}): choose another name"
        )
    return name


def check_event_type(event_type: str) -> str:
    """Return `event_type` if it is a valid event type, else raise `InvalidEventTypeError`.

    Valid: 1-128 characters (EventBridge's `DetailType` limit) of ASCII letters, digits, `.`,
    `_` and `-`, starting with a letter or digit: `domain.action`, e.g. `order.placed`.
    """
    if type(event_type) is str and EVENT_TYPE.fullmatch(event_type):
        return event_type
    if not isinstance(event_type, str):
        problem = f"it is a {type(event_type).__name__}, not a string"
    elif not event_type:
        problem = "it is empty"
    elif len(event_type) > MAX_EVENT_TYPE_LENGTH:
        problem = (
            f"it has {len(event_type)} characters, over the {MAX_EVENT_TYPE_LENGTH} that "
            "EventBridge allows in DetailType"
        )
    elif not (event_type[0].isascii() and event_type[0].isalnum()):
        problem = f"it starts with {event_type[0]!r}, not a letter or digit"
    else:
        bad = sorted({c for c in event_type if not (c.isascii() and (c.isalnum() or c in "._-"))})
        space = "white space " if any(c.isspace() for c in bad) else ""
        problem = f"it contains {space}" + ", ".join(repr(c) for c in bad)
    shown = repr(event_type) if len(repr(event_type)) <= 80 else repr(event_type)[:77] + "..."
    raise InvalidEventTypeError(
        f"invalid event type {shown}: {problem}. Name events `domain.action` (e.g. "
        f"order.placed): 1-{MAX_EVENT_TYPE_LENGTH} ASCII letters, digits, '.', '_' and '-', "
        "starting with a letter or digit"
    )


def check_event_pattern(pattern: str) -> str:
    """Return a subscription pattern if valid, else raise `InvalidEventTypeError`.

    A pattern is an exact event type, `"*"` (every type of the topic) or a prefix ending with
    `".*"` (`"research.*"`: every type starting with `research.`).
    """
    if pattern == WILDCARD:
        return pattern
    if type(pattern) is str and pattern.endswith(".*"):
        prefix = pattern[:-2]
        if EVENT_TYPE.fullmatch(prefix + ".x") is None:
            raise InvalidEventTypeError(
                f"invalid subscription pattern {pattern[:80]!r}: its prefix {prefix[:80]!r} must "
                f"start event types: 1-{MAX_EVENT_TYPE_LENGTH - 2} ASCII letters, digits, '.', "
                "'_' and '-', starting with a letter or digit ('research.*')"
            )
        return pattern
    if type(pattern) is str and "*" in pattern:
        raise InvalidEventTypeError(
            f"invalid subscription pattern {pattern[:80]!r}: '*' may stand alone (every type of "
            "the topic) or end a prefix after a '.' ('research.*')"
        )
    return check_event_type(pattern)


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


def pending_request_key(agent: str, request_id: str) -> str:
    """The idempotency-table key (`id`) of the pending request `request_id` of `agent` (`"*"` as
    `request_id` gives the IAM `LeadingKeys` pattern of all of them)."""
    return f"{agent}#request#{request_id}"


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


def platform_function_name(stage: str, name: str) -> str:
    """The Lambda function of a platform function under a reserved name (`front-door`)."""
    if name not in RESERVED_AGENT_NAMES:
        raise ValueError(f"{name!r} is not a reserved platform name; use function_name")
    return f"soorma-{check_stage(stage)}-{name}"


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


#: How many rules one (agent, topic) may be split into when its patterns outgrow EventBridge's
#: pattern size (`soorma_common.routing`); numbered parts keep rule names within 64 characters.
MAX_RULE_PARTS = 99


def rule_name(agent: str, topic: EventTopic | str, *, replies: bool = False, part: int = 1) -> str:
    """The rule (on the stage's bus) that routes `topic` events to the agent's queue.

    `replies=True` names the rule that routes replies addressed to the agent (`detail.replyto`).
    `part` numbers the further rules of one (agent, topic) when `rules_for` splits them (by
    pattern size, or by source condition): part 1 is `<agent>-<topic>[-replies]`, part n > 1 is
    `<agent>-<topic>-<n>` (replies: `<agent>-<topic>-r<n>`); at most 64 characters.
    """
    topic = EventTopic.parse(topic)
    if not 1 <= part <= MAX_RULE_PARTS:
        raise ValueError(
            f"rule part {part} of {agent!r} on {topic.value} is out of range 1-{MAX_RULE_PARTS}: "
            "split the agent's subscriptions over several agents"
        )
    name = f"{check_agent_name(agent)}-{topic.value}"
    if part == 1:
        return f"{name}-replies" if replies else name
    return f"{name}-r{part}" if replies else f"{name}-{part}"


def queue_name_from_arn(arn: str) -> str:
    """The queue name at the end of an SQS ARN (`arn:aws:sqs:region:account:name`)."""
    return arn.rsplit(":", 1)[-1]


def logical_id(*parts: str) -> str:
    """A CloudFormation logical id from name parts: `("order-processor", "action-requests")` ->
    `OrderProcessorActionRequests`."""
    words = re.split(r"[^A-Za-z0-9]+", "-".join(parts))
    return "".join(w[:1].upper() + w[1:] for w in words if w)


#: The source of the replies the platform itself sends (request timeouts).
PLATFORM_SOURCE = f"{SOURCE_PREFIX}platform"
#: Every request deadline's schedule is named so (`soorma.deadlines.schedule_name`).
DEADLINE_SCHEDULE_PREFIX = "soorma-timeout-"


def schedule_group(stage: str) -> str:
    """The EventBridge Scheduler group of a stage's request deadlines."""
    return f"soorma-{check_stage(stage)}"


def deadline_role_name(stage: str) -> str:
    """The role EventBridge Scheduler assumes to put a stage's timeout replies on its bus."""
    return f"soorma-{check_stage(stage)}-deadlines"


#: The platform function that reports stalled workflows (`functions/stall_sweep`).
STALL_SWEEP = "stall-sweep"
#: What it publishes on `system-events`, once per stall of an open plan.
WORKFLOW_STALLED_EVENT = "workflow.stalled"


def stall_sweep_schedule_name(stage: str) -> str:
    """The rate schedule (in the stage's group) that invokes the stall sweep."""
    return f"soorma-{check_stage(stage)}-stall-sweep"


def stall_sweep_rate(every_minutes: int) -> str:
    """The stall sweep schedule's expression (`rate(1 minute)`, `rate(5 minutes)`)."""
    return f"rate({every_minutes} minute{'' if every_minutes == 1 else 's'})"
