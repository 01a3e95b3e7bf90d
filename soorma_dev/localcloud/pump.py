"""The event-source mapping of one queue: receive up to 10, invoke, delete what succeeded.

As Lambda's SQS mapping with `ReportBatchItemFailures`: the records named in
`batchItemFailures` stay on the queue and come back after the visibility timeout; the rest are
deleted; an invocation that raises fails the whole batch; SQS itself moves a message to the DLQ
once it has been received `maxReceiveCount` times. Each outcome is written to the activity file.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from soorma.runtime.outcomes import RecordOutcome
from soorma_common.delivery import BATCH_SIZE
from soorma_dev.localcloud.activity import ActivityLog, now_iso
from soorma_dev.localcloud.lambda_context import LocalLambdaContext
from soorma_dev.localcloud.models import ActivityLine, Outcome
from soorma_dev.sqs_events import RECEIVE_ATTRIBUTES, lambda_event, queue_region

_UNEXPLAINED = "reported in batchItemFailures (no reason observed)"

LambdaHandler = Callable[[dict[str, Any], Any], Any]


@dataclass
class RecordOutcomes:
    """Outcomes the runtime reported per SQS message id during one invocation."""

    by_message: dict[str, tuple[Outcome, str | None]]

    def note(self, message_id: str, outcome: Outcome, reason: str | None) -> None:
        """Remember the outcome of one record (the last one wins)."""
        self.by_message[message_id] = (outcome, reason)

    def observe(self, outcome: RecordOutcome) -> None:
        """The runtime's outcome observer (`LambdaRuntime(on_outcome=...)`)."""
        self.note(outcome.message_id, outcome.outcome, outcome.reason)


class QueuePump:
    """Pumps one queue into one handler; `run_once` is one receive and one invocation."""

    def __init__(
        self,
        *,
        agent: str,
        function_name: str,
        queue_url: str,
        queue_arn: str,
        sqs: Any,
        handler: LambdaHandler,
        activity: ActivityLog,
        outcomes: RecordOutcomes,
        invoke_lock: threading.Lock,
        timeout_seconds: float,
        wait_seconds: int = 1,
        record_handled: bool = True,
    ) -> None:
        self.agent = agent
        self.function_name = function_name
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.sqs = sqs
        self.handler = handler
        self.activity = activity
        self.outcomes = outcomes
        self.invoke_lock = invoke_lock
        self.timeout_seconds = timeout_seconds
        self.wait_seconds = wait_seconds
        self.record_handled = record_handled

    def run(self, stop: threading.Event) -> None:
        """Pump until `stop` is set."""
        while not stop.is_set():
            self.run_once()

    def run_once(self) -> int:
        """Receive one batch and pass it to the handler; return the number of records."""
        # One execution environment per worker: take a batch only once a running invocation
        # (of another of the agent's queues) is over, so that a received batch does not wait
        # out its visibility timeout behind it (AWS's mappings poll independently).
        with self.invoke_lock:
            pass
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=BATCH_SIZE,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=RECEIVE_ATTRIBUTES,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if messages:
            self.invoke(messages, received=now_iso())
        return len(messages)

    def invoke(self, messages: list[dict[str, Any]], received: str | None = None) -> None:
        """One invocation: call the handler, record outcomes, delete the records that succeeded."""
        event = lambda_event(messages, self.queue_arn, queue_region(self.queue_arn))
        with self.invoke_lock:
            self.outcomes.by_message.clear()
            context = LocalLambdaContext(self.function_name, self.timeout_seconds)
            try:
                response = self.handler(event, context) or {}
                failed = {str(f["itemIdentifier"]) for f in response.get("batchItemFailures", [])}
                crash = None
            except Exception as exc:  # the function failed: the whole batch comes back
                failed = {m["MessageId"] for m in messages}
                crash = f"invocation failed: {type(exc).__name__}: {exc}"
            reported = dict(self.outcomes.by_message)
        lines = []
        for message in messages:
            message_id = message["MessageId"]
            if message_id in failed:
                outcome: Outcome = "failed"
                _, reason = reported.get(message_id, ("failed", _UNEXPLAINED))
                reason = crash or reason
            else:
                outcome, reason = reported.get(message_id, ("handled", None))
                if outcome == "failed":  # reported failed but not in batchItemFailures
                    outcome = "handled"
            if outcome == "handled" and not self.record_handled:
                continue
            lines.append(self._line(message, outcome, reason, received))
        self.activity.append(lines)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )

    def _line(
        self, message: dict[str, Any], outcome: Outcome, reason: str | None, received: str | None
    ) -> ActivityLine:
        detail = _detail_of(message.get("Body", ""))
        return ActivityLine(
            time=now_iso(),
            topic=detail.get("topic"),
            event_type=detail.get("type"),
            agent=self.agent,
            outcome=outcome,
            event_id=detail.get("id"),
            correlation_id=detail.get("correlationid"),
            reason=reason,
            message_id=message["MessageId"],
            causation_id=detail.get("causationid"),
            received=received,
        )


def _detail_of(body: str) -> dict[str, Any]:
    """The envelope fields inside an SQS body written by EventBridge ({} when unreadable)."""
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        return {}
    return detail if isinstance(detail, dict) else {}
