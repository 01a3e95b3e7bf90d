"""The platform's event log (`functions/event_log`) at its edges, as AWS defines them and as a
careless or hostile producer reaches them (moto):

- sizes: an envelope at EventBridge's 256 KB entry limit against DynamoDB's 400 KB item limit,
  and a small detail that grows past it when the log re-serialises it (number text, nesting);
- keys: DynamoDB's 2,048-byte partition key and 1,024-byte sort key, exactly at and just past
  them; ids and correlation ids sharing prefixes and holding `#`;
- BatchWriteItem: 25 requests per call, no duplicate keys in one call, UnprocessedItems;
- time: events without `time` (EventBridge's, whole seconds) next to the SDK's microseconds;
- bad records among good ones (forged source, wrong detail-type, invalid envelope);
- reading back: 1,000 events of one workflow over several Query pages, a tenant's view of a
  workflow shared with another tenant, erasing a tenant of many events page by page;
- a property: any valid envelope written through the handler reads back as its wire form.

Small batches travel a real `PutEvents -> rule -> SQS -> lambda_handler` (`MotoHarness`); bulk
ones (hundreds of records) are built by `lambda_batch` in the shape Lambda's SQS mapping passes
(`soorma_dev.sqs_events`), whose bodies are EventBridge events as AWS documents them, because
moto's PutEvents and ReceiveMessage slow down by the second at that count. A DynamoDB client
wrapper (`UnprocessedWrites`) answers BatchWriteItem the way a throttled table does.

The suite found 5 defects, all fixed: an item over 400 KB, data nested past the serialiser's
depth and a key over DynamoDB's limits each failed the whole batch (now dead-lettered alone);
an event on a whole second sorted after the rest of its second (the sort key's time is now fixed
width, and the reader orders the items written before); a tenant with `#` could not be erased.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from soorma import clients
from soorma.dynamodb_items import ITEM_LIMIT_BYTES
from soorma.event_log import (
    MAX_PARTITION_KEY_BYTES,
    MAX_SORT_KEY_BYTES,
    logged_envelopes,
    logged_items,
)
from soorma.memory import EventLogEraser, MemoryTable
from soorma_common.envelope import EventEnvelope
from soorma_common.topics import EventTopic
from soorma_dev.harness import Delivery, LambdaContextStub, MotoHarness
from soorma_dev.localcloud.trace import build_tree
from soorma_dev.manifests import load_agent
from soorma_dev.sqs_events import lambda_event, queue_region
from tests.integration.test_claims_at_the_edges import dynamodb_item_size

EVENT_LOG = Path(__file__).resolve().parents[2] / "functions" / "event_log"
AGENT = "event-log"
FACTS = EventTopic.BUSINESS_FACTS

#: EventBridge's PutEvents entry limit (Source, DetailType, Detail, Resources in UTF-8).
EVENTBRIDGE_MAX_ENTRY_BYTES = 256 * 1024
#: BatchWriteItem's limits per call.
MAX_BATCH_WRITE_REQUESTS = 25
MAX_BATCH_WRITE_BYTES = 16 * 1024 * 1024

#: A raw producer's Detail copied from docs/wire-format.md (its `time` is on a whole second).
GOLDEN_DETAIL = (
    '{"specversion":"1.0","id":"0b8f4a52-5c4e-4a8e-9a57-6f2d1c3b7e10","source":"shop.orders-api",'
    '"type":"order.placed","time":"2026-01-15T09:30:00Z","datacontenttype":"application/json",'
    '"topic":"business-facts","correlationid":"c-2026-01-15-0001","tenantid":"acme",'
    '"userid":"u-42","data":{"order_id":"o-1001","total":42.5}}'
)


@pytest.fixture
def harness() -> Iterator[MotoHarness]:
    """The event log alone on moto: its 8 queues, DLQs, rules and the events table."""
    with mock_aws(), MotoHarness([load_agent(EVENT_LOG)], stage="test") as harness:
        yield harness


# ---- helpers ------------------------------------------------------------------------------------


def envelope(**attributes: Any) -> EventEnvelope:
    """A business fact from `soorma.tests` (attributes override the defaults)."""
    return EventEnvelope(
        **{"source": "soorma.tests", "type": "order.placed", "topic": FACTS, **attributes}
    )


def put_raw(
    harness: MotoHarness, detail: str, *, source: str | None = None, detail_type: str | None = None
) -> None:
    """One PutEvents entry as a producer outside the SDK writes it: `Detail` is the text given,
    `Source` and `DetailType` are the detail's own unless overridden."""
    wire = json.loads(detail)
    response = harness.events.put_events(
        Entries=[
            {
                "EventBusName": harness.platform.bus_name,
                "Source": source or wire["source"],
                "DetailType": detail_type or wire["type"],
                "Detail": detail,
            }
        ]
    )
    assert response["FailedEntryCount"] == 0, response


def put_envelope(harness: MotoHarness, event: EventEnvelope) -> None:
    """Put one envelope with a raw PutEvents (no SDK size check), its wire JSON as `Detail`."""
    put_raw(harness, event.to_json())


def receive_all(harness: MotoHarness, topic: EventTopic = FACTS) -> list[dict[str, Any]]:
    """Every message now visible on the event log's queue for `topic` (received, not deleted)."""
    messages: list[dict[str, Any]] = []
    while batch := harness.receive(AGENT, topic):
        messages += batch
    return messages


def message_of(messages: list[dict[str, Any]], event_id: str) -> dict[str, Any]:
    """The received message whose envelope has id `event_id`."""
    [found] = [m for m in messages if detail_id(m["Body"]) == event_id]
    return found


def detail_id(body: str) -> Any:
    """The envelope id inside an SQS body written by EventBridge (None when there is none)."""
    detail = json.loads(body).get("detail")
    return detail.get("id") if isinstance(detail, dict) else None


def eventbridge_body(
    detail: dict[str, Any], *, source: str | None = None, time: str = "2025-01-01T00:00:00Z"
) -> str:
    """An SQS body as an EventBridge rule target receives it (the event shape in AWS's
    EventBridge documentation), `detail` being the envelope on the wire."""
    return json.dumps(
        {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail.get("type"),
            "source": source or detail.get("source"),
            "account": "123456789012",
            "time": time,
            "region": "us-east-1",
            "resources": [],
            "detail": detail,
        }
    )


def lambda_batch(
    harness: MotoHarness, bodies: list[str], topic: EventTopic = FACTS
) -> dict[str, Any]:
    """The Lambda event for SQS messages with these bodies on the event log's `topic` queue."""
    _, arn, _ = harness.queue(AGENT, topic)
    messages = [
        {
            "MessageId": str(uuid.uuid4()),
            "ReceiptHandle": str(uuid.uuid4()),
            "Body": body,
            "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1735689600000"},
        }
        for body in bodies
    ]
    return lambda_event(messages, arn, queue_region(arn))


def invoke(harness: MotoHarness, event: dict[str, Any]) -> list[str]:
    """Call the event log's Lambda handler with `event`; the message ids it reports failed."""
    response = harness.agents[AGENT].lambda_handler(event, LambdaContextStub("soorma-test-log"))
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def write_all(harness: MotoHarness, events: list[EventEnvelope], batch: int = 10) -> None:
    """Log `events` through the handler, `batch` records per invocation (as the mapping
    delivers them), and check that none was reported failed."""
    for start in range(0, len(events), batch):
        bodies = [eventbridge_body(e.to_wire()) for e in events[start : start + batch]]
        assert invoke(harness, lambda_batch(harness, bodies)) == []


def items(harness: MotoHarness) -> list[dict[str, Any]]:
    """Every item of the events table (raw attribute values), over all Scan pages."""
    dynamodb = harness.session.client("dynamodb")
    pages = dynamodb.get_paginator("scan").paginate(TableName=harness.platform.tables["events"])
    return [item for page in pages for item in page.get("Items", [])]


def stored_ids(harness: MotoHarness) -> set[str]:
    """The envelope ids of every item of the events table."""
    return {item["event_id"]["S"] for item in items(harness)}


def read_back(
    harness: MotoHarness, correlation_id: str, tenant_id: str | None = None
) -> list[EventEnvelope]:
    """What `trace` and the front door read: the logged envelopes of one workflow."""
    dynamodb = harness.session.client("dynamodb")
    table = harness.platform.tables["events"]
    return logged_envelopes(dynamodb, table, correlation_id, tenant_id=tenant_id)


def request_key(request: dict[str, Any]) -> tuple[str, str]:
    """The (pk, sk) a BatchWriteItem put or delete request names."""
    if "PutRequest" in request:
        key = request["PutRequest"]["Item"]
    else:
        key = request["DeleteRequest"]["Key"]
    return key["pk"]["S"], key["sk"]["S"]


class UnprocessedWrites:
    """A DynamoDB client that answers BatchWriteItem as a throttled table does: the requests
    `refuse` picks come back as `UnprocessedItems`, unwritten; the others go to moto. Every
    request it was given is recorded in `calls`; any other call passes through."""

    def __init__(self, client: Any, refuse: Callable[[dict[str, Any]], bool]) -> None:
        self._client = client
        self._refuse = refuse
        self.calls: list[dict[str, list[dict[str, Any]]]] = []

    def batch_write_item(self, RequestItems: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Write what is not refused; return the refused requests as UnprocessedItems."""
        self.calls.append(RequestItems)
        done: dict[str, list[Any]] = {}
        left: dict[str, list[Any]] = {}
        for table, requests in RequestItems.items():
            for request in requests:
                (left if self._refuse(request) else done).setdefault(table, []).append(request)
        if done:
            self._client.batch_write_item(RequestItems=done, **kwargs)
        return {"UnprocessedItems": left}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def check_limits(self) -> None:
        """Every call stayed within BatchWriteItem's limits: at most 25 requests, at most
        16 MB, no key twice."""
        for call in self.calls:
            requests = [r for table_requests in call.values() for r in table_requests]
            assert 1 <= len(requests) <= MAX_BATCH_WRITE_REQUESTS
            assert len({request_key(r) for r in requests}) == len(requests)
            size = sum(
                dynamodb_item_size(r["PutRequest"]["Item"]) for r in requests if "PutRequest" in r
            )
            assert size <= MAX_BATCH_WRITE_BYTES


def first_offer_refused() -> Callable[[dict[str, Any]], bool]:
    """A `refuse` that turns down every key the first time it is offered, then accepts it."""
    seen: set[tuple[str, str]] = set()

    def refuse(request: dict[str, Any]) -> bool:
        key = request_key(request)
        first = key not in seen
        seen.add(key)
        return first

    return refuse


def assert_fails_alone(
    harness: MotoHarness, delivery: Delivery, good: EventEnvelope, bad_message: dict[str, Any]
) -> None:
    """The good event of the batch was stored and not reported failed; the bad record is in
    the DLQ as a permanent error, not retried."""
    good_message = message_of(delivery_messages(delivery), good.id)
    assert good_message["MessageId"] not in delivery.failed_ids
    assert good.id in stored_ids(harness)
    assert bad_message["MessageId"] not in delivery.failed_ids
    [letter] = harness.dead_letters(AGENT)
    assert letter.kind == "permanent-error"


def delivery_messages(delivery: Delivery) -> list[dict[str, Any]]:
    """The delivered records as received messages (`MessageId`, `Body`)."""
    return [{"MessageId": r["messageId"], "Body": r["body"]} for r in delivery.event["Records"]]


# ---- sizes ------------------------------------------------------------------------------------


def test_an_envelope_at_eventbridges_entry_limit_fits_one_dynamodb_item(
    harness: MotoHarness,
) -> None:
    # Three-byte characters: the detail is 256 KB of UTF-8 but a third as many characters, and
    # moto's SQS body escapes each as \uXXXX (6 bytes): every layer counts in its own unit.
    base = envelope(tenant_id="acme", user_id="ada", data={"note": ""})
    room = EVENTBRIDGE_MAX_ENTRY_BYTES - len(base.source) - len(base.type) - len(base.to_json())
    big = envelope(tenant_id="acme", user_id="ada", data={"note": "€" * (room // 3)})
    entry_bytes = len(big.source) + len(big.type) + len(big.to_json().encode())
    assert EVENTBRIDGE_MAX_ENTRY_BYTES - 3 < entry_bytes <= EVENTBRIDGE_MAX_ENTRY_BYTES

    put_envelope(harness, big)
    delivery = harness.deliver(AGENT, FACTS)

    assert delivery.failed_ids == []
    [item] = items(harness)
    assert dynamodb_item_size(item) <= ITEM_LIMIT_BYTES
    assert item["envelope"]["S"] == big.to_json()
    [back] = read_back(harness, big.correlation_id)
    assert back.to_wire() == big.to_wire()


def _numbers_rewritten() -> str:
    """150 KB of numbers written `9e15`, which the log writes back as `9000000000000000.0`."""
    numbers = ",".join(["9e15"] * 30_000)
    return (
        '{"specversion":"1.0","id":"grows","source":"soorma.tests","type":"order.placed",'
        f'"topic":"business-facts","data":[{numbers}]}}'
    )


def _ids_copied_beside_the_envelope() -> str:
    """A 240 KB envelope whose tenant and causation ids (unbounded CloudEvents Strings) hold
    most of it: the item stores each twice, in the envelope and as its own attribute."""
    return envelope(id="grows", tenant_id="t" * 120_000, causation_id="c" * 120_000).to_json()


def logged_bytes(event: EventEnvelope) -> int:
    """What the log's item holds at least: the envelope's JSON and the ids copied beside it."""
    copies = (event.causation_id, event.tenant_id, event.user_id)
    return len(event.to_json().encode()) + sum(len(c.encode()) for c in copies if c)


@pytest.mark.parametrize(
    "detail_of", [_numbers_rewritten, _ids_copied_beside_the_envelope], ids=["9e15", "copies"]
)
def test_an_entry_that_grows_past_the_item_limit_fails_alone(
    harness: MotoHarness, detail_of: Callable[[], str]
) -> None:
    good = envelope()
    put_envelope(harness, good)
    detail = detail_of()
    assert len(detail.encode()) < EVENTBRIDGE_MAX_ENTRY_BYTES - 1024
    assert logged_bytes(EventEnvelope.from_json(detail)) > ITEM_LIMIT_BYTES
    put_raw(harness, detail)
    messages = receive_all(harness)

    delivery = harness.deliver(AGENT, FACTS, messages)

    assert_fails_alone(harness, delivery, good, message_of(messages, "grows"))


def test_data_nested_past_the_serialisers_depth_fails_alone(harness: MotoHarness) -> None:
    good = envelope()
    put_envelope(harness, good)
    deep = "[" * 300 + "]" * 300
    detail = (
        '{"specversion":"1.0","id":"deep","source":"soorma.tests","type":"order.placed",'
        f'"topic":"business-facts","data":{deep}}}'
    )
    assert EventEnvelope.from_json(detail).id == "deep"  # the contract accepts it
    put_raw(harness, detail)
    messages = receive_all(harness)

    delivery = harness.deliver(AGENT, FACTS, messages)

    assert_fails_alone(harness, delivery, good, message_of(messages, "deep"))


# ---- keys -------------------------------------------------------------------------------------

#: A time with microseconds, so that the sort key's length is known: `EVENT#<27 chars>#<id>`.
FIXED_TIME = datetime(2025, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
SORT_KEY_OVERHEAD = len("EVENT#2025-01-01T12:00:00.123456Z#")
PARTITION_KEY_OVERHEAD = len("CORR#")


def test_keys_exactly_at_dynamodbs_limits_are_stored_and_read_back(harness: MotoHarness) -> None:
    # Two-byte characters: DynamoDB counts key bytes, not characters.
    correlation = "ä" * ((MAX_PARTITION_KEY_BYTES - PARTITION_KEY_OVERHEAD - 1) // 2) + "c"
    event_id = "é" * ((MAX_SORT_KEY_BYTES - SORT_KEY_OVERHEAD) // 2)
    event = envelope(id=event_id, correlation_id=correlation, time=FIXED_TIME)
    put_envelope(harness, event)

    delivery = harness.deliver(AGENT, FACTS)

    assert delivery.failed_ids == []
    [item] = items(harness)
    assert len(item["pk"]["S"].encode()) == MAX_PARTITION_KEY_BYTES
    assert len(item["sk"]["S"].encode()) == MAX_SORT_KEY_BYTES
    assert [e.id for e in read_back(harness, correlation)] == [event_id]


@pytest.mark.parametrize(
    "too_long",
    [{"id": "i" * 1000}, {"correlation_id": "€" * 700}],
    ids=["event-id-over-the-sort-key-limit", "correlation-id-over-the-partition-key-limit"],
)
def test_a_key_past_dynamodbs_limits_fails_alone(
    harness: MotoHarness, too_long: dict[str, str]
) -> None:
    good = envelope()
    bad = envelope(**too_long)
    if "correlation_id" in too_long:
        assert len(f"CORR#{bad.correlation_id}".encode()) > MAX_PARTITION_KEY_BYTES
    else:
        assert len(f"EVENT#{bad.to_wire()['time']}#{bad.id}".encode()) > MAX_SORT_KEY_BYTES
    put_envelope(harness, good)
    put_envelope(harness, bad)
    messages = receive_all(harness)

    delivery = harness.deliver(AGENT, FACTS, messages)

    assert_fails_alone(harness, delivery, good, message_of(messages, bad.id))


def test_ids_and_correlation_ids_sharing_prefixes_and_hashes_stay_apart(
    harness: MotoHarness,
) -> None:
    same_time = datetime(2025, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)
    ids = ["a", "a#", "a#b", "a#b#c", "a#2025-01-01T00:00:00.500000Z#a"]
    events = [envelope(id=i, correlation_id="w", time=same_time) for i in ids]
    neighbours = [
        envelope(id="a", correlation_id="w#x", time=same_time),
        envelope(id="a", correlation_id="w#", time=same_time),
        envelope(id="b", correlation_id="W", time=same_time),
    ]
    for event in events + neighbours:
        put_envelope(harness, event)

    delivery = harness.deliver(AGENT, FACTS, receive_all(harness))

    assert delivery.failed_ids == []
    assert len(items(harness)) == len(events) + len(neighbours)
    assert sorted(e.id for e in read_back(harness, "w")) == sorted(ids)
    assert [(e.id, e.correlation_id) for e in read_back(harness, "w#x")] == [("a", "w#x")]
    assert [(e.id, e.correlation_id) for e in read_back(harness, "w#")] == [("a", "w#")]


# ---- BatchWriteItem ---------------------------------------------------------------------------


def test_the_same_event_twice_in_one_batch_is_one_request_and_one_item(
    harness: MotoHarness,
) -> None:
    # DynamoDB refuses a BatchWriteItem naming a key twice ("Provided list of item keys contains
    # duplicates"): a producer's retried PutEvents and SQS's at-least-once both bring it about.
    twice = envelope()
    other = envelope()
    put_envelope(harness, twice)
    put_envelope(harness, twice)
    put_envelope(harness, other)
    messages = receive_all(harness)
    assert len(messages) == 3
    messages.append(dict(messages[0]))  # the same SQS message delivered again in the batch
    writes = UnprocessedWrites(clients.client("dynamodb"), lambda request: False)
    clients.use("dynamodb", writes)

    delivery = harness.deliver(AGENT, FACTS, messages)

    assert delivery.failed_ids == []
    assert sorted(i["event_id"]["S"] for i in items(harness)) == sorted([twice.id, other.id])
    assert len(writes.calls) == 1
    writes.check_limits()


def test_unprocessed_items_are_retried_until_written_in_calls_of_at_most_25(
    harness: MotoHarness,
) -> None:
    events = [envelope(correlation_id="wide") for _ in range(60)]
    writes = UnprocessedWrites(clients.client("dynamodb"), first_offer_refused())
    clients.use("dynamodb", writes)

    failed = invoke(harness, lambda_batch(harness, [eventbridge_body(e.to_wire()) for e in events]))

    assert failed == []
    assert stored_ids(harness) == {e.id for e in events}
    writes.check_limits()
    assert len(writes.calls) == 6  # 25 + 25 + 10, each offered twice
    offered = [request_key(r) for call in writes.calls for rs in call.values() for r in rs]
    assert len(offered) == 2 * len(events)


def test_an_item_dynamodb_keeps_refusing_is_reported_failed_and_nothing_else(
    harness: MotoHarness,
) -> None:
    stuck = envelope(id="stuck")
    others = [envelope() for _ in range(9)]
    for event in [*others[:4], stuck, *others[4:]]:
        put_envelope(harness, event)
    messages = receive_all(harness)
    writes = UnprocessedWrites(
        clients.client("dynamodb"), lambda request: request_key(request)[1].endswith("#stuck")
    )
    clients.use("dynamodb", writes)

    delivery = harness.deliver(AGENT, FACTS, messages)

    assert delivery.failed_ids == [message_of(messages, "stuck")["MessageId"]]
    assert stored_ids(harness) == {e.id for e in others}
    assert len(writes.calls) == 3  # the batch, then two retries of the refused item alone
    writes.check_limits()
    clients.use("dynamodb", writes._client)  # the table recovers: the redelivery is stored
    again = harness.deliver(AGENT, FACTS)
    assert again.failed_ids == []
    assert stored_ids(harness) == {e.id for e in [stuck, *others]}


# ---- time -------------------------------------------------------------------------------------


def test_an_event_without_time_is_keyed_by_eventbridges_time_and_redelivered_in_place(
    harness: MotoHarness,
) -> None:
    wire = envelope().to_wire()
    del wire["time"]
    put_raw(harness, json.dumps(wire))
    messages = receive_all(harness)
    eventbridge_time = json.loads(messages[0]["Body"])["time"]

    first = harness.deliver(AGENT, FACTS, messages)
    again = harness.deliver(AGENT, FACTS, messages)

    assert first.failed_ids == again.failed_ids == []
    [item] = items(harness)
    whole_second = eventbridge_time.removesuffix("Z") + ".000000Z"  # the sort key's fixed width
    assert item["sk"]["S"] == f"EVENT#{whole_second}#{wire['id']}"
    [back] = read_back(harness, wire["correlationid"])
    assert back.time == datetime.fromisoformat(eventbridge_time.replace("Z", "+00:00"))


def test_an_event_on_a_whole_second_is_read_back_before_the_rest_of_its_second(
    harness: MotoHarness,
) -> None:
    order = EventEnvelope.from_json(GOLDEN_DETAIL)
    reply = envelope(
        source="soorma.stock",
        type="stock.reserved",
        correlation_id=order.correlation_id,
        causation_id=order.id,
        tenant_id="acme",
        time=order.time + timedelta(milliseconds=250),
    )
    put_raw(harness, GOLDEN_DETAIL)
    put_envelope(harness, reply)

    delivery = harness.deliver(AGENT, FACTS, receive_all(harness))

    assert delivery.failed_ids == []
    [tree] = build_tree(read_back(harness, order.correlation_id), [])
    assert [c.envelope.id for c in tree.children] == [reply.id]  # the tree sorts by itself
    assert [e.id for e in read_back(harness, order.correlation_id)] == [order.id, reply.id]


def test_items_written_before_the_fixed_width_sort_key_are_read_back_in_time_order(
    harness: MotoHarness,
) -> None:
    # Until their TTL, items keyed by the wire's time (`...:00Z` on a whole second) live beside
    # the new ones; a redelivery across the upgrade stores the same event under both keys.
    order = EventEnvelope.from_json(GOLDEN_DETAIL)
    later = [
        envelope(correlation_id=order.correlation_id, time=order.time + timedelta(**delta))
        for delta in ({"milliseconds": 250}, {"microseconds": 1}, {"seconds": 1})
    ]
    write_all(harness, [order, *later])
    dynamodb = harness.session.client("dynamodb")
    table = harness.platform.tables["events"]
    for event in (order, later[2]):  # both on a whole second: old keys differ from new ones
        [item] = [i for i in items(harness) if i["event_id"]["S"] == event.id]
        old_key = f"EVENT#{event.to_wire()['time']}#{event.id}"
        assert old_key.endswith(("0Z#" + event.id, "1Z#" + event.id))
        dynamodb.put_item(TableName=table, Item={**item, "sk": {"S": old_key}})
        if event is order:  # written before the upgrade only
            dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    assert len(items(harness)) == 5

    logged = read_back(harness, order.correlation_id)

    assert [e.id for e in logged] == [order.id, later[1].id, later[0].id, later[2].id]
    raw = logged_items(dynamodb, table, order.correlation_id, tenant_id="acme")
    assert [i["event_id"]["S"] for i in raw] == [order.id]


# ---- bad records among good ones ----------------------------------------------------------------


def _forged(harness: MotoHarness) -> str:
    event = envelope(source="soorma.billing", id="bad")
    put_raw(harness, event.to_json(), source="soorma.mallory")
    return "bad"


def _wrong_detail_type(harness: MotoHarness) -> str:
    put_raw(harness, envelope(id="bad").to_json(), detail_type="order.paid")
    return "bad"


def _bad_time(harness: MotoHarness) -> str:
    wire = {**envelope(id="bad").to_wire(), "time": "yesterday"}
    put_raw(harness, json.dumps(wire))
    return "bad"


def _lone_surrogate_id(harness: MotoHarness) -> str:
    wire = envelope(id="bad").to_wire()
    put_raw(harness, json.dumps(wire).replace('"bad"', '"bad\\ud800"'), source="soorma.tests")
    return "bad\ud800"


def _detail_not_an_object(harness: MotoHarness) -> str:
    body = json.loads(eventbridge_body(envelope(id="bad").to_wire()))
    body["detail"] = "bad"  # what no rule would route: on the queue by another path
    harness.send_raw(AGENT, FACTS, json.dumps(body))
    return "bad"


@pytest.mark.parametrize(
    "bad_record",
    [_forged, _wrong_detail_type, _bad_time, _lone_surrogate_id, _detail_not_an_object],
    ids=["forged-source", "wrong-detail-type", "time-not-rfc3339", "lone-surrogate-id", "detail"],
)
def test_a_bad_record_among_good_ones_goes_to_the_dlq_alone(
    harness: MotoHarness, bad_record: Callable[[MotoHarness], str]
) -> None:
    good = [envelope() for _ in range(4)]
    for event in good[:2]:
        put_envelope(harness, event)
    bad_id = bad_record(harness)
    for event in good[2:]:
        put_envelope(harness, event)
    messages = receive_all(harness)
    assert len(messages) == 5
    [bad_message] = [m for m in messages if detail_id(m["Body"]) not in {e.id for e in good}]

    delivery = harness.deliver(AGENT, FACTS, messages)

    assert delivery.failed_ids == []
    assert stored_ids(harness) == {e.id for e in good}
    assert bad_id not in stored_ids(harness)
    [letter] = harness.dead_letters(AGENT)
    assert letter.kind == "permanent-error"
    assert letter.body == bad_message["Body"]


# ---- reading back -------------------------------------------------------------------------------


def test_a_thousand_events_of_one_workflow_come_back_over_several_pages_in_time_order(
    harness: MotoHarness,
) -> None:
    start = datetime(2025, 3, 1, 8, 0, 0, 1, tzinfo=UTC)
    root = envelope(correlation_id="big", time=start, data={"pad": "r" * 1500})
    rest = [
        envelope(
            correlation_id="big",
            causation_id=root.id,
            time=start + timedelta(microseconds=997 * n),  # never on a whole second
            data={"pad": "p" * 1500, "n": n},
        )
        for n in range(1, 1000)
    ]
    shuffled = [root, *rest]
    random.Random(7).shuffle(shuffled)
    write_all(harness, shuffled)
    dynamodb = harness.session.client("dynamodb")
    pages: list[int] = []
    dynamodb.meta.events.register("after-call.dynamodb.Query", lambda **_: pages.append(1))

    logged = logged_envelopes(dynamodb, harness.platform.tables["events"], "big")

    assert len(pages) >= 2  # 1,000 items of 2 KB: more than one 1 MB Query page
    assert [e.id for e in logged] == [root.id] + [e.id for e in rest]
    [tree] = build_tree(logged, [])
    assert tree.envelope.id == root.id
    assert [c.envelope.id for c in tree.children] == [e.id for e in rest]


def test_a_tenant_reads_only_its_own_events_of_a_shared_correlation_id(
    harness: MotoHarness,
) -> None:
    shared = "order-1"  # two tenants' front doors honour the same X-Correlation-ID
    acme = [envelope(correlation_id=shared, tenant_id="acme", user_id="ada") for _ in range(3)]
    globex = [envelope(correlation_id=shared, tenant_id="globex") for _ in range(2)]
    nobody = envelope(correlation_id=shared)
    look_alikes = [
        envelope(correlation_id=shared, tenant_id=name) for name in ("ACME", "acme ", "acme#")
    ]
    for event in [*acme, *globex, nobody, *look_alikes]:
        put_envelope(harness, event)
    assert harness.deliver(AGENT, FACTS, receive_all(harness)).failed_ids == []

    assert {e.id for e in read_back(harness, shared, "acme")} == {e.id for e in acme}
    assert {e.id for e in read_back(harness, shared, "globex")} == {e.id for e in globex}
    assert read_back(harness, shared, "acm") == []
    assert len(read_back(harness, shared)) == 9
    dynamodb = harness.session.client("dynamodb")
    table = harness.platform.tables["events"]
    for item in logged_items(dynamodb, table, shared, tenant_id="globex", consistent=False):
        assert item["tenant_id"]["S"] == "globex"
        assert json.loads(item["envelope"]["S"])["tenantid"] == "globex"


def test_erasing_a_tenant_of_many_events_pages_resumes_and_spares_the_others(
    harness: MotoHarness,
) -> None:
    acme = [
        envelope(correlation_id=f"wf-{n % 25}", tenant_id="acme", user_id=f"u{n % 7}")
        for n in range(500)
    ]
    globex = [envelope(correlation_id=f"wf-{n % 25}", tenant_id="globex") for n in range(100)]
    nobody = [envelope(correlation_id=f"wf-{n}") for n in range(50)]
    write_all(harness, [*acme, *globex, *nobody], batch=50)
    writes = UnprocessedWrites(harness.session.client("dynamodb"), first_offer_refused())
    eraser = EventLogEraser(
        MemoryTable(harness.platform.tables["events"], ttl_seconds=0, client=writes)
    )

    progress = eraser.forget_tenant("acme", page_size=80, max_pages=2)
    deleted, calls = progress.deleted, 1
    while not progress.done:
        progress = eraser.forget_tenant("acme", cursor=progress.cursor, page_size=80, max_pages=2)
        deleted += progress.deleted
        calls += 1

    assert deleted == len(acme)
    assert calls >= 2  # 650 items, 80 scanned a page, 2 pages a call
    assert stored_ids(harness) == {e.id for e in [*globex, *nobody]}
    writes.check_limits()
    assert read_back(harness, "wf-3", "acme") == []
    assert len(read_back(harness, "wf-3", "globex")) == 4


def test_every_tenant_the_log_stores_can_be_erased(harness: MotoHarness) -> None:
    tenant = "acme#eu"
    event = envelope(tenant_id=tenant, user_id="ada")
    keep = envelope(tenant_id="acme")
    write_all(harness, [event, keep])
    eraser = EventLogEraser(
        MemoryTable(
            harness.platform.tables["events"],
            ttl_seconds=0,
            client=harness.session.client("dynamodb"),
        )
    )

    assert eraser.forget_tenant(tenant).deleted == 1
    assert stored_ids(harness) == {keep.id}


# ---- a property ---------------------------------------------------------------------------------

_TEXT = st.characters(exclude_categories=("Cc", "Cs", "Cn"))
_STRINGS = st.text(_TEXT, min_size=1, max_size=40)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)
_ENVELOPES = st.builds(
    EventEnvelope,
    id=_STRINGS,
    source=st.sampled_from(["soorma.tests", "shop.orders-api", "https://shop.example/x#1"]),
    type=st.sampled_from(["order.placed", "inventory.reserve", "x.y"]),
    topic=st.sampled_from(list(EventTopic)),
    time=st.datetimes(
        min_value=datetime(1970, 1, 1),
        max_value=datetime(2999, 12, 31),
        timezones=st.just(UTC),
    ),
    data=_JSON,
    correlation_id=_STRINGS,
    causation_id=st.none() | _STRINGS,
    tenant_id=st.none() | _STRINGS,
    user_id=st.none() | _STRINGS,
    subject=st.none() | _STRINGS,
)


def test_any_valid_envelope_is_read_back_as_its_wire_form(harness: MotoHarness) -> None:
    dynamodb = harness.session.client("dynamodb")
    table = harness.platform.tables["events"]

    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(event=_ENVELOPES)
    def written_and_read_back(event: EventEnvelope) -> None:
        for item in items(harness):  # every example starts from an empty log
            dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
        body = eventbridge_body(event.to_wire())
        topic = event.topic

        assert invoke(harness, lambda_batch(harness, [body], topic)) == []

        [item] = items(harness)
        assert item["envelope"]["S"] == event.to_json()
        assert item["pk"]["S"] == f"CORR#{event.correlation_id}"
        assert item.get("tenant_id", {}).get("S") == event.tenant_id
        [back] = read_back(harness, event.correlation_id)
        assert back.to_wire() == event.to_wire()
        assert back == event

    written_and_read_back()
