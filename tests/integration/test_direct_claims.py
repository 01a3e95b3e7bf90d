"""The claim store's direct conditional writes on moto: the layout Powertools idempotency wrote
(claims of earlier runtimes honoured), takeovers of stale and expired claims, failures, races."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from soorma.runtime.claims import ClaimStore, claim_key
from soorma_common import naming
from soorma_common.errors import ClaimInProgressError, OutboxNotStorableError, TransientError
from soorma_dev.harness import LambdaContextStub
from soorma_dev.provision import create_table

FUNCTION = naming.function_name("dev", "shop")
TABLE = naming.table_name("dev", "idempotency")
KEY = claim_key("shop", "soorma.checkout", "event-1")
EVENTS = ["eyJpZCI6ICJlLTEifQ==", "eyJpZCI6ICJlLTIifQ=="]


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, TABLE, "idempotency")
        yield client


def new_store(dynamodb: Any, client: Any = None) -> ClaimStore:
    store = ClaimStore(TABLE, expires_after_seconds=3600, dynamodb_client=client or dynamodb)
    store.register_lambda_context(LambdaContextStub(FUNCTION))
    return store


def powertools_once(dynamodb: Any) -> Callable[..., Any]:
    """What runtimes before the direct claims ran: Powertools' `idempotent_function` around a
    function named as theirs was (its module and name are part of the key)."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    def _run_work(claim: dict[str, str], work: Callable[[], list[str]]) -> list[str]:
        return work()

    _run_work.__module__, _run_work.__qualname__ = "soorma.runtime.claims", "_run_work"
    config = IdempotencyConfig(expires_after_seconds=3600)
    config.register_lambda_context(LambdaContextStub(FUNCTION))
    layer = DynamoDBPersistenceLayer(
        table_name=TABLE, expiry_attr="expires_at", boto3_client=dynamodb
    )
    once: Callable[..., Any] = idempotent_function(
        data_keyword_argument="claim", persistence_store=layer, config=config
    )(_run_work)
    return once


def items(dynamodb: Any) -> dict[str, dict[str, Any]]:
    return {i["id"]["S"]: i for i in dynamodb.scan(TableName=TABLE)["Items"]}


def never() -> list[str]:
    raise AssertionError("the work ran again")


def test_the_item_is_the_one_powertools_wrote_for_the_same_claim(dynamodb: Any) -> None:
    powertools_once(dynamodb)(claim={"key": KEY}, work=lambda: EVENTS)
    ((old_id, old_item),) = items(dynamodb).items()
    assert new_store(dynamodb).item_id(KEY) == old_id
    assert old_id.startswith(f"{FUNCTION}.")  # the IAM LeadingKeys pattern `<function>.*`

    other = claim_key("shop", "soorma.checkout", "event-2")
    new_store(dynamodb).run_once(other, lambda: EVENTS)
    new_item = items(dynamodb)[new_store(dynamodb).item_id(other)]
    assert set(new_item) == set(old_item)
    assert new_item["data"] == old_item["data"] == {"S": json.dumps(EVENTS, sort_keys=True)}
    assert new_item["status"] == old_item["status"] == {"S": "COMPLETED"}


def test_a_claim_completed_by_the_powertools_path_is_honoured(dynamodb: Any) -> None:
    powertools_once(dynamodb)(claim={"key": KEY}, work=lambda: EVENTS)
    assert new_store(dynamodb).run_once(KEY, never) == EVENTS
    powertools_once(dynamodb)(claim={"key": "empty"}, work=list)
    assert new_store(dynamodb).run_once("empty", never) == []


def test_a_claim_in_progress_on_the_powertools_path_is_transient(dynamodb: Any) -> None:
    def reentered() -> list[str]:
        with pytest.raises(ClaimInProgressError, match="held by another invocation"):
            new_store(dynamodb).run_once(KEY, never)
        return EVENTS

    powertools_once(dynamodb)(claim={"key": KEY}, work=reentered)
    # and the other way round: Powertools sees the direct claim's in-progress item
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
    )

    def reentered_old() -> list[str]:
        with pytest.raises(IdempotencyAlreadyInProgressError):
            powertools_once(dynamodb)(claim={"key": "k2"}, work=never)
        return []

    new_store(dynamodb).run_once("k2", reentered_old)


def put_claim(dynamodb: Any, key: str, **attributes: dict[str, str]) -> None:
    ident = new_store(dynamodb).item_id(key)
    dynamodb.put_item(TableName=TABLE, Item={"id": {"S": ident}, **attributes})


def test_a_stale_claim_in_progress_is_taken_over(dynamodb: Any) -> None:
    now = time.time()
    stale = {"N": str(int(now * 1000) - 1)}  # its invocation ended
    live = {"N": str(int(now * 1000) + 60_000)}
    expires = {"N": str(int(now) + 3600)}
    put_claim(
        dynamodb, KEY, status={"S": "INPROGRESS"}, expires_at=expires, in_progress_expiration=stale
    )
    put_claim(
        dynamodb,
        "live",
        status={"S": "INPROGRESS"},
        expires_at=expires,
        in_progress_expiration=live,
    )

    assert new_store(dynamodb).run_once(KEY, lambda: EVENTS) == EVENTS
    assert items(dynamodb)[new_store(dynamodb).item_id(KEY)]["status"] == {"S": "COMPLETED"}
    with pytest.raises(ClaimInProgressError):
        new_store(dynamodb).run_once("live", never)


def test_an_expired_claim_runs_again(dynamodb: Any) -> None:
    gone = {"N": str(int(time.time()) - 1)}  # past its TTL, not yet removed by DynamoDB
    put_claim(
        dynamodb, KEY, status={"S": "COMPLETED"}, expires_at=gone, data={"S": json.dumps(["old"])}
    )
    assert new_store(dynamodb).run_once(KEY, lambda: EVENTS) == EVENTS
    assert new_store(dynamodb).run_once(KEY, never) == EVENTS


def test_the_in_progress_claim_ends_with_the_invocation(dynamodb: Any) -> None:
    store = new_store(dynamodb)
    store.register_lambda_context(LambdaContextStub(FUNCTION, timeout_ms=5_000))
    seen: list[dict[str, Any]] = []
    begun = time.time()
    store.run_once(KEY, lambda: seen.append(items(dynamodb)[store.item_id(KEY)]) or [])
    until = int(seen[0]["in_progress_expiration"]["N"])
    assert seen[0]["status"] == {"S": "INPROGRESS"}
    assert int(begun * 1000) + 5_000 <= until <= int(time.time() * 1000) + 5_000


def test_a_failed_run_releases_its_claim(dynamodb: Any) -> None:
    def failing() -> list[str]:
        raise TransientError("boom")

    with pytest.raises(TransientError, match="boom"):
        new_store(dynamodb).run_once(KEY, failing)
    assert items(dynamodb) == {}
    assert new_store(dynamodb).run_once(KEY, lambda: EVENTS) == EVENTS


def test_events_too_large_to_store_release_the_claim(dynamodb: Any) -> None:
    with pytest.raises(OutboxNotStorableError, match="too large"):
        new_store(dynamodb).run_once(KEY, lambda: ["A" * 410_000])
    assert items(dynamodb) == {}


class SerialisedWrites:
    """The client, with its item writes made one at a time, as DynamoDB orders writes to one
    item (moto's in-process backend does not)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._client, name)

        def serialised(**kwargs: Any) -> Any:
            with self._lock:
                return call(**kwargs)

        return serialised


def test_of_concurrent_claims_exactly_one_runs(dynamodb: Any) -> None:
    client = SerialisedWrites(dynamodb)
    copies = 6
    start = threading.Barrier(copies)
    ran: list[int] = []
    outcomes: list[object] = [None] * copies

    def work(copy: int) -> list[str]:
        ran.append(copy)
        time.sleep(0.05)  # hold the claim while the others try
        return [f"copy-{copy}"]

    def deliver(copy: int) -> None:
        start.wait()
        try:
            outcomes[copy] = new_store(dynamodb, client).run_once(KEY, lambda: work(copy))
        except ClaimInProgressError as exc:
            outcomes[copy] = exc

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(ran) == 1
    (winner,) = ran
    assert outcomes[winner] == [f"copy-{winner}"]
    losers = [o for n, o in enumerate(outcomes) if n != winner]
    assert all(isinstance(o, ClaimInProgressError) or o == [f"copy-{winner}"] for o in losers)
    assert new_store(dynamodb).run_once(KEY, never) == [f"copy-{winner}"]
