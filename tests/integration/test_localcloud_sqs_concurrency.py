"""No message is lost on a deep queue of the local cloud's SQS under concurrent sends, receives
and deletes.

moto 5.2.5's `Queue.delete_message` rebuilds the queue's message list without the lock that
`add_message` appends under: a `SendMessage` that appends to the old list while a delete builds
the new one is acknowledged with a MessageId and then gone, and two deletes rebuilding at once
can bring a deleted message back (docs/local-cloud.md, "moto behaviours we work around"). The
local cloud's moto server (patched, as `soorma dev` runs it) must keep every message exactly:
sent = deleted + left, each body once.

The queue is made deep with delayed messages (in moto's message list, so every delete scans
them, but never received), so that only the messages sent concurrently need draining at the end.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config

from soorma_dev.localcloud.processes import LOCAL_CREDENTIALS, LOCAL_REGION
from soorma_dev.localcloud.server import MotoServer

DEEP = 4000  # delayed messages that make the queue deep
SENDERS, BATCHES_PER_SENDER = 3, 50  # 1,500 messages sent while the consumers delete
CONSUMERS = 3
DELAY_SECONDS = 900  # SQS's maximum: the deep messages stay delayed for the whole test


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = MotoServer(log_path=tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield server.start(timeout=60)
    finally:
        server.stop()


def sqs_client(endpoint: str) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=LOCAL_REGION,
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(max_pool_connections=SENDERS + CONSUMERS + 2, retries={"max_attempts": 1}),
    )


def send_batches(sqs: Any, url: str, prefix: str, batches: int, delay: int = 0) -> list[str]:
    """Send `batches` batches of 10 numbered bodies; return the bodies SQS acknowledged."""
    acknowledged = []
    for batch in range(batches):
        entries = [
            {"Id": str(i), "MessageBody": f"{prefix}-{batch}-{i}", "DelaySeconds": delay}
            for i in range(10)
        ]
        response = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not response.get("Failed"), response["Failed"]
        acknowledged += [entries[int(ok["Id"])]["MessageBody"] for ok in response["Successful"]]
    return acknowledged


def receive_and_delete(sqs: Any, url: str, stop: threading.Event) -> list[str]:
    """Receive and delete (in batches) until `stop` is set; return the deleted bodies."""
    deleted: list[str] = []
    while not stop.is_set():
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            continue
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        response = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        assert not response.get("Failed"), response["Failed"]
        deleted += [messages[int(ok["Id"])]["Body"] for ok in response["Successful"]]
    return deleted


def drain(sqs: Any, url: str) -> list[str]:
    """Every visible body left (received with a long visibility timeout, so each once)."""
    left: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return left
        left += [m["Body"] for m in messages]


def depth(sqs: Any, url: str) -> dict[str, int]:
    names = ["Messages", "MessagesNotVisible", "MessagesDelayed"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=[f"ApproximateNumberOf{name}" for name in names]
    )["Attributes"]
    return {name: int(attributes[f"ApproximateNumberOf{name}"]) for name in names}


def test_concurrent_sends_receives_and_deletes_on_a_deep_queue_lose_nothing(
    endpoint: str,
) -> None:
    sqs = sqs_client(endpoint)
    url = sqs.create_queue(QueueName="deep", Attributes={"VisibilityTimeout": "600"})["QueueUrl"]
    deep = send_batches(sqs, url, "deep", DEEP // 10, delay=DELAY_SECONDS)
    stop = threading.Event()
    sent: list[str] = []
    with ThreadPoolExecutor(SENDERS + CONSUMERS) as pool:
        consumers = [pool.submit(receive_and_delete, sqs, url, stop) for _ in range(CONSUMERS)]
        senders = [
            pool.submit(send_batches, sqs, url, f"sender{n}", BATCHES_PER_SENDER)
            for n in range(SENDERS)
        ]
        try:
            for sender in senders:
                sent += sender.result()
        finally:
            stop.set()  # the consumers stop once the senders are done (or failed)
        deleted = [body for consumer in consumers for body in consumer.result()]
    left = drain(sqs, url)

    assert len(deep) == DEEP
    assert len(sent) == len(set(sent)) == SENDERS * BATCHES_PER_SENDER * 10
    assert len(deleted) > SENDERS * BATCHES_PER_SENDER, "too few deletes ran alongside the sends"
    assert len(set(deleted)) == len(deleted), "a message was received and deleted twice"
    assert len(set(left)) == len(left), "a message is in the queue twice"
    lost = set(sent) - set(deleted) - set(left)
    assert not lost, f"{len(lost)} of {len(sent)} acknowledged messages lost"
    assert len(sent) == len(deleted) + len(left)
    # what the queue holds now: the delayed messages, and the drained ones in flight; a deleted
    # message brought back by a concurrent delete would be in flight too
    assert depth(sqs, url) == {
        "Messages": 0,
        "MessagesNotVisible": len(left),
        "MessagesDelayed": DEEP,
    }
