"""The lean runtime at its edges: the one-write claim mode (`Agent(..., claims="one-write")`) and
the fast local cloud (`LocalCloud(fast=True)`: SQLite bus, queues and claims), probed where they
meet concurrency, nondeterminism, DynamoDB's item limit, the claim TTL, rewritten claim items,
mode switches, poison records, a locked or deleted store, and the faithful mode (moto) they
must match.

Records travel as real payloads: `PutEvents -> rule -> SQS -> lambda_handler` on moto
(`MotoHarness`), and the same through the fast store's routing and queues with the real
`LambdaRuntime` on `FastTransport`. Claim items are rewritten with plain DynamoDB calls, as
another writer would. A test marked `xfail(strict=True)` asserts the correct behaviour of a
defect it found (its reason says which)."""

from __future__ import annotations

import base64
import json
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from soorma import Agent, clients
from soorma.agent_spec import CLAIM_FIRST, ONE_WRITE
from soorma.config import Settings
from soorma.outbox import MAX_STORED_OUTBOX_BYTES
from soorma.publishing import MAX_PUT_EVENTS_REQUEST_BYTES
from soorma.runtime import LambdaRuntime
from soorma.runtime.claims import ClaimStore, claim_key
from soorma_common import EventEnvelope, EventTopic, naming
from soorma_common.errors import DomainError
from soorma_dev.harness import LambdaContextStub, MotoHarness, record_put_events
from soorma_dev.localcloud.dead_letters import DeadLetterQueues
from soorma_dev.localcloud.fast.store import FastStore, create_store
from soorma_dev.localcloud.fast.transport import FastTransport
from soorma_dev.localcloud.lambda_context import LocalLambdaContext
from soorma_dev.localcloud.limits import request_too_large
from soorma_dev.provision import create_table
from soorma_dev.sqs_events import lambda_event, queue_region
from tests.integration.test_localcloud_fast_store import STAGE, platform_for
from tests.integration.test_memory_concurrency import serialize_item_writes

FACTS = EventTopic.BUSINESS_FACTS
HOUR = 3600
DAY = 24 * HOUR
SHOP = "soorma.shop"


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    with mock_aws():
        yield


# ---- helpers ------------------------------------------------------------------------------------


def scorer(
    mode: str,
    runs: list[str],
    *,
    copy: str = "",
    pad: int = 0,
    events: int = 1,
    barrier: threading.Barrier | None = None,
) -> Agent:
    """A scorer whose every run is different (a random score, the copy's name): a stand-in for
    an LLM call. `events` may be a number or -1 (a random number of events, 0 to 3); with a
    `barrier`, each run waits there after publishing (before its events are stored)."""
    agent = Agent("scorer", claims=mode, events_produced=["order.scored"])

    @agent.on_event("order.placed", topic=FACTS)
    def score(event: Any, context: Any) -> None:
        runs.append(copy or event.id)
        count = random.randint(0, 3) if events < 0 else events
        for _ in range(count):
            context.bus.announce(
                "order.scored",
                {"copy": copy, "run": len(runs), "score": random.random(), "pad": "x" * pad},
            )
        if barrier is not None:
            barrier.wait(30)

    return agent


def order(n: int = 1, **data: Any) -> EventEnvelope:
    return EventEnvelope(
        source=SHOP, type="order.placed", topic=FACTS, data={"order": f"o-{n}", **data}
    )


def claim_id(harness: MotoHarness, key: str) -> str:
    return ClaimStore(harness.platform.tables["idempotency"], expires_after_seconds=1).item_id(key)


def seed_claim(harness: MotoHarness, key: str, **attributes: dict[str, Any]) -> None:
    """Write a claim item as another writer would."""
    harness.session.client("dynamodb").put_item(
        TableName=harness.platform.tables["idempotency"],
        Item={"id": {"S": claim_id(harness, key)}, **attributes},
    )


def future(seconds: int = HOUR) -> dict[str, str]:
    return {"N": str(int(time.time()) + seconds)}


def b64(wire: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(wire).encode()).decode()


def scorer_entries(put: Any) -> list[dict[str, Any]]:
    return [e for call in put.calls for e in call if e["Source"] == "soorma.scorer"]


def only_handling(harness: MotoHarness, agent: str) -> Any:
    [handling] = harness.handlings(agent)
    return handling


# ---- one-write: concurrent copies, nondeterministic handlers ------------------------------------


@pytest.mark.parametrize("round_", range(3))
def test_one_write_four_concurrent_copies_of_a_nondeterministic_handler_put_one_run(
    round_: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    serialize_item_writes(monkeypatch)  # DynamoDB orders the writes to one item; moto does not
    runs: list[str] = []
    names = ["a", "b", "c", "d"]
    barrier = threading.Barrier(len(names))
    # every copy has run its handler before any stores its events
    copies = {n: scorer(ONE_WRITE, runs, copy=n, events=-1, barrier=barrier) for n in names}
    harness = MotoHarness([copies["a"]])
    placed = order(round_)
    for _ in names:
        harness.put(placed)  # at-least-once delivery: the same envelope four times
    messages = harness.receive("scorer", FACTS)
    assert len(messages) == len(names)
    _, arn, _ = harness.queue("scorer", FACTS)
    results: dict[str, Any] = {}

    def invoke(name: str, message: dict[str, Any]) -> None:
        event = lambda_event([message], arn, queue_region(arn))
        results[name] = copies[name].lambda_handler(event, LambdaContextStub("soorma-scorer"))

    threads = [
        threading.Thread(target=invoke, args=pair) for pair in zip(names, messages, strict=True)
    ]
    with record_put_events() as put:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

    assert sorted(runs) == names  # every copy ran: the one-write trade
    assert results == {n: {"batchItemFailures": []} for n in names}
    [record] = harness.idempotency_records()
    stored = [base64.b64decode(s).decode() for s in json.loads(record["data"]["S"])]
    entries = scorer_entries(put)
    # exactly the stored run reaches the bus, each copy re-sending its very bytes; no copy's own
    # run leaks beside it
    assert {e["Detail"] for e in entries} == set(stored)
    assert len({json.loads(d)["data"]["copy"] for d in stored}) <= 1
    assert len(entries) == len(stored) * len(names)


def test_one_write_a_first_run_publishing_nothing_keeps_later_runs_events_off_the_bus() -> None:
    runs: list[str] = []
    quiet = scorer(ONE_WRITE, runs, events=0)
    harness = MotoHarness([quiet])
    harness.put(order())
    [message] = harness.receive("scorer", FACTS)
    with record_put_events() as first:
        assert harness.deliver("scorer", FACTS, [message]).failed_ids == []
    harness.send_raw("scorer", FACTS, message["Body"])  # SQS delivers it again
    harness.replace_agent(scorer(ONE_WRITE, runs, events=2))  # a run that would publish
    with record_put_events() as again:
        assert harness.deliver("scorer", FACTS).failed_ids == []

    assert len(runs) == 2
    assert scorer_entries(first) == scorer_entries(again) == []
    [record] = harness.idempotency_records()
    assert record["data"] == {"S": "[]"} and record["status"] == {"S": "COMPLETED"}


# ---- one-write: stored events at DynamoDB's 400 KB item limit -----------------------------------

#: Two events of this pad take ≈ 404,970 bytes as stored: within the publish budget
#: (`MAX_STORED_OUTBOX_BYTES`, 408,576) and DynamoDB's 409,600-byte item, over moto's 405,000.
WITHIN_BUDGET_PAD = 151_500
#: Two events of this pad are over the budget as stored (≈ 408,970 bytes).
OVER_BUDGET_PAD = 153_000


def fast_world(tmp_path: Path, *agents: Agent) -> FastWorld:
    return FastWorld(tmp_path, list(agents))


def test_one_write_an_outbox_within_the_budget_is_stored_in_both_local_modes(
    tmp_path: Path,
) -> None:
    fast_runs: list[str] = []
    fast = fast_world(tmp_path, scorer(ONE_WRITE, fast_runs, pad=WITHIN_BUDGET_PAD, events=2))
    fast.put(order())
    fast.run_until_idle()
    [stored] = fast.store.database.read("SELECT result FROM claims")
    assert len(stored[0]) <= MAX_STORED_OUTBOX_BYTES  # within the documented budget
    assert fast.dead_letters() == [] and len(fast_runs) == 1  # the fast mode stores it

    runs: list[str] = []
    harness = MotoHarness([scorer(ONE_WRITE, runs, pad=WITHIN_BUDGET_PAD, events=2)])
    harness.put(order())
    with record_put_events() as put:
        harness.deliver("scorer", FACTS)
    assert only_handling(harness, "scorer").outcome == "handled", harness.dead_letters()
    assert len(scorer_entries(put)) == 2


@pytest.mark.parametrize("mode", [CLAIM_FIRST, ONE_WRITE])
def test_events_over_the_stored_budget_are_dead_lettered_at_once_naming_the_limit(
    mode: str,
) -> None:
    runs: list[str] = []
    harness = MotoHarness([scorer(mode, runs, pad=OVER_BUDGET_PAD, events=2)])
    harness.put(order())
    with record_put_events() as put:
        harness.run_until_idle()

    assert len(runs) == 1  # permanent: never retried
    assert scorer_entries(put) == []
    assert harness.idempotency_records() == []  # nothing stored, nothing left in progress
    [letter] = harness.dead_letters("scorer")
    assert letter.reason is not None and "OutboxNotStorableError" in letter.reason
    assert str(MAX_STORED_OUTBOX_BYTES) in letter.reason


# ---- one-write: the claim TTL -------------------------------------------------------------------


def aged_body(body: str, days: int) -> str:
    """An SQS body whose EventBridge event was put `days` ago (a producer's own `Time`)."""
    event = json.loads(body)
    event["time"] = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(event)


def test_one_write_an_old_event_redriven_from_the_dlq_is_refused_before_its_handler_runs() -> None:
    broken = {"on": True}
    runs: list[str] = []
    agent = Agent("scorer", claims=ONE_WRITE, events_produced=["order.scored"])

    @agent.on_event("order.placed", topic=FACTS)
    def score(event: Any, context: Any) -> None:
        runs.append(event.id)
        context.bus.announce("order.scored", {"run": len(runs)})
        if broken["on"]:
            raise DomainError("a bug refuses every order")

    harness = MotoHarness([agent])
    harness.put(order())
    [message] = harness.receive("scorer", FACTS)
    url, _, _ = harness.queue("scorer", FACTS)
    harness.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    harness.send_raw("scorer", FACTS, aged_body(message["Body"], days=30))  # past the 18-day TTL
    harness.run_until_idle()
    assert len(runs) == 1 and len(harness.dead_letters("scorer")) == 1

    broken["on"] = False  # the fix is deployed; the dead letter is redriven
    assert harness.redrive("scorer") == 1
    with record_put_events() as put:
        harness.run_until_idle()

    assert len(runs) == 1  # the TTL check ran before the handler, even in the one-write mode
    assert scorer_entries(put) == []
    [letter] = harness.dead_letters("scorer")
    assert letter.reason is not None and "ClaimExpiredError" in letter.reason
    assert harness.idempotency_records() == []


def test_one_write_an_old_event_not_marked_redriven_is_handled_once_with_its_claim() -> None:
    runs: list[str] = []
    harness = MotoHarness([scorer(ONE_WRITE, runs)])
    harness.put(order())
    [message] = harness.receive("scorer", FACTS)
    url, _, _ = harness.queue("scorer", FACTS)
    harness.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    old = aged_body(message["Body"], days=30)
    harness.send_raw("scorer", FACTS, old)
    harness.send_raw("scorer", FACTS, old)  # and a duplicate of it
    with record_put_events() as put:
        harness.run_until_idle()

    assert len(runs) == 1  # claimed first (old): the duplicate found the completed claim
    assert len({e["Detail"] for e in scorer_entries(put)}) == 1
    [record] = harness.idempotency_records()
    assert record["status"] == {"S": "COMPLETED"}


# ---- one-write: claim items rewritten by someone else -------------------------------------------


def stored_wire(**overrides: Any) -> dict[str, Any]:
    wire = EventEnvelope(
        source="soorma.scorer", type="order.scored", topic=FACTS, data={"forged": True}
    ).to_wire()
    wire.update(overrides)
    return wire


REWRITES = [
    pytest.param(
        {"status": {"S": "COMPLETED"}, "data": {"L": [{"S": b64(stored_wire())}]}},
        id="data-a-dynamodb-list",
    ),
    pytest.param(
        {"status": {"S": "COMPLETED"}, "data": {"S": json.dumps([{}])}},
        id="data-an-empty-object",
    ),
    pytest.param(
        {
            "status": {"S": "COMPLETED"},
            "data": {
                "S": json.dumps(
                    [b64({"id": "x", "source": "soorma.scorer", "type": "order.scored"})]
                )
            },
        },
        id="data-not-an-envelope",
    ),
    pytest.param(
        {
            "status": {"S": "COMPLETED"},
            "data": {"S": json.dumps([b64(stored_wire(data={"pad": "z" * 290_000}))])},
        },
        id="data-over-eventbridge-entry-limit",
    ),
]


@pytest.mark.parametrize("rewritten", REWRITES)
def test_one_write_a_rewritten_claim_item_is_dead_lettered_naming_the_claim(
    rewritten: dict[str, dict[str, Any]],
) -> None:
    runs: list[str] = []
    harness = MotoHarness([scorer(ONE_WRITE, runs)])
    placed = order()
    harness.put(placed)
    key = claim_key("scorer", placed.source, placed.id)
    seed_claim(harness, key, expires_at=future(), **rewritten)
    with record_put_events() as put:
        harness.deliver("scorer", FACTS)

    oversized = [e for e in scorer_entries(put) if len(e["Detail"]) > MAX_PUT_EVENTS_REQUEST_BYTES]
    assert oversized == []  # an entry AWS refuses is never put
    assert scorer_entries(put) == []  # nothing of the rewrite, nothing of this run
    handling = only_handling(harness, "scorer")
    assert handling.outcome == "dead-lettered", handling.reason
    [letter] = harness.dead_letters("scorer")
    assert letter.reason is not None and "UnreadableClaimError" in letter.reason
    assert repr(key) in letter.reason


@pytest.mark.parametrize("mode", [CLAIM_FIRST, ONE_WRITE])
def test_a_claim_whose_ttl_is_a_fractional_number_is_never_a_crash_into_retries(
    mode: str,
) -> None:
    runs: list[str] = []
    harness = MotoHarness([scorer(mode, runs)])
    placed = order()
    harness.put(placed)
    seed_claim(
        harness,
        claim_key("scorer", placed.source, placed.id),
        status={"S": "COMPLETED"},
        expires_at={"N": f"{time.time() + HOUR:.3f}"},  # a valid TTL value (epoch seconds)
        data={"S": "[]"},
    )
    with record_put_events() as put:
        harness.deliver("scorer", FACTS)

    assert scorer_entries(put) == []
    handling = only_handling(harness, "scorer")
    assert handling.outcome in ("handled", "dead-lettered"), handling.reason


def test_one_write_a_claim_of_another_agent_s_events_is_never_re_put() -> None:
    runs: list[str] = []
    harness = MotoHarness([scorer(ONE_WRITE, runs)])
    placed = order()
    harness.put(placed)
    key = claim_key("scorer", placed.source, placed.id)
    forged = stored_wire(source="soorma.payments", type="payment.refunded")
    seed_claim(
        harness,
        key,
        expires_at=future(),
        status={"S": "COMPLETED"},
        data={"S": json.dumps([b64(forged)])},
    )
    with record_put_events() as put:
        harness.deliver("scorer", FACTS)

    assert [e for call in put.calls for e in call] == []
    assert runs == [placed.id]  # one-write ran the handler; its events were dropped too
    [letter] = harness.dead_letters("scorer")
    assert letter.reason is not None and "UnreadableClaimError" in letter.reason


# ---- one-write and claim-first on one table: a mode switch --------------------------------------


def test_switching_modes_either_way_keeps_the_first_outcome_on_one_table() -> None:
    runs: list[str] = []
    harness = MotoHarness([scorer(ONE_WRITE, runs, copy="one-write")])
    first, second = order(1), order(2)
    harness.put(first)
    with record_put_events() as before:
        harness.run_until_idle()
    # the agent is redeployed claim-first: the first event is delivered again, a second is new
    harness.replace_agent(scorer(CLAIM_FIRST, runs, copy="claim-first"))
    harness.put(first, second)
    with record_put_events() as switched:
        harness.run_until_idle()
    # and back to one-write: both events are delivered again
    harness.replace_agent(scorer(ONE_WRITE, runs, copy="one-write-again"))
    harness.put(first, second)
    with record_put_events() as back:
        harness.run_until_idle()

    assert runs.count("one-write") == 1 and runs.count("claim-first") == 1
    assert runs.count("one-write-again") == 2  # one-write runs first, then finds the claims
    by_copy = Counter(json.loads(e["Detail"])["data"]["copy"] for e in scorer_entries(back))
    assert by_copy == {"one-write": 1, "claim-first": 1}  # each event's first outcome
    details = {e["Detail"] for e in scorer_entries(switched)}
    assert details == {e["Detail"] for e in scorer_entries(back)}  # the very bytes each time
    assert {e["Detail"] for e in scorer_entries(before)} < details
    assert len(harness.idempotency_records()) == 2
    assert harness.dead_letters() == []


# ---- the fast local cloud, driven in this process -----------------------------------------------


class FastWorld:
    """A fast store routing between agents, each with the real runtime on `FastTransport`;
    `deliver` and `run_until_idle` do what `MotoHarness`'s do (failed records visible again at
    once, the move to the DLQ on the receive after the 5th)."""

    def __init__(self, tmp_path: Path, agents: list[Agent]) -> None:
        self.platform = platform_for(*agents)
        self.store = create_store(
            tmp_path / "fast.sqlite3",
            self.platform,
            [a.manifest() for a in agents],
            visibility_timeout_seconds=30,
            event_log_agent=None,
        )
        self.conf = Settings.from_env(
            {
                "SOORMA_STAGE": STAGE,
                "SOORMA_IDEMPOTENCY_TABLE": naming.table_name(STAGE, "idempotency"),
                "SOORMA_PUBLISH_BACKOFF_SECONDS": "0",
            }
        )
        self.agents = {a.name: a for a in agents}
        self.outcomes: list[tuple[str, str, str | None]] = []
        self.entries: list[dict[str, Any]] = []
        self._record(self.store)
        for agent in agents:
            agent.use_runtime(self.runtime(agent))

    def _record(self, store: FastStore) -> None:
        """Keep every PutEvents entry routed through `store` in `entries`."""
        route = store.eventbridge.put_events

        def recorded(*, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            response = route(Entries=Entries)
            self.entries.extend(Entries)
            return response

        store.eventbridge.put_events = recorded  # type: ignore[method-assign]

    def runtime(self, agent: Agent, store: FastStore | None = None) -> LambdaRuntime:
        """`agent`'s runtime on this world's store, or on another opening of its file."""
        if store is not None:
            self._record(store)
        return LambdaRuntime(
            agent,
            transport=FastTransport(store or self.store, self.conf),
            conf=self.conf,
            on_outcome=lambda o, name=agent.name: self.outcomes.append((name, o.outcome, o.reason)),
        )

    def put(self, *envelopes: EventEnvelope) -> None:
        self.store.eventbridge.put_entries(
            [
                {
                    "Source": e.source,
                    "DetailType": e.type,
                    "Detail": e.to_json(),
                    "EventBusName": naming.bus_name(STAGE),
                }
                for e in envelopes
            ]
        )

    def send_raw(self, agent: str, topic: EventTopic, body: str) -> None:
        url, _, _ = self.platform.agents[agent].queues[topic]
        self.store.sqs.send_message(QueueUrl=url, MessageBody=body)

    def deliver(self, agent: str, topic: EventTopic) -> int:
        url, arn, _ = self.platform.agents[agent].queues[topic]
        messages = self.store.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return 0
        event = lambda_event(messages, arn, queue_region(arn))
        try:
            response = self.agents[agent].lambda_handler(
                event, LocalLambdaContext(f"soorma-{agent}", 30.0)
            )
            failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        except Exception:  # an invocation that raises fails its batch
            failed = {m["MessageId"] for m in messages}
        again = [m for m in messages if m["MessageId"] in failed]
        done = [m for m in messages if m["MessageId"] not in failed]
        if again:
            self.store.sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(again)
                ],
            )
        if done:
            self.store.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        return len(messages)

    def run_until_idle(self, max_rounds: int = 100) -> None:
        for _ in range(max_rounds):
            busy = False
            for name, queues in self.platform.agents.items():
                for topic in queues.queues:
                    busy = self.deliver(name, topic) > 0 or busy
            if not busy:
                return
        raise TimeoutError(f"the fast queues are still busy after {max_rounds} rounds")

    def dead_letters(self, agent: str | None = None) -> list[Any]:
        return DeadLetterQueues(self.platform, self.store.sqs, None).scan(agent)

    def messages(self, agent: str, topic: EventTopic) -> list[dict[str, Any]]:
        url, _, _ = self.platform.agents[agent].queues[topic]
        rows = self.store.database.read("SELECT body FROM messages WHERE queue = ?", (url,))
        return [json.loads(body)["detail"] for (body,) in rows]


def shop_world(flaky: dict[str, int]) -> tuple[list[Agent], list[str]]:
    """A scorer (one-write) and an auditor (claim-first) on every order, and a ledger
    (claim-first) of what they publish. Orders say how to fail: `flaky` twice then succeed,
    `broken` always (transient), `refused` a domain error (permanent)."""
    heard: list[str] = []
    scorer_agent = Agent("scorer", claims=ONE_WRITE, events_produced=["order.scored"])
    auditor = Agent("auditor", events_produced=["order.audited"])
    ledger = Agent("ledger")

    @scorer_agent.on_event("order.placed", topic=FACTS)
    def score(event: Any, context: Any) -> None:
        kind = event.data.get("kind")
        context.bus.announce("order.scored", {"order": event.data["order"]})
        if kind == "flaky":
            flaky[event.id] = flaky.get(event.id, 0) + 1
            if flaky[event.id] <= 2:
                raise RuntimeError("the model timed out")
        if kind == "broken":
            raise RuntimeError("the model is down")
        if kind == "refused":
            raise DomainError("this order cannot be scored")

    @auditor.on_event("order.placed", topic=FACTS)
    def audit(event: Any, context: Any) -> None:
        context.bus.announce("order.audited", {"order": event.data["order"]})

    @ledger.on_event("order.scored", topic=FACTS)
    @ledger.on_event("order.audited", topic=FACTS)
    def keep(event: Any, context: Any) -> None:
        heard.append(event.id)

    return [scorer_agent, auditor, ledger], heard


def letters_of(letters: list[Any]) -> set[tuple[str, str, str | None, str]]:
    """What a dead letter is, mode aside: agent, kind, event id, the error's type."""
    return {
        (
            letter.agent,
            letter.kind,
            letter.envelope.id if letter.envelope else None,
            (letter.reason or "").split(":", 1)[0] if letter.kind == "permanent-error" else "",
        )
        for letter in letters
    }


def test_fast_and_faithful_modes_keep_the_same_dead_letters_and_events_under_poison(
    tmp_path: Path,
) -> None:
    orders = [
        order(1),
        order(2, kind="flaky"),
        order(3, kind="broken"),
        order(4, kind="refused"),
        order(5),
    ]
    poison = '{"version": "0", "detail": "not an envelope"'

    fast_flaky: dict[str, int] = {}
    agents, fast_heard = shop_world(fast_flaky)
    fast = FastWorld(tmp_path, agents)
    fast.put(*orders)
    fast.send_raw("scorer", FACTS, poison)
    fast.run_until_idle()

    moto_flaky: dict[str, int] = {}
    agents, moto_heard = shop_world(moto_flaky)
    harness = MotoHarness(agents)
    harness.put(*orders)
    harness.send_raw("scorer", FACTS, poison)
    with record_put_events() as put:
        harness.run_until_idle()

    faithful = letters_of(harness.dead_letters())
    assert letters_of(fast.dead_letters()) == faithful
    assert faithful == {
        ("scorer", "redrive-after-max-receives", orders[2].id, ""),
        ("scorer", "permanent-error", orders[3].id, "DomainError"),
        ("scorer", "permanent-error", None, "MalformedRecordError"),
    }
    assert fast_flaky == moto_flaky == {orders[1].id: 3}
    # the same events, with the same ids and bytes, reached the ledger once each
    assert sorted(fast_heard) == sorted(moto_heard)
    assert len(fast_heard) == len(set(fast_heard)) == 5 + 3  # audited: 5, scored: 1, 2, 5
    agent_entries = [e for e in put.calls for e in e if e["Source"] != SHOP]
    fast_entries = [e for e in fast.entries if e["Source"] != SHOP]

    def what(entries: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        wires = [json.loads(e["Detail"]) for e in entries]  # `time` is each run's own
        return {(w["id"], w["type"], json.dumps(w["data"], sort_keys=True)) for w in wires}

    assert what(fast_entries) == what(agent_entries)


def test_fast_an_event_near_the_entry_limit_travels_routes_and_is_claimed(tmp_path: Path) -> None:
    runs: list[str] = []
    big = scorer(CLAIM_FIRST, runs, pad=261_000)
    listener = Agent("listener")

    @listener.on_event("order.scored", topic=FACTS)
    def heard(event: Any, context: Any) -> None:
        runs.append("heard")

    fast = FastWorld(tmp_path, [big, listener])
    fast.put(order())
    fast.run_until_idle()

    assert runs[1:] == ["heard"] and fast.dead_letters() == []
    [entry] = [e for e in fast.entries if e["Source"] == "soorma.scorer"]
    assert (
        MAX_PUT_EVENTS_REQUEST_BYTES - 2_000 < len(entry["Detail"]) < MAX_PUT_EVENTS_REQUEST_BYTES
    )


def order_listener() -> Agent:
    """An agent subscribed to `order.placed` that does nothing: a queue to route to."""
    listener = Agent("listener")

    @listener.on_event("order.placed", topic=FACTS)
    def heard(event: Any, context: Any) -> None:  # pragma: no cover - routing only
        pass

    return listener


def test_fast_a_put_events_request_over_256_kb_is_refused_as_in_the_faithful_mode(
    tmp_path: Path,
) -> None:
    listener = order_listener()
    fast = FastWorld(tmp_path, [listener])
    entries = [
        {
            "Source": SHOP,
            "DetailType": "order.placed",
            "Detail": order(n, pad="x" * 100_000).to_json(),
            "EventBusName": naming.bus_name(STAGE),
        }
        for n in range(3)
    ]
    assert request_too_large(json.dumps({"Entries": entries}).encode()) is not None  # faithful

    refused = False
    try:
        response = fast.store.eventbridge.put_events(Entries=entries)
        refused = response["FailedEntryCount"] == len(entries)
    except Exception:
        refused = True
    assert refused
    assert fast.messages("listener", FACTS) == []


def test_fast_a_receive_with_visibility_zero_returns_each_message_once_as_moto_does(
    tmp_path: Path,
) -> None:
    listener = order_listener()
    sqs = boto3.client("sqs", region_name="us-east-1")
    moto_dlq = sqs.create_queue(QueueName="peeked-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=moto_dlq, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
    moto_url = sqs.create_queue(
        QueueName="peeked", Attributes={"VisibilityTimeout": "30", "RedrivePolicy": redrive}
    )["QueueUrl"]
    sqs.send_message(QueueUrl=moto_url, MessageBody="{}")
    faithful = sqs.receive_message(QueueUrl=moto_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert len(faithful["Messages"]) == 1
    assert (
        sqs.get_queue_attributes(QueueUrl=moto_dlq, AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "0"
    )

    fast = FastWorld(tmp_path, [listener])
    fast.put(order())
    url, _, dlq = fast.platform.agents["listener"].queues[FACTS]
    peeked = fast.store.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    assert fast.store.sqs.depths([dlq])[dlq] == 0  # not dead-lettered by a peek
    assert len(peeked["Messages"]) == len({m["MessageId"] for m in peeked["Messages"]}) == 1


def locked(database_path: Path) -> tuple[sqlite3.Connection, Callable[[], None]]:
    """Another process's write lock on the fast store (a `BEGIN IMMEDIATE` held open)."""
    other = sqlite3.connect(database_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    def release() -> None:
        other.execute("ROLLBACK")
        other.close()

    return other, release


@pytest.mark.parametrize("mode", [CLAIM_FIRST, ONE_WRITE])
def test_fast_a_store_locked_past_the_busy_timeout_retries_and_conserves_every_event(
    tmp_path: Path, mode: str
) -> None:
    runs: list[str] = []
    listener = Agent("listener")

    heard_ids: list[str] = []

    @listener.on_event("order.scored", topic=FACTS)
    def heard(event: Any, context: Any) -> None:
        heard_ids.append(event.id)

    fast = FastWorld(tmp_path, [scorer(mode, runs, events=2), listener])
    fast.put(order(1), order(2))
    impatient = FastStore(fast.store.path)  # the worker's store, with a short busy timeout
    impatient.database.busy_timeout_seconds = 0.2
    runtime = fast.runtime(fast.agents["scorer"], impatient)
    fast.agents["scorer"].use_runtime(runtime)
    put = runtime.transport.put_entries
    lock_next_put = {"on": True}

    def put_while_locked(entries: Any) -> Any:
        if not lock_next_put["on"]:
            return put(entries)
        lock_next_put["on"] = False
        _, release = locked(fast.store.path)  # another process writes while we flush
        try:
            return put(entries)
        finally:
            release()

    runtime.transport.put_entries = put_while_locked  # type: ignore[method-assign]
    assert fast.deliver("scorer", FACTS) == 2
    assert ("scorer", "failed") in {(a, o) for a, o, _ in fast.outcomes}
    assert fast.messages("listener", FACTS) == []  # nothing routed by the failed flush
    fast.run_until_idle()

    assert len(runs) == (2 if mode == CLAIM_FIRST else 4)
    # the retry put each stored event once: nothing of the failed flush was routed
    details = Counter(e["Detail"] for e in fast.entries if e["Source"] == "soorma.scorer")
    assert len(details) == 4 and set(details.values()) == {1}
    assert len(heard_ids) == len(set(heard_ids)) == 4  # each event handled once downstream
    assert fast.dead_letters() == []


def test_fast_a_claim_write_refused_by_a_lock_is_transient_and_nothing_is_routed(
    tmp_path: Path,
) -> None:
    runs: list[str] = []
    listener = Agent("listener")

    @listener.on_event("order.scored", topic=FACTS)
    def heard(event: Any, context: Any) -> None:  # pragma: no cover - routing only
        pass

    fast = FastWorld(tmp_path, [scorer(ONE_WRITE, runs), listener])
    fast.put(order())
    impatient = FastStore(fast.store.path)
    impatient.database.busy_timeout_seconds = 0.2
    fast.agents["scorer"].use_runtime(fast.runtime(fast.agents["scorer"], impatient))
    url, arn, _ = fast.platform.agents["scorer"].queues[FACTS]
    [message] = fast.store.sqs.receive_message(QueueUrl=url)["Messages"]
    _, release = locked(fast.store.path)
    try:
        response = fast.agents["scorer"].lambda_handler(
            lambda_event([message], arn, queue_region(arn)), LocalLambdaContext("soorma-scorer", 30)
        )
    finally:
        release()

    assert response == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert fast.store.database.read("SELECT key FROM claims") == []
    assert fast.messages("listener", FACTS) == []


CLAIMING_WORKER = """
import json, sys, time
from soorma_common.errors import ClaimInProgressError
from soorma_dev.localcloud.fast.store import FastStore
store = FastStore(sys.argv[1])
keeper = store.claims(expires_after_seconds=3600)
name, keys = sys.argv[2], int(sys.argv[3])

def retried(call):  # a claim another worker holds is transient: SQS would deliver it again
    while True:
        try:
            return call()
        except ClaimInProgressError:
            time.sleep(0.005)

out = {}
for n in range(keys):
    key = f"scorer#e-{n}"
    if n % 2:
        first = retried(lambda: keeper.keep_first(key, [f"{name}-{n}"]))
        out[key] = [f"{name}-{n}"] if first is None else first
    else:
        out[key] = retried(lambda: keeper.run_once(key, lambda: [f"{name}-{n}"]))
print(json.dumps(out))
"""


def test_fast_claims_from_concurrent_worker_processes_keep_one_outcome_per_key(
    tmp_path: Path,
) -> None:
    fast = FastWorld(tmp_path, [scorer(ONE_WRITE, [])])
    keys = 300
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMING_WORKER, str(fast.store.path), name, str(keys)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        for name in ("w1", "w2", "w3")
    ]
    outcomes = []
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0
        outcomes.append(json.loads(out))

    rows = dict(
        fast.store.database.read("SELECT key, result FROM claims WHERE status = 'COMPLETED'")
    )
    assert len(rows) == keys
    for key, stored in rows.items():
        # every worker got the stored outcome: its own, or the first one's
        assert all(outcome[key] == json.loads(stored) for outcome in outcomes), key


def test_fast_a_deleted_store_is_reported_by_name_not_recreated_empty(tmp_path: Path) -> None:
    fast = FastWorld(tmp_path, [scorer(ONE_WRITE, [])])
    path = fast.store.path
    fast.store.database.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url, _, _ = fast.platform.agents["scorer"].queues[FACTS]

    reopened = FastStore(path)  # a worker restarted, or `soorma send` in another terminal
    with pytest.raises(Exception) as gone:
        reopened.sqs.send_message(QueueUrl=url, MessageBody="{}")

    assert str(path) in str(gone.value)
    assert not path.exists()  # no empty database left where the cloud's was


def test_fast_and_faithful_keepers_refuse_the_same_over_budget_outbox(tmp_path: Path) -> None:
    clients.reset()
    fast = FastWorld(tmp_path, [scorer(ONE_WRITE, [])])
    keeper = fast.store.claims(expires_after_seconds=HOUR)
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_table(client, "claims", "idempotency")
    store = ClaimStore("claims", expires_after_seconds=HOUR, dynamodb_client=client)
    too_big = ["A" * (MAX_STORED_OUTBOX_BYTES + 2_000)]
    outcomes = []
    for claims in (keeper, store):
        try:
            claims.keep_first("scorer#e-1", too_big)
            outcomes.append("stored")
        except Exception as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes == ["OutboxNotStorableError", "OutboxNotStorableError"]
