"""Speed patches to moto's SQS (`moto/sqs/models.py`): clock reads, queue attributes, message
counts and deletes on deep queues."""

from __future__ import annotations

from typing import Any


def fast_sqs_clock() -> None:
    """moto's SQS asks `unix_time()` (two naive datetimes and a subtraction) for every message
    it looks at: visibility and delay checks run per message per receive and per attribute
    read, so the clock dominates receives on deep queues. Without an argument it is
    `time.time()`."""
    import time

    import moto.sqs.models as sqs_models
    from moto.core import utils

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else utils.unix_time(dt)

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time(dt) * 1000.0

    setattr(sqs_models, "unix_time", unix_time)  # noqa: B010
    setattr(sqs_models, "unix_time_millis", unix_time_millis)  # noqa: B010


def single_pass_queue_attributes() -> None:
    """`SQSBackend.get_queue_attributes` rebuilds `queue.attributes` (every attribute, with
    O(queue depth) message counts) three times per attribute asked for, and every received
    message pays one such call for its retention check. Build the attributes once, and read the
    retention period straight from the queue."""
    from moto.sqs import models as sqs_models
    from moto.sqs.exceptions import InvalidAttributeName

    backend = sqs_models.SQSBackend

    def get_queue_attributes(self: Any, queue_name: str, attribute_names: list[str]) -> Any:
        queue = self.get_queue(queue_name)
        if not attribute_names:
            return {}
        valid = ["All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
        invalid = next((n for n in attribute_names if n not in valid), None)
        if invalid or invalid == "":
            raise InvalidAttributeName(invalid)
        every = queue.attributes
        if "All" in attribute_names:
            return every
        return {n: every[n] for n in attribute_names if every.get(n) is not None}

    def is_message_valid_based_on_retention_period(
        self: Any, queue_name: str, message: Any
    ) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > getattr(sqs_models, "unix_time")())  # noqa: B009

    setattr(backend, "get_queue_attributes", get_queue_attributes)  # noqa: B010
    setattr(  # noqa: B010
        backend,
        "is_message_valid_based_on_retention_period",
        is_message_valid_based_on_retention_period,
    )


def single_pass_message_counts() -> None:
    """Every SendMessage reads `queue.attributes` (for one FIFO setting), which counts visible,
    in-flight and delayed messages with three scans calling two clock reads per message; every
    ReceiveMessage scans for visible messages the same way. Read the clock once per scan and
    compare the messages' own timestamps (same rules: visible once `now > visible_at`, delayed
    while `now < delayed_until`). Still O(queue depth), about ten times cheaper."""
    import time

    from moto.sqs.models import Queue

    def now_ms() -> float:
        return time.time() * 1000.0

    def messages(self: Any) -> list[Any]:
        now = now_ms()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def delayed(self: Any) -> int:
        now = now_ms()
        return sum(1 for m in self._messages if now < m.delayed_until)

    def not_visible(self: Any) -> int:
        now = now_ms()
        return sum(1 for m in self._messages if not now > m.visible_at)

    def visible(self: Any) -> int:
        return len(messages(self))

    Queue.messages = property(messages)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_delayed = property(delayed)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_not_visible = property(not_visible)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages = property(visible)  # type: ignore[assignment,method-assign]


def single_pass_delete_message() -> None:
    """`Queue.delete_message` scans the queue twice and, for every message, builds the list of
    every receipt handle it ever had (`all_receipt_handles`): O(queue depth) list building per
    deleted message, which is most of `DeleteMessageBatch` on a deep queue. One pass with the
    same rules: an already deleted handle is ignored, an unknown one raises
    `ReceiptHandleIsInvalid`, and every message that ever had the handle is removed and its
    handles remembered as deleted.

    Unlike moto 5.2.5, the delete holds the queue's `_messages_lock`, the lock `add_message`
    appends under: moto rebuilds the message list without it, so a message sent while a delete
    builds the new list is appended to the old one and lost, after SendMessage acknowledged it
    (docs/local-cloud.md, "moto behaviours we work around")."""
    from moto.sqs.exceptions import ReceiptHandleIsInvalid
    from moto.sqs.models import Queue

    def delete_message(self: Any, receipt_handle: str) -> None:
        with self._messages_lock:
            if receipt_handle in self.deleted_messages:
                return
            kept = []
            found = False
            for message in self._messages:
                if (
                    message.receipt_handle == receipt_handle
                    or receipt_handle in message._old_receipt_handles
                ):
                    found = True
                    self.pending_messages.discard(message)
                    self.deleted_messages.update(message.all_receipt_handles)
                else:
                    kept.append(message)
            if not found:
                raise ReceiptHandleIsInvalid()
            self._messages = kept

    Queue.delete_message = delete_message  # type: ignore[method-assign]


def atomic_receive_message() -> None:
    """moto 5.2.5's `ReceiveMessage` scans the queue and marks messages received without the
    queue's `_messages_lock`: two receives at once can both take the same visible message (one
    message handled twice, within its visibility timeout), and its move of a message to the DLQ
    can race a delete rebuilding the list. The receive holds the lock (a `Condition` over an
    `RLock`: its long-poll wait releases it, so sends still wake it)."""
    from moto.sqs.models import SQSBackend

    receive = SQSBackend.receive_message

    def receive_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        with self.get_queue(queue_name)._messages_lock:
            return receive(self, queue_name, *args, **kwargs)

    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
