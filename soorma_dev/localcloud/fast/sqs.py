"""The SQS calls the local cloud makes, on the SQLite database instead of moto.

`SqliteSqs` answers `ReceiveMessage`, `DeleteMessage(Batch)`, `SendMessage`,
`ChangeMessageVisibilityBatch`, `GetQueueUrl` and `GetQueueAttributes` with the shapes boto3
returns, so that the pump, the dead-letter tools and the runtime's dead-letter sender run
unchanged. The semantics are SQS's standard queues as the faithful mode has them: a received
message is invisible for the queue's visibility timeout, a message received `maxReceiveCount`
times is moved to the DLQ on the next receive (same message id), a delete with any receipt
handle the message had removes it. Any other call raises and names the faithful mode.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from soorma_dev.localcloud.fast.database import Database

_SENDER_ID = "AIDAIENQZJOLO23YVJ4VO"
#: Long-poll pauses between two looks at an empty queue: from the first to the last, doubling.
POLL_SECONDS = (0.002, 0.05)


class FastModeUnsupported(AttributeError):
    """A call the fast mode does not offer (run the faithful mode: `soorma dev` without --fast).
    An `AttributeError`, so that `hasattr` on a fast client answers False."""


@dataclass(frozen=True)
class QueueInfo:
    """One queue's settings (a DLQ has no `dlq_url`)."""

    url: str
    name: str
    arn: str
    visibility_ms: int
    dlq_url: str | None
    max_receives: int | None


def now_ms() -> int:
    """The current time in whole milliseconds."""
    return int(time.time() * 1000)


class SqliteSqs:
    """A boto3-like SQS client over the fast mode's database."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._queues: dict[str, QueueInfo] = {}

    def queue(self, url: str) -> QueueInfo:
        """The queue at `url` (`QueueDoesNotExist`-like `KeyError` when there is none)."""
        found = self._queues.get(url)
        if found is None:
            for row in self.database.read("SELECT * FROM queues"):
                info = QueueInfo(*row)
                self._queues[info.url] = info
            found = self._queues.get(url)
            if found is None:
                raise KeyError(f"the fast local cloud has no queue {url!r}")
        return found

    def get_queue_url(self, *, QueueName: str, **_: Any) -> dict[str, Any]:
        """`GetQueueUrl`."""
        rows = self.database.read("SELECT url FROM queues WHERE name = ?", (QueueName,))
        if not rows:
            raise KeyError(f"the fast local cloud has no queue named {QueueName!r}")
        return {"QueueUrl": rows[0][0]}

    def send_message(
        self,
        *,
        QueueUrl: str,
        MessageBody: str,
        MessageAttributes: dict[str, Any] | None = None,
        DelaySeconds: int = 0,
    ) -> dict[str, Any]:
        """`SendMessage`."""
        self.queue(QueueUrl)
        message_id = str(uuid.uuid4())
        sent = now_ms()
        with self.database.write() as db:
            db.execute(
                "INSERT INTO messages (queue, message_id, body, attributes, sent_ms, visible_ms) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    QueueUrl,
                    message_id,
                    MessageBody,
                    json.dumps(MessageAttributes) if MessageAttributes else None,
                    sent,
                    sent + 1000 * DelaySeconds,
                ),
            )
        return {"MessageId": message_id, "MD5OfMessageBody": _md5(MessageBody)}

    def receive_message(
        self,
        *,
        QueueUrl: str,
        MaxNumberOfMessages: int = 1,
        WaitTimeSeconds: int = 0,
        VisibilityTimeout: int | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        """`ReceiveMessage` (every attribute), long-polling up to `WaitTimeSeconds`."""
        info = self.queue(QueueUrl)
        visibility = info.visibility_ms if VisibilityTimeout is None else 1000 * VisibilityTimeout
        deadline = time.monotonic() + WaitTimeSeconds
        pause = POLL_SECONDS[0]
        while True:
            # A look without the write lock first: an empty queue never blocks a writer.
            if self.database.read(
                "SELECT 1 FROM messages WHERE queue = ? AND visible_ms <= ? LIMIT 1",
                (QueueUrl, now_ms()),
            ):
                messages = self._take(info, max(1, min(10, MaxNumberOfMessages)), visibility)
                if messages:
                    return {"Messages": messages}
            if time.monotonic() >= deadline:
                return {}
            time.sleep(pause)
            pause = min(POLL_SECONDS[1], pause * 2)

    def _take(self, info: QueueInfo, count: int, visibility_ms: int) -> list[dict[str, Any]]:
        """Up to `count` visible messages, each at most once (as SQS: a message taken by this
        receive stays out of it even when `visibility_ms` is 0 and it is visible again at once;
        so one receive never counts a message twice, nor moves it to the DLQ)."""
        taken: list[dict[str, Any]] = []
        seen: list[int] = []  # the messages this receive took
        with self.database.write() as db:
            now = now_ms()
            while len(taken) < count:
                rows = db.execute(
                    "SELECT seq, message_id, body, attributes, sent_ms, receives, "
                    "first_receive_ms FROM messages WHERE queue = ? AND visible_ms <= ? "
                    f"AND seq NOT IN ({', '.join('?' * len(seen))}) "
                    "ORDER BY visible_ms LIMIT ?",
                    (info.url, now, *seen, count - len(taken)),
                ).fetchall()
                if not rows:
                    break
                for seq, message_id, body, attributes, sent, receives, first in rows:
                    seen.append(seq)
                    if info.max_receives is not None and receives >= info.max_receives:
                        # SQS's redrive policy: moved on the receive after the last allowed one
                        db.execute(
                            "UPDATE messages SET queue = ?, visible_ms = ?, receives = 0, "
                            "first_receive_ms = NULL WHERE seq = ?",
                            (info.dlq_url, now, seq),
                        )
                        continue
                    receives, first = receives + 1, first or now
                    db.execute(
                        "UPDATE messages SET receives = ?, first_receive_ms = ?, visible_ms = ? "
                        "WHERE seq = ?",
                        (receives, first, now + visibility_ms, seq),
                    )
                    message = {
                        "MessageId": message_id,
                        "ReceiptHandle": f"{seq}:{receives}",
                        "MD5OfBody": _md5(body),
                        "Body": body,
                        "Attributes": {
                            "ApproximateReceiveCount": str(receives),
                            "SentTimestamp": str(sent),
                            "SenderId": _SENDER_ID,
                            "ApproximateFirstReceiveTimestamp": str(first),
                        },
                    }
                    if attributes:
                        message["MessageAttributes"] = json.loads(attributes)
                    taken.append(message)
        return taken

    def delete_message_batch(
        self, *, QueueUrl: str, Entries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """`DeleteMessageBatch`."""
        with self.database.write() as db:
            db.executemany(
                "DELETE FROM messages WHERE seq = ? AND queue = ?",
                [(_seq(e["ReceiptHandle"]), QueueUrl) for e in Entries],
            )
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def delete_message(self, *, QueueUrl: str, ReceiptHandle: str) -> dict[str, Any]:
        """`DeleteMessage`."""
        self.delete_message_batch(
            QueueUrl=QueueUrl, Entries=[{"Id": "0", "ReceiptHandle": ReceiptHandle}]
        )
        return {}

    def change_message_visibility_batch(
        self, *, QueueUrl: str, Entries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """`ChangeMessageVisibilityBatch` (from now on, as SQS counts it)."""
        now = now_ms()
        with self.database.write() as db:
            db.executemany(
                "UPDATE messages SET visible_ms = ? WHERE seq = ? AND queue = ?",
                [
                    (now + 1000 * int(e["VisibilityTimeout"]), _seq(e["ReceiptHandle"]), QueueUrl)
                    for e in Entries
                ],
            )
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def get_queue_attributes(
        self, *, QueueUrl: str, AttributeNames: list[str] | None = None
    ) -> dict[str, Any]:
        """`GetQueueAttributes`: the message counts and `QueueArn`."""
        info = self.queue(QueueUrl)
        now = now_ms()
        visible, hidden, delayed = self.database.read(
            "SELECT COALESCE(SUM(visible_ms <= ?), 0), "
            "COALESCE(SUM(visible_ms > ? AND receives > 0), 0), "
            "COALESCE(SUM(visible_ms > ? AND receives = 0), 0) FROM messages WHERE queue = ?",
            (now, now, now, QueueUrl),
        )[0]
        every = {
            "ApproximateNumberOfMessages": str(visible),
            "ApproximateNumberOfMessagesNotVisible": str(hidden),
            "ApproximateNumberOfMessagesDelayed": str(delayed),
            "QueueArn": info.arn,
            "VisibilityTimeout": str(info.visibility_ms // 1000),
        }
        names = AttributeNames or ["All"]
        wanted = every if "All" in names else {n: every[n] for n in names if n in every}
        return {"Attributes": wanted}

    def depths(self, urls: list[str]) -> dict[str, int]:
        """Messages in each queue, visible or not (one query for all)."""
        counts = dict.fromkeys(urls, 0)
        for url, count in self.database.read("SELECT queue, COUNT(*) FROM messages GROUP BY queue"):
            if url in counts:
                counts[url] = count
        return counts

    def __getattr__(self, name: str) -> Any:
        raise unsupported("SQS", name)


def unsupported(service: str, name: str) -> FastModeUnsupported:
    """The error for a call of `service` the fast mode does not offer."""
    return FastModeUnsupported(
        f"{service} {name} is not offered by the local cloud's fast mode; run the faithful mode "
        "(`soorma dev` without --fast, `LocalCloud(fast=False)`)"
    )


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _seq(receipt_handle: str) -> int:
    try:
        return int(receipt_handle.split(":", 1)[0])
    except ValueError:
        raise ValueError(f"ReceiptHandleIsInvalid: {receipt_handle!r}") from None
