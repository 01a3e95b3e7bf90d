"""`RegistryTable`: reading and writing registry items in DynamoDB (low-level client)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from soorma import clients
from soorma.registry.records import (
    AgentRecord,
    Catalog,
    EventRecord,
    agent_key,
    event_key,
    from_item,
    to_item,
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
        record = self._get(event_key(name))
        return record if isinstance(record, EventRecord) else None

    def get_agent(self, name: str) -> AgentRecord | None:
        """One agent (a consistent read), or None."""
        record = self._get(agent_key(name))
        return record if isinstance(record, AgentRecord) else None

    def catalog(self) -> Catalog:
        """Every event and agent (a paginated Scan: the registry is small)."""
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        records: list[EventRecord | AgentRecord] = []
        paginator = self.dynamodb.get_paginator("scan")
        for page in paginator.paginate(TableName=self.name, ConsistentRead=True):
            for raw in page.get("Items", []):
                item = {k: deserializer.deserialize(v) for k, v in raw.items()}
                record = from_item(item)
                if record is not None:
                    records.append(record)
        return Catalog.from_records(records)

    def put(self, record: EventRecord | AgentRecord) -> None:
        """Write (replace) one record."""
        from boto3.dynamodb.types import TypeSerializer

        serializer = TypeSerializer()
        item = {k: serializer.serialize(v) for k, v in to_item(record, _now()).items()}
        self.dynamodb.put_item(TableName=self.name, Item=item)

    def delete(self, record: EventRecord | AgentRecord) -> None:
        """Delete one record."""
        key = event_key(record.name) if isinstance(record, EventRecord) else agent_key(record.name)
        self.dynamodb.delete_item(TableName=self.name, Key={k: {"S": v} for k, v in key.items()})

    def _get(self, key: dict[str, str]) -> EventRecord | AgentRecord | None:
        from boto3.dynamodb.types import TypeDeserializer

        response = self.dynamodb.get_item(
            TableName=self.name, Key={k: {"S": v} for k, v in key.items()}, ConsistentRead=True
        )
        raw = response.get("Item")
        if raw is None:
            return None
        deserializer = TypeDeserializer()
        return from_item({k: deserializer.deserialize(v) for k, v in raw.items()})
