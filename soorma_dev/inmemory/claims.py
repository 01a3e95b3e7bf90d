"""Exactly-once claims in a dict: the runtime's `ClaimStore` over an in-memory Powertools
persistence layer with DynamoDB's put condition."""

from __future__ import annotations

import time

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import (
    STATUS_CONSTANTS,
    DataRecord,
)

from soorma.runtime.claims import ClaimStore


class InMemoryPersistenceLayer(BasePersistenceLayer):
    """A Powertools idempotency persistence layer in a dict, with DynamoDB's put condition:
    a key may be taken only if absent, expired, or in progress past its in-progress expiry."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        try:
            return self.records[idempotency_key]
        except KeyError:
            raise IdempotencyItemNotFoundError from None

    def _put_record(self, data_record: DataRecord) -> None:
        old = self.records.get(data_record.idempotency_key)
        now = time.time()
        if old is not None and (old.expiry_timestamp or 0) >= now:
            stale_claim = (
                old.status == STATUS_CONSTANTS["INPROGRESS"]
                and old.in_progress_expiry_timestamp is not None
                and old.in_progress_expiry_timestamp < now * 1000
            )
            if not stale_claim:
                raise IdempotencyItemAlreadyExistsError(old_data_record=old)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


class InMemoryClaimStore(ClaimStore):
    """The runtime's `ClaimStore` (Powertools idempotency, the same `run_once`) over an in-memory
    persistence layer instead of DynamoDB."""

    def __init__(self, *, expires_after_seconds: int = 3600) -> None:
        self.persistence = InMemoryPersistenceLayer()
        super().__init__(
            "in-memory",
            expires_after_seconds=expires_after_seconds,
            persistence_layer=self.persistence,
        )
