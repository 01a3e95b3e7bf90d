"""A ticket router: an `EventSelector` asks the language model which registered desk event fits
each new ticket (billing, technical, escalation) and publishes it, with a payload checked against
the desk's schema first.

On AWS it calls the Bedrock model below (its function may invoke that one only); in this example
the model is `router_script.py`, chosen by the scenario's `SOORMA_LLM_PROVIDER`.
"""

from soorma import Worker
from soorma.ai import EventSelector
from soorma_common import EventTopic

router = Worker(name="router", capabilities=["triage"])
router.uses_models("anthropic.claude-3-haiku-20240307-v1:0")


@router.on_event("ticket.opened", topic=EventTopic.BUSINESS_FACTS)
def route(event, context) -> None:
    selector = EventSelector(
        context,
        topic=EventTopic.ACTION_REQUESTS,
        capabilities=["support"],
        instructions="Route each support ticket to the one desk that can resolve it.",
    )
    selector.publish(selector.select(event.data))


handler = router.lambda_handler
