"""Exactly-once handling with Powertools idempotency.

The claim key is the envelope id plus the agent (never an SQS or EventBridge id), plus the replay
name for EventBridge replays. The idempotent function runs the handler and returns its outgoing
events, which Powertools stores with the completed record; a redelivery gets them back without
running the handler, and the runtime flushes them again (same ids).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from soorma.publishing import WireEvent
from soorma_common.delivery import TTL_ATTRIBUTE
from soorma_common.errors import ClaimInProgressError

WireEvents = list[WireEvent]


def claim_key(agent: str, event_id: str, replay: str | None = None) -> str:
    """The idempotency key of one agent handling one event (one replay counts as a new event)."""
    return f"{agent}#{event_id}" + (f"#replay={replay}" if replay else "")


class ClaimStore:
    """Runs work at most once per key, storing its result (outgoing events) in DynamoDB."""

    def __init__(
        self,
        table_name: str,
        *,
        expires_after_seconds: int,
        dynamodb_client: Any = None,
        persistence_layer: Any = None,
    ) -> None:
        """`persistence_layer` (a Powertools `BasePersistenceLayer`) replaces the DynamoDB layer
        on `table_name`, e.g. an in-memory one for tests; `dynamodb_client` is then unused."""
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
        )

        self._in_progress = IdempotencyAlreadyInProgressError
        self.config = IdempotencyConfig(expires_after_seconds=expires_after_seconds)
        if persistence_layer is None:
            if dynamodb_client is None:
                from soorma import clients

                dynamodb_client = clients.client("dynamodb")
            persistence_layer = DynamoDBPersistenceLayer(
                table_name=table_name, expiry_attr=TTL_ATTRIBUTE, boto3_client=dynamodb_client
            )
        #: The Powertools persistence layer the claims are kept in.
        self.persistence_layer = persistence_layer
        self._once = idempotent_function(
            data_keyword_argument="claim", persistence_store=persistence_layer, config=self.config
        )(_run_work)

    def register_lambda_context(self, lambda_context: Any) -> None:
        """Let Powertools bound in-progress claims by the invocation's remaining time."""
        if lambda_context is not None and hasattr(lambda_context, "get_remaining_time_in_millis"):
            self.config.register_lambda_context(lambda_context)

    def run_once(self, key: str, work: Callable[[], WireEvents]) -> WireEvents:
        """Run `work` unless `key` completed before; return its (stored) outgoing events."""
        try:
            result: WireEvents | None = self._once(claim={"key": key}, work=work)
        except self._in_progress:
            raise ClaimInProgressError(
                f"event claim {key!r} is held by another invocation; it will be retried"
            ) from None
        return result if result is not None else []  # Powertools gives a stored [] back as None


def _run_work(claim: dict[str, str], work: Callable[[], WireEvents]) -> WireEvents:
    return work()
