"""SQS `ReceiveMessage` results -> the event that Lambda's SQS event-source mapping passes on."""

from __future__ import annotations

import hashlib
from typing import Any

from soorma.runtime.records import REDRIVEN_ATTRIBUTE

#: The SQS `MessageAttributes` every redrive tool sets on the messages it sends back: the runtime
#: refuses a redriven event whose claim has expired instead of handling it a second time.
REDRIVEN_MESSAGE_ATTRIBUTES: dict[str, dict[str, str]] = {
    REDRIVEN_ATTRIBUTE: {"DataType": "String", "StringValue": "true"}
}

#: What ReceiveMessage must ask for so that records carry what Lambda's records carry.
RECEIVE_ATTRIBUTES = ["All"]


def lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One Lambda SQS record (the shape in AWS's documentation) from a received message."""
    body = message["Body"]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def lambda_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The `{"Records": [...]}` event for a batch of received messages."""
    return {"Records": [lambda_record(m, queue_arn, region) for m in messages]}


def queue_region(queue_arn: str) -> str:
    """The region inside an SQS ARN."""
    return queue_arn.split(":")[3]
