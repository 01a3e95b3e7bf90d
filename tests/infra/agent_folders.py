"""Small agent folders (`<root>/<folder>/handler.py`) written by the infra tests."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

ORDER_PROCESSOR = """
from soorma import Worker
from soorma_common import EventTopic

worker = Worker(
    name="order-processor",
    description="Reserves stock for placed orders",
    capabilities=["order-processing"],
    events_produced=["inventory.reserve", "order.checked"],
)


@worker.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)
async def on_order_placed(event, context):
    await context.bus.publish(
        topic=EventTopic.ACTION_REQUESTS, event_type="inventory.reserve", data=event.data
    )


@worker.on_event("order.*", topic=EventTopic.BUSINESS_FACTS)
def on_any_order(event, context):
    return None


@worker.on_task("order.check")
def check(event, context):
    return {"ok": True}


@worker.on_result()
def on_reply(event, context):
    return None
{extra}

handler = worker.lambda_handler
"""

#: Appended to ORDER_PROCESSOR to model a manifest change (one new topic, one new type).
NEW_SUBSCRIPTIONS = """

@worker.on_event("payment.received", topic=EventTopic.BUSINESS_FACTS)
def on_payment(event, context):
    return None


@worker.on_event("customer.notified", topic=EventTopic.NOTIFICATION_EVENTS)
def on_notified(event, context):
    return None
"""

EVENT_LOG = """
from soorma.agent_spec import HandlerSpec
from soorma.agents import Agent
from soorma_common import EventTopic
from soorma_common.manifest import AgentKind, Subscription


class PlatformAgent(Agent):
    kind = AgentKind.PLATFORM


log = PlatformAgent(name="event-log", description="Every event, by correlation id",
                    events_produced=[])

for _topic in EventTopic:  # every event: replies and its own included (functions/event_log)
    log.handlers.append(HandlerSpec(
        Subscription(topic=_topic, event_type="*", include_replies=True, include_own_events=True),
        lambda event, context: None,
    ))

handler = log.lambda_handler
"""

NOT_AN_AGENT = '''
def handler(event, context):
    """A custom-resource function: no agent here."""
    return {"PhysicalResourceId": "registry-sync"}
'''

SMALL_AGENT = """
from soorma import Worker
from soorma_common import EventTopic

worker = Worker(name="{name}", events_produced=["{name}.done"])


@worker.on_task("{name}.do")
def do(event, context):
    return {{"done": True}}


@worker.on_event("{name}.*", topic=EventTopic.BUSINESS_FACTS)
def facts(event, context):
    return None


@worker.on_result()
def replies(event, context):
    return None


handler = worker.lambda_handler
"""


def write_function(root: Path, folder: str, source: str) -> Path:
    """Write `<root>/<folder>/handler.py` and return the folder."""
    path = root / folder
    path.mkdir(parents=True, exist_ok=True)
    (path / "handler.py").write_text(dedent(source))
    return path


def write_two_agents(root: Path, *, changed: bool = False) -> Path:
    """`order_processor` and `event_log` agents plus a `registry_sync` non-agent function."""
    write_function(
        root,
        "order_processor",
        ORDER_PROCESSOR.replace("{extra}", NEW_SUBSCRIPTIONS if changed else ""),
    )
    write_function(root, "event_log", EVENT_LOG)
    write_function(root, "registry_sync", NOT_AN_AGENT)
    return root


def write_many_agents(root: Path, count: int) -> Path:
    """`count` small agents (`agent-01`...), three rules and three queues each."""
    for n in range(1, count + 1):
        name = f"agent-{n:02d}"
        write_function(root, name.replace("-", "_"), SMALL_AGENT.format(name=name))
    return root
