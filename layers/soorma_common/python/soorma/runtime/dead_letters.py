"""Sending a permanently failed record to its queue's DLQ at once, with the reason attached."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from soorma import clients
from soorma_common.naming import dead_letter_queue_name, queue_name_from_arn

#: Message attributes set on dead letters sent by the runtime.
REASON_ATTRIBUTE = "SoormaError"
ERROR_TYPE_ATTRIBUTE = "SoormaErrorType"
SOURCE_QUEUE_ATTRIBUTE = "SoormaSourceQueue"
KIND_ATTRIBUTE = "SoormaDeadLetterKind"
PERMANENT_KIND = "permanent-error"

_MAX_REASON = 1000


class DeadLetterSender:
    """Sends a record's body to the DLQ of the queue it came from (`<queue>-dlq`).

    `send_message` defaults to the process's boto3 SQS client; the DLQ URL is looked up once per
    queue and cached.
    """

    def __init__(
        self,
        *,
        send_message: Callable[..., Any] | None = None,
        queue_url_of: Callable[[str, str], str] | None = None,
    ) -> None:
        self._send_message = send_message
        self._queue_url_of = queue_url_of or _lookup_queue_url
        self._urls: dict[str, str] = {}

    def dead_letter_url(self, source_queue_arn: str) -> str:
        """The URL of the DLQ that belongs to the queue with this ARN."""
        url = self._urls.get(source_queue_arn)
        if url is None:
            name = dead_letter_queue_name(queue_name_from_arn(source_queue_arn))
            account = source_queue_arn.split(":")[4] if source_queue_arn.count(":") >= 5 else ""
            url = self._urls[source_queue_arn] = self._queue_url_of(name, account)
        return url

    def send(self, record: dict[str, Any], error: BaseException) -> None:
        """Put the record's body in its DLQ with the error's reason, type and the source queue."""
        arn = str(record.get("eventSourceARN", ""))
        reason = str(error)[:_MAX_REASON] or type(error).__name__
        send = self._send_message or clients.client("sqs").send_message
        send(
            QueueUrl=self.dead_letter_url(arn),
            MessageBody=record.get("body") or "",
            MessageAttributes={
                REASON_ATTRIBUTE: {"DataType": "String", "StringValue": reason},
                ERROR_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": type(error).__name__},
                SOURCE_QUEUE_ATTRIBUTE: {
                    "DataType": "String",
                    "StringValue": queue_name_from_arn(arn),
                },
                KIND_ATTRIBUTE: {"DataType": "String", "StringValue": PERMANENT_KIND},
            },
        )


def _lookup_queue_url(name: str, account: str) -> str:
    kwargs = {"QueueName": name}
    if account and account.isdigit():
        kwargs["QueueOwnerAWSAccountId"] = account
    return str(clients.client("sqs").get_queue_url(**kwargs)["QueueUrl"])
