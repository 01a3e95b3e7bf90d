"""An in-memory EventBridge + SQS for fast unit tests of agents: no moto, no network.

`InMemoryBus` drives the same runtime code path as Lambda does (`LambdaRuntime`, through
`agent.lambda_handler`), giving each agent's runtime an `InMemoryTransport` (PutEvents into the
in-memory EventBridge, dead letters into its DLQs, claims in a dict) and an outcome observer.
Events put on the bus are matched against each agent's rules (`soorma_common.routing.rules_for`
+ `pattern_matches`) into one queue per (agent, topic), and delivered in batches of real
SQS-record / EventBridge-event shape (`soorma_dev.sqs_events`). Failed records
(`batchItemFailures`) come back until `maxReceiveCount`, then go to the DLQ; permanent errors go
to the DLQ at once (the runtime sends them). Everything is recorded.

```python
bus = InMemoryBus([greeter, requester])
bus.send("visitor.arrived", {"name": "Ada"}, topic="business-facts", tenant_id="acme")
bus.run_until_idle()
assert [h.event_type for h in bus.handlings("greeter")] == ["greeting.compose"]
```

The parts: `bus` (the bus: agents, delivery, dead letters, what happened), `eventbridge`
(PutEvents and rules), `queues` (SQS messages and queues), `transport` (the runtime's seam),
`claims` (exactly-once claims in a dict). What it returns (`Handling`, `TraceNode`, `DeadLetter`)
is defined once for every harness, in `soorma_dev.testing`.
"""

from soorma_dev.inmemory.bus import DEFAULT_ACCOUNT, DEFAULT_REGION, InMemoryBus
from soorma_dev.inmemory.claims import InMemoryClaimStore, InMemoryClaimTable
from soorma_dev.inmemory.eventbridge import InMemoryEventBridge, PutEventsValidationError
from soorma_dev.inmemory.transport import InMemoryTransport
from soorma_dev.testing.records import DeadLetter, Handling, TraceNode, walk

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_REGION",
    "DeadLetter",
    "Handling",
    "InMemoryBus",
    "InMemoryClaimStore",
    "InMemoryClaimTable",
    "InMemoryEventBridge",
    "InMemoryTransport",
    "PutEventsValidationError",
    "TraceNode",
    "walk",
]
