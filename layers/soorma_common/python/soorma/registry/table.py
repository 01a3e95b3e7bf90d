"""`RegistryTable`: reading and writing registry items in DynamoDB (low-level client)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from soorma import clients
from soorma.dynamodb_items import ITEM_LIMIT_BYTES, item_size
from soorma.registry.entries import (
    AgentRecord,
    Catalog,
    EventRecord,
    agent_key,
    event_key,
    from_item,
    to_item,
)
from soorma.registry.schemas import check_event_schemas
from soorma_common.errors import (
    RegistryEntryTooLargeError,
    RegistryTableNotFoundError,
    VersionConflictError,
)

#: The attribute every write sets to a fresh token: what a conditional write compares.
REVISION_ATTRIBUTE = "revision"
_Record = TypeVar("_Record", EventRecord, AgentRecord)


@dataclass(frozen=True)
class Revision:
    """What a reader saw of one item: whether it existed and its revision token (None for an
    item written before revisions existed)."""

    exists: bool
    token: str | None = None

    def condition(self) -> dict[str, Any]:
        """The `ConditionExpression` arguments of a write that expects this item unchanged."""
        if not self.exists:
            return {"ConditionExpression": "attribute_not_exists(pk)"}
        if self.token is None:
            return {
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#rev)",
                "ExpressionAttributeNames": {"#rev": REVISION_ATTRIBUTE},
            }
        return {
            "ConditionExpression": "#rev = :rev",
            "ExpressionAttributeNames": {"#rev": REVISION_ATTRIBUTE},
            "ExpressionAttributeValues": {":rev": {"S": self.token}},
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _item(record: EventRecord | AgentRecord) -> dict[str, Any]:
    """The low-level DynamoDB item `put` writes for `record` (a fresh revision token)."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    fields = {**to_item(record, _now()), REVISION_ATTRIBUTE: uuid.uuid4().hex}
    return {k: serializer.serialize(v) for k, v in fields.items()}


def entry_size(record: EventRecord | AgentRecord) -> int:
    """The size of `record`'s item as DynamoDB counts it (UTF-8 attribute names and values)."""
    return item_size(_item(record))


def check_entry_size(record: EventRecord | AgentRecord) -> int:
    """Return the size of `record`'s item, or raise `RegistryEntryTooLargeError` (permanent)
    naming the entry, its size and DynamoDB's 400 KB item limit."""
    size = entry_size(record)
    if size > ITEM_LIMIT_BYTES:
        raise RegistryEntryTooLargeError(_too_large(record, size))
    return size


def _too_large(record: EventRecord | AgentRecord, size: int) -> str:
    what = "event" if isinstance(record, EventRecord) else "agent"
    return (
        f"registry entry of {what} {record.name!r} would be {size:,} bytes, over DynamoDB's item "
        f"limit of {ITEM_LIMIT_BYTES:,} bytes (400 KB): shorten its schemas, descriptions or "
        "metadata (move long enums, examples and documentation out of the schema)"
    )


def fitted(record: _Record) -> _Record:
    """`record`, without the previous schemas it keeps for a rollback when they would take its
    item over DynamoDB's 400 KB (then `history_dropped` says so): a change must succeed whenever
    the new schemas alone fit. Other records are returned as they are."""
    if not isinstance(record, EventRecord) or (
        record.previous_payload_schema is None and record.previous_response_schema is None
    ):
        return record
    if entry_size(record) <= ITEM_LIMIT_BYTES:
        return record
    return record.model_copy(
        update={
            "previous_payload_schema": None,
            "previous_response_schema": None,
            "history_dropped": True,
        }
    )


class RegistryTable:
    """One registry table. `dynamodb` is a boto3 DynamoDB client (default: the process's own)."""

    def __init__(self, name: str, *, dynamodb: Any = None) -> None:
        self.name = name
        self._dynamodb = dynamodb

    @property
    def dynamodb(self) -> Any:
        """The DynamoDB client in use."""
        if self._dynamodb is None:
            self._dynamodb = clients.client("dynamodb")
        return self._dynamodb

    def get_event(self, name: str) -> EventRecord | None:
        """One event (a consistent read), or None."""
        record, _ = self._get(event_key(name))
        return record if isinstance(record, EventRecord) else None

    def get_event_for_update(self, name: str) -> tuple[EventRecord | None, Revision]:
        """One event (a consistent read) and the revision a conditional `put` expects."""
        record, revision = self._get(event_key(name))
        return (record if isinstance(record, EventRecord) else None), revision

    def get_agent(self, name: str) -> AgentRecord | None:
        """One agent (a consistent read), or None."""
        record, _ = self._get(agent_key(name))
        return record if isinstance(record, AgentRecord) else None

    def catalog(self) -> Catalog:
        """Every event and agent (a paginated Scan: the registry is small)."""
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        records: list[EventRecord | AgentRecord] = []
        paginator = self.dynamodb.get_paginator("scan")
        with self._existing_table():
            for page in paginator.paginate(TableName=self.name, ConsistentRead=True):
                for raw in page.get("Items", []):
                    item = {k: deserializer.deserialize(v) for k, v in raw.items()}
                    record = from_item(item)
                    if record is not None:
                        records.append(record)
        return Catalog.from_records(records)

    def put(self, record: EventRecord | AgentRecord, *, expected: Revision | None = None) -> None:
        """Write (replace) one record; with `expected`, only if the item is still as read
        (`VersionConflictError` otherwise). Refused before any write: an event whose schemas are
        not valid JSON Schemas (`InvalidSchemaError`), and an item over DynamoDB's 400 KB
        (`RegistryEntryTooLargeError`; pass the record through `fitted` first to drop the
        history that does not fit)."""
        if isinstance(record, EventRecord):
            check_event_schemas(record.name, record.payload_schema, record.response_schema)

        item = _item(record)
        size = item_size(item)
        if size > ITEM_LIMIT_BYTES:
            raise RegistryEntryTooLargeError(_too_large(record, size))
        condition = expected.condition() if expected is not None else {}
        try:
            with self._existing_table():
                self.dynamodb.put_item(TableName=self.name, Item=item, **condition)
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            raise VersionConflictError(
                f"registry entry {record.name!r} changed while it was being written"
            ) from None

    def delete(self, record: EventRecord | AgentRecord) -> None:
        """Delete one record."""
        key = event_key(record.name) if isinstance(record, EventRecord) else agent_key(record.name)
        with self._existing_table():
            self.dynamodb.delete_item(
                TableName=self.name, Key={k: {"S": v} for k, v in key.items()}
            )

    @contextmanager
    def _existing_table(self) -> Iterator[None]:
        """Turn DynamoDB's `ResourceNotFoundException` into `RegistryTableNotFoundError`."""
        from botocore.exceptions import ClientError

        try:
            yield
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            region = getattr(self.dynamodb.meta, "region_name", None) or "the default region"
            raise RegistryTableNotFoundError(
                f"registry table {self.name!r} does not exist in {region} (DynamoDB "
                "ResourceNotFoundException): set "
                "SOORMA_REGISTRY_TABLE to the registry table of the deployed stack (the CDK stack "
                "and `soorma dev` set it for every agent function), or deploy the stack"
            ) from None

    def _get(self, key: dict[str, str]) -> tuple[EventRecord | AgentRecord | None, Revision]:
        from boto3.dynamodb.types import TypeDeserializer

        with self._existing_table():
            response = self.dynamodb.get_item(
                TableName=self.name, Key={k: {"S": v} for k, v in key.items()}, ConsistentRead=True
            )
        raw = response.get("Item")
        if raw is None:
            return None, Revision(exists=False)
        deserializer = TypeDeserializer()
        item = {k: deserializer.deserialize(v) for k, v in raw.items()}
        token = item.get(REVISION_ATTRIBUTE)
        return from_item(item), Revision(exists=True, token=None if token is None else str(token))
