"""The stubbed AWS both benchmarked handlers talk to: one in-memory DynamoDB table (the calls
the claim store makes) and one PutEvents that accepts everything; the Soorma runtime gets
them as one `Transport` (`StubTransport`), the hand-written handler as boto3-shaped objects.

Two forms of the same stubs: plain objects (for the throughput run, so that what is measured is
the handlers' own work), and botocore `before-call` hooks on real boto3 clients (for the cold
start run, so that both handlers pay for boto3 exactly as on Lambda, without any network).
"""

from __future__ import annotations

import uuid
from typing import Any


class ConditionalCheckFailed(Exception):
    """What the stub raises when a key exists (never happens with fresh event ids)."""


class StubTable:
    """An in-memory DynamoDB table keyed by `id` (put_item, get_item, update_item, delete_item)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.calls = 0

    def reset(self) -> None:
        self.items.clear()
        self.calls = 0

    def put_item(self, *, Item: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.calls += 1
        key = Item["id"]["S"]
        if key in self.items:
            from botocore.exceptions import ClientError

            raise ClientError(
                {
                    "Error": {"Code": "ConditionalCheckFailedException", "Message": "exists"},
                    "Item": self.items[key],
                },
                "PutItem",
            )
        self.items[key] = dict(Item)
        return {}

    def get_item(self, *, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.calls += 1
        item = self.items.get(Key["id"]["S"])
        return {"Item": item} if item else {}

    def update_item(
        self,
        *,
        Key: dict[str, Any],
        ExpressionAttributeNames: dict[str, str],
        ExpressionAttributeValues: dict[str, Any],
        **_: Any,
    ) -> dict[str, Any]:
        self.calls += 1
        item = self.items.setdefault(Key["id"]["S"], dict(Key))
        for placeholder, name in ExpressionAttributeNames.items():
            value = ExpressionAttributeValues.get(":" + placeholder[1:])
            if value is not None:
                item[name] = value
        return {}

    def delete_item(self, *, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.calls += 1
        self.items.pop(Key["id"]["S"], None)
        return {}


class StubPutEvents:
    """PutEvents that accepts every entry and counts calls and entries."""

    def __init__(self) -> None:
        self.calls = 0
        self.entries = 0

    def reset(self) -> None:
        self.calls = self.entries = 0

    def __call__(self, *, Entries: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        self.calls += 1
        self.entries += len(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"} for _ in Entries]}


class StubTransport:
    """The Soorma runtime's `Transport` over the stubs: PutEvents to `put`, claims in `table`
    (the runtime's own `ClaimStore`, conditional writes on a DynamoDB client), dead letters
    counted (the benchmark sends none). `claims=False`: no claim store, as with
    `SOORMA_IDEMPOTENCY=off`."""

    def __init__(self, table: Any, put: Any, *, claims: bool = True) -> None:
        from soorma.runtime.claims import ClaimStore

        self.put = put
        self.dead_letters = 0
        self._claims = (
            ClaimStore("bench-idempotency", expires_after_seconds=86400, dynamodb_client=table)
            if claims
            else None
        )

    @property
    def claims(self) -> Any:
        return self._claims

    def put_entries(self, entries: Any) -> dict[int, str]:
        from soorma.publishing import failed_entries

        return failed_entries(self.put(Entries=list(entries)), len(entries))

    def dead_letter(self, record: dict[str, Any], error: BaseException) -> None:
        self.dead_letters += 1


def answer_without_network(client: Any, table: StubTable | None = None) -> None:
    """Make a real boto3 client answer DynamoDB / PutEvents calls from the stubs (botocore
    `before-call` hook: parameters are validated and serialized as usual, nothing is sent)."""
    from botocore.awsrequest import AWSResponse

    table = table or StubTable()

    def before_call(model: Any, params: Any, **_: Any) -> tuple[Any, dict[str, Any]]:
        name = model.name
        if name == "PutEvents":
            count = len(model_params(params).get("Entries", []))
            parsed: dict[str, Any] = {
                "FailedEntryCount": 0,
                "Entries": [{"EventId": str(uuid.uuid4())} for _ in range(count)],
            }
        else:
            parsed = {}
        return AWSResponse("https://stub.invalid/", 200, {}, None), parsed

    client.meta.events.register("before-call.*.*", before_call)


def model_params(params: Any) -> dict[str, Any]:
    """The JSON body of a serialized request (PutEvents uses the JSON protocol)."""
    import json

    body = params.get("body") if isinstance(params, dict) else None
    if isinstance(body, bytes | str) and body:
        loaded: dict[str, Any] = json.loads(body)
        return loaded
    return {}
