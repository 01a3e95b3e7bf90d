"""Sending a permanently failed record to its queue's DLQ at once, with the reason attached."""

from __future__ import annotations

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


def dead_letter_reason(error: BaseException) -> str:
    """The reason a dead letter carries (`SoormaError`): the error's message, cut to 1000
    characters, or its type when it has none; text UTF-8 cannot carry (a lone surrogate from
    an escaped JSON string) is written as its escape."""
    reason = str(error)[:_MAX_REASON] or type(error).__name__
    return reason.encode("utf-8", "backslashreplace").decode("utf-8")


class DeadLetterSender:
    """Sends a record's body to the DLQ of the queue it came from (`<queue>-dlq`) with SQS.

    `sqs` is a boto3 SQS client (default: the process's, built on first use); the DLQ URL is
    looked up once per queue and cached.
    """

    def __init__(self, sqs: Any = None) -> None:
        self._sqs = sqs
        self._urls: dict[str, str] = {}

    @property
    def sqs(self) -> Any:
        """The boto3 SQS client used."""
        return self._sqs or clients.client("sqs")

    def dead_letter_url(self, source_queue_arn: str) -> str:
        """The URL of the DLQ that belongs to the queue with this ARN."""
        url = self._urls.get(source_queue_arn)
        if url is None:
            name = dead_letter_queue_name(queue_name_from_arn(source_queue_arn))
            account = source_queue_arn.split(":")[4] if source_queue_arn.count(":") >= 5 else ""
            kwargs = {"QueueName": name}
            if account.isdigit():
                kwargs["QueueOwnerAWSAccountId"] = account
            url = self._urls[source_queue_arn] = str(self.sqs.get_queue_url(**kwargs)["QueueUrl"])
        return url

    def send(self, record: dict[str, Any], error: BaseException) -> None:
        """Put the record's body in its DLQ with the error's reason, type and the source queue."""
        arn = str(record.get("eventSourceARN", ""))
        self.sqs.send_message(
            QueueUrl=self.dead_letter_url(arn),
            MessageBody=record.get("body") or "",
            MessageAttributes={
                REASON_ATTRIBUTE: {"DataType": "String", "StringValue": dead_letter_reason(error)},
                ERROR_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": type(error).__name__},
                SOURCE_QUEUE_ATTRIBUTE: {
                    "DataType": "String",
                    "StringValue": queue_name_from_arn(arn),
                },
                KIND_ATTRIBUTE: {"DataType": "String", "StringValue": PERMANENT_KIND},
            },
        )
