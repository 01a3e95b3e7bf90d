"""One event id from two sources is two events: CloudEvents makes `source` + `id` unique, not
`id` alone. Each gets its own claim and its handler runs for each; what it publishes for each
has ids of its own; a plan started by each is a plan of its own; and a producer reusing another
producer's event id (which IAM lets it put only under its own source) cannot pre-empt that
event. Records travel `PutEvents -> rule -> SQS -> lambda_handler` on moto, in both claim
modes."""

from __future__ import annotations

from typing import Any

import pytest

from soorma import Agent
from soorma.agent_spec import CLAIM_FIRST, ONE_WRITE
from soorma.bus import derived_event_id
from soorma.memory import PlanStatus
from soorma.runtime.claims import claim_key
from soorma.workflows import Action, PlanDefinition, State
from soorma_common import EventEnvelope, EventTopic
from soorma_dev.harness import MotoHarness, record_put_events
from tests.integration.test_claims_at_the_edges import claim_id, claim_item, stored_details
from tests.integration.test_workflows_at_the_edges import Job, rally

FACTS = EventTopic.BUSINESS_FACTS
REQUESTS = EventTopic.ACTION_REQUESTS
MODES = [CLAIM_FIRST, ONE_WRITE]
#: The id both producers chose for their event.
SHARED_ID = "order-1"


def scorer(mode: str, handled: list[tuple[str, str]]) -> Agent:
    """A scorer: per handling, (source, order) noted, and two events naming the order."""
    agent = Agent("scorer", claims=mode, events_produced=["order.scored", "order.noted"])

    @agent.on_event("order.placed", topic=FACTS)
    def score(event: Any, context: Any) -> None:
        handled.append((event.source, event.data["order"]))
        context.bus.announce("order.scored", {"order": event.data["order"]})
        context.bus.announce("order.noted", {"order": event.data["order"]})

    return agent


def audit(heard: list[str]) -> Agent:
    """A claim-first consumer of the scorer's events (its claims drop duplicates)."""
    agent = Agent("audit")

    @agent.on_event("*", topic=FACTS)
    def note(event: Any, context: Any) -> None:
        if event.source == "soorma.scorer":
            heard.append(event.id)

    return agent


def placed(source: str, order: str) -> EventEnvelope:
    """An `order.placed` from `source`, with the id both producers use."""
    return EventEnvelope(
        id=SHARED_ID, source=source, type="order.placed", topic=FACTS, data={"order": order}
    )


def scorer_events(put: Any) -> dict[str, str]:
    """The scorer's events put: id -> the order they name."""
    return {d["id"]: d["data"]["order"] for d in put.details() if d["source"] == "soorma.scorer"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("one_batch", [True, False], ids=["one-batch", "two-batches"])
def test_one_id_from_two_sources_gets_two_claims_and_distinct_derived_ids(
    soorma_moto: Any, mode: str, one_batch: bool
) -> None:
    handled: list[tuple[str, str]] = []
    heard: list[str] = []
    harness: MotoHarness = soorma_moto(scorer(mode, handled), audit(heard))
    acme, globex = placed("soorma.acme-shop", "a-1"), placed("soorma.globex-shop", "g-1")
    with record_put_events() as put:
        if one_batch:
            harness.put(acme, globex)
            assert harness.deliver("scorer", FACTS).failed_ids == []
        else:
            for envelope in (acme, globex):
                harness.put(envelope)
                assert harness.deliver("scorer", FACTS).failed_ids == []

    assert sorted(handled) == [("soorma.acme-shop", "a-1"), ("soorma.globex-shop", "g-1")]
    expected = {
        derived_event_id("scorer", envelope.source, SHARED_ID, n): envelope.data["order"]
        for envelope in (acme, globex)
        for n in (0, 1)
    }
    assert len(expected) == 4  # four ids, none shared between the two sources' events
    assert scorer_events(put) == expected
    for envelope in (acme, globex):  # each claim holds its own event's outbox
        item = claim_item(
            harness, claim_id(harness, claim_key("scorer", envelope.source, SHARED_ID))
        )
        assert item is not None and item["status"]["S"] == "COMPLETED"
        assert {d["data"]["order"] for d in stored_details(item)} == {envelope.data["order"]}
    harness.run_until_idle()
    assert sorted(heard) == sorted(expected)  # downstream, each event handled once
    assert harness.dead_letters() == []


@pytest.mark.parametrize("mode", MODES)
def test_a_producer_reusing_a_legitimate_event_s_id_does_not_suppress_it(
    soorma_moto: Any, mode: str
) -> None:
    """The intruder's event (under its own source, as IAM allows it) is handled first; the shop's
    event with the same id is still handled, and publishes its own events, not the intruder's."""
    handled: list[tuple[str, str]] = []
    harness: MotoHarness = soorma_moto(scorer(mode, handled))
    harness.put(placed("soorma.intruder", "fake"))
    assert harness.deliver("scorer", FACTS).failed_ids == []
    legitimate = placed("soorma.shop", "o-1")
    harness.put(legitimate)
    with record_put_events() as put:
        assert harness.deliver("scorer", FACTS).failed_ids == []

    assert handled == [("soorma.intruder", "fake"), ("soorma.shop", "o-1")]
    assert sorted(scorer_events(put).values()) == ["o-1", "o-1"]
    # and the legitimate event's own redelivery still finds its claim: its stored events are
    # put again (same ids), the handler not run again (claim-first; one-write runs it and
    # keeps the first run's events)
    harness.put(legitimate)
    with record_put_events() as again:
        assert harness.deliver("scorer", FACTS).failed_ids == []
    assert len(handled) == (2 if mode == CLAIM_FIRST else 3)
    assert scorer_events(again) == scorer_events(put)


# ---- plans and tasks ----------------------------------------------------------------------------


ONE_HIT = PlanDefinition(
    name="one-hit",
    initial="serve",
    states=[
        State("serve", actions=[Action("ball.hit", "ball.returned")], default_next="won"),
        State("won", terminal=PlanStatus.COMPLETED),
    ],
)


def shared_id_request(
    producer: str, requester: str, kind: str, data: Any, *, tenant: str = "club"
) -> EventEnvelope:
    """A `<kind>` request (rally.play or job.split) with the shared id, from `soorma.<producer>`,
    answered to `requester` with `<kind>.played` / `<kind>.done`, user ada of `tenant`."""
    verb, answer = ("play", "played") if kind == "rally" else ("split", "done")
    return EventEnvelope(
        id=SHARED_ID,
        source=f"soorma.{producer}",
        type=f"{kind}.{verb}",
        topic=REQUESTS,
        data=data,
        correlation_id=f"{kind}-{requester}",
        tenant_id=tenant,
        user_id="ada",
        response_event=f"{kind}.{answer}",
        reply_to=requester,
    )


def test_two_goals_with_one_id_from_two_sources_start_a_plan_each(soorma_moto: Any) -> None:
    """Same tenant and user: only the goal's source tells the two apart."""
    harness: MotoHarness = soorma_moto(*rally(ONE_HIT))
    for court in ("north", "south"):
        harness.put(shared_id_request(f"{court}-court", court, "rally", {"court": court}))
        harness.run_until_idle()

    started = [e for e in harness.published if e.type == "plan.started"]
    assert len({e.data["plan_id"] for e in started}) == 2
    answers = {e.reply_to: e.correlation_id for e in harness.published if e.type == "rally.played"}
    assert answers == {"north": "rally-north", "south": "rally-south"}
    assert harness.dead_letters() == []


def test_a_second_sources_request_with_one_id_in_one_tenant_is_refused_not_joined(
    soorma_moto: Any,
) -> None:
    """A worker's task is named by its request's id: a request from another source with that
    id, in the same tenant, would join the first's task and answer the first's requester. It
    is dead-lettered instead, naming both sources; the first requester gets one reply."""
    job = Job(parts=1)
    harness: MotoHarness = soorma_moto(*job.agents)
    for shop in ("acme", "globex"):
        harness.put(shared_id_request(f"{shop}-shop", shop, "job", {}, tenant="retail"))
        harness.run_until_idle()

    done = [e for e in harness.published if e.type == "job.done"]
    assert [(e.reply_to, e.correlation_id, e.data["count"]) for e in done] == [
        ("acme", "job-acme", 1)
    ]
    [refused] = [h for h in harness.handlings("gatherer") if h.outcome == "dead-lettered"]
    reason = refused.reason or ""
    assert "AlreadyExistsError" in reason
    assert "soorma.acme-shop" in reason and "soorma.globex-shop" in reason
