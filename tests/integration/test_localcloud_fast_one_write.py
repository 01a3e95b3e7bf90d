"""The one-write mode (`Agent(..., claims="one-write")`) in the fast local cloud: the SQLite
claim keeper's `keep_first` has the DynamoDB store's semantics (the first copy's events are kept,
a later copy gets them back, a claim-first holder is transient, oversized events are refused with
nothing stored), and the real runtime on the fast transport makes one claim write per event."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from soorma import Agent
from soorma.outbox import MAX_STORED_OUTBOX_BYTES
from soorma_common.errors import ClaimInProgressError, OutboxNotStorableError
from soorma_common.topics import EventTopic
from soorma_dev.localcloud.fast.store import FastStore
from soorma_dev.localcloud.lambda_context import LocalLambdaContext
from soorma_dev.sqs_events import lambda_event, queue_region
from tests.integration.test_localcloud_fast_store import envelope, fast_store, put
from tests.integration.test_localcloud_fast_transport import fast_runtime

FACTS = EventTopic.BUSINESS_FACTS
CLAIM_WRITES = ("INSERT INTO CLAIMS", "UPDATE CLAIMS", "DELETE FROM CLAIMS")


@pytest.fixture
def store(tmp_path: Path) -> FastStore:
    return fast_store(tmp_path)


def test_the_first_copy_s_events_are_kept_and_a_later_copy_gets_them(store) -> None:
    first, second = (
        store.claims(expires_after_seconds=3600),
        store.claims(expires_after_seconds=3600),
    )
    assert first.keep_first("a#e-1", ["Zmlyc3Q="]) is None
    assert second.keep_first("a#e-1", ["c2Vjb25k"]) == ["Zmlyc3Q="]
    # a claim-first copy arriving later finds it completed and does not run
    runs: list[int] = []
    assert second.run_once("a#e-1", lambda: runs.append(1) or []) == ["Zmlyc3Q="]
    assert runs == []


def test_a_claim_held_by_a_claim_first_copy_is_transient(store) -> None:
    holder, copy = (
        store.claims(expires_after_seconds=3600),
        store.claims(expires_after_seconds=3600),
    )
    refused: list[BaseException] = []

    def work() -> list[str]:
        with pytest.raises(ClaimInProgressError) as held:
            copy.keep_first("a#e-2", ["Yg=="])
        refused.append(held.value)
        return ["YQ=="]

    assert holder.run_once("a#e-2", work) == ["YQ=="]
    assert "held by another invocation" in str(refused[0])
    assert copy.keep_first("a#e-2", ["Yg=="]) == ["YQ=="]  # completed since


def test_an_expired_completed_claim_is_replaced(store) -> None:
    keeper = store.claims(expires_after_seconds=-1)  # every claim already expired
    assert keeper.keep_first("a#e-3", ["YQ=="]) is None
    assert keeper.keep_first("a#e-3", ["Yg=="]) is None


def test_events_too_large_for_a_dynamodb_item_are_refused_and_nothing_is_stored(store) -> None:
    keeper = store.claims(expires_after_seconds=3600)
    with pytest.raises(OutboxNotStorableError, match="nothing was stored"):
        keeper.keep_first("a#e-4", ["x" * MAX_STORED_OUTBOX_BYTES])
    assert keeper.keep_first("a#e-4", ["YQ=="]) is None


def test_of_concurrent_copies_exactly_one_stores_and_all_others_get_its_events(store) -> None:
    copies = 6
    barrier = threading.Barrier(copies)
    results: dict[int, list[str] | None] = {}

    def deliver(n: int) -> None:
        keeper = store.claims(expires_after_seconds=3600)
        barrier.wait()
        results[n] = keeper.keep_first("a#e-5", [f"copy-{n}"])

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [n for n, result in results.items() if result is None]
    assert len(winners) == 1
    assert all(result == [f"copy-{winners[0]}"] for n, result in results.items() if n != winners[0])


def test_the_runtime_makes_one_claim_write_per_event_and_re_sends_them_on_redelivery(
    tmp_path: Path,
) -> None:
    runs: list[str] = []
    scorer, listener = Agent("scorer", claims="one-write"), Agent("listener")

    @scorer.on_event("order.placed", topic=FACTS)
    def score(event, context):
        runs.append(event.id)
        context.bus.announce("order.scored", {"run": len(runs)})

    @listener.on_event("order.scored", topic=FACTS)
    def heard(event, context):  # pragma: no cover - routing only
        pass

    fast, platform, runtime = fast_runtime(tmp_path, scorer, listener)
    placed = [envelope("order.placed") for _ in range(3)]
    put(fast, *placed)
    url, arn, _dlq = platform.agents["scorer"].queues[FACTS]
    messages = fast.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    batch = lambda_event(messages, arn, queue_region(arn))

    statements: list[str] = []
    fast.database.connection().set_trace_callback(statements.append)
    try:
        assert runtime.handle_batch(batch, LocalLambdaContext("scorer", 30.0)) == {
            "batchItemFailures": []
        }
    finally:
        fast.database.connection().set_trace_callback(None)
    claim_writes = [s for s in statements if s.lstrip().upper().startswith(CLAIM_WRITES)]
    assert len(claim_writes) == len(placed)

    listener_url = platform.agents["listener"].queues[FACTS][0]

    def scored() -> dict[str, object]:
        """Each event on the listener's queue: its id -> the handler run that made it."""
        got = fast.sqs.receive_message(QueueUrl=listener_url, MaxNumberOfMessages=10)
        details = [json.loads(m["Body"])["detail"] for m in got["Messages"]]
        return {detail["id"]: detail["data"]["run"] for detail in details}

    first = scored()
    assert sorted(first.values()) == [1, 2, 3]

    # the same records again (a redelivery): the handler runs, the stored events go out
    assert runtime.handle_batch(batch, LocalLambdaContext("scorer", 30.0)) == {
        "batchItemFailures": []
    }
    assert len(runs) == 2 * len(placed)
    assert scored() == first  # the same ids, made by the first runs
