"""Listing, classifying and redriving the messages in the agents' DLQs.

A DLQ cannot be listed without receiving: `scan` receives every message with a short visibility
timeout, then makes them all visible again. A file lock in the state directory keeps two
scanners (the cloud's watcher, a `soorma dlq` in another terminal) from hiding messages from
each other. Redrive is an explicit SendMessage to the source queue, then a delete from the DLQ.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from soorma.runtime.dead_letters import ERROR_TYPE_ATTRIBUTE, KIND_ATTRIBUTE, REASON_ATTRIBUTE
from soorma_common.delivery import MAX_RECEIVE_COUNT
from soorma_common.naming import queue_name_from_arn, source_queue_name
from soorma_dev.provision import Platform
from soorma_dev.sqs_events import REDRIVEN_MESSAGE_ATTRIBUTES
from soorma_dev.testing.records import (
    DeadLetter,
    DeadLetterKind,
    envelope_of,
    error_reason,
    with_last_failure,
)

#: Gives the reason of the last failed handling of each message id (to name the last error of a
#: message SQS moved after `maxReceiveCount` receives).
FailureReasons = Callable[[], Mapping[str, str]]

#: Message attributes EventBridge sets on events it could not deliver to a target (AWS docs,
#: "Using dead-letter queues to process undelivered events").
RULE_FAILURE_ATTRIBUTES = ("ERROR_CODE", "ERROR_MESSAGE", "RULE_ARN", "TARGET_ARN")
_SCAN_VISIBILITY_SECONDS = 30


@contextlib.contextmanager
def scan_lock(state_dir: Path | None) -> Iterator[None]:
    """Hold the DLQ scan lock of one local cloud (across processes); no lock without a state
    directory (one process: `MotoHarness`)."""
    if state_dir is None:
        yield
        return
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / "dlq.lock").open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def classify(message: dict[str, Any]) -> tuple[DeadLetterKind, str | None]:
    """The kind of a dead letter and its reason, from its message attributes."""
    attributes = message.get("MessageAttributes", {})

    def text(name: str) -> str | None:
        value = attributes.get(name, {}).get("StringValue")
        return str(value) if value is not None else None

    if any(name in attributes for name in RULE_FAILURE_ATTRIBUTES):
        return "rule-delivery-failure", error_reason(text("ERROR_CODE"), text("ERROR_MESSAGE"))
    if text(KIND_ATTRIBUTE) == "permanent-error":
        return "permanent-error", error_reason(text(ERROR_TYPE_ATTRIBUTE), text(REASON_ATTRIBUTE))
    return (
        "redrive-after-max-receives",
        f"moved to the DLQ by SQS after {MAX_RECEIVE_COUNT} receives (maxReceiveCount)",
    )


def receive_all(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Receive every message of a queue (hidden for a short while); caller must release them."""
    found: dict[str, dict[str, Any]] = {}
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            VisibilityTimeout=_SCAN_VISIBILITY_SECONDS,
        ).get("Messages", [])
        if not messages:
            return list(found.values())
        found.update({m["MessageId"]: m for m in messages})


def release(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Make received messages visible again at once."""
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ],
        )


class DeadLetterQueues:
    """The DLQs of a platform: list (`scan`), count and redrive their messages.

    `state_dir` holds the scan lock (None: no lock, one process); `failure_reasons` gives the
    last failure of each message id, the reason of a message moved after max receives.
    """

    def __init__(
        self,
        platform: Platform,
        sqs: Any,
        state_dir: Path | None,
        failure_reasons: FailureReasons | None = None,
    ) -> None:
        self.platform = platform
        self.sqs = sqs
        self.state_dir = state_dir
        self.failure_reasons = failure_reasons

    def queues(self, agent: str | None = None) -> list[tuple[str, str, str, str]]:
        """(agent, topic, source queue url, dlq url) of every DLQ (of one agent)."""
        found = []
        for name, queues in self.platform.agents.items():
            if agent is not None and name != agent:
                continue
            for topic, (url, _arn, dlq_url) in queues.queues.items():
                found.append((name, topic.value, url, dlq_url))
        return found

    def depth(self, dlq_url: str) -> int:
        """Messages in a DLQ, visible or not."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=dlq_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def scan(self, agent: str | None = None) -> list[DeadLetter]:
        """Every dead letter (of one agent), oldest queue first."""
        with scan_lock(self.state_dir):
            letters = []
            for name, topic, _url, dlq_url in self.queues(agent):
                messages = receive_all(self.sqs, dlq_url)
                release(self.sqs, dlq_url, messages)
                letters += [self._letter(name, topic, dlq_url, m) for m in messages]
        moved = any(d.kind == "redrive-after-max-receives" for d in letters)
        if moved and self.failure_reasons is not None:
            return with_last_failure(letters, self.failure_reasons())
        return letters

    def redrive(self, agent: str | None = None, message_ids: Iterable[str] | None = None) -> int:
        """Send dead letters back to their source queue (flagged `SoormaRedriven`, so an
        expired claim is refused) and delete them from the DLQ."""
        wanted = None if message_ids is None else set(message_ids)
        moved = 0
        with scan_lock(self.state_dir):
            for _name, _topic, url, dlq_url in self.queues(agent):
                messages = receive_all(self.sqs, dlq_url)
                keep = []
                for message in messages:
                    if wanted is not None and message["MessageId"] not in wanted:
                        keep.append(message)
                        continue
                    self.sqs.send_message(
                        QueueUrl=url,
                        MessageBody=message["Body"],
                        MessageAttributes=REDRIVEN_MESSAGE_ATTRIBUTES,
                    )
                    self.sqs.delete_message(
                        QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"]
                    )
                    moved += 1
                release(self.sqs, dlq_url, keep)
        return moved

    def _letter(self, agent: str, topic: str, dlq_url: str, message: dict[str, Any]) -> DeadLetter:
        kind, reason = classify(message)
        queue = source_queue_name(queue_name_from_arn(dlq_url.rsplit("/", 1)[-1]))
        return DeadLetter(
            agent=agent,
            topic=topic,
            queue=queue,
            dlq_url=dlq_url,
            message_id=message["MessageId"],
            kind=kind,
            reason=reason,
            body=message["Body"],
            envelope=envelope_of(message["Body"]),
            receipt_handle=message["ReceiptHandle"],
        )
