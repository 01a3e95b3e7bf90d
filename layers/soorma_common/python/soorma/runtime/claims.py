"""Exactly-once handling with Powertools idempotency.

The claim key is the envelope id plus the agent (never an SQS or EventBridge id), plus the replay
name for EventBridge replays. The idempotent function runs the handler and returns its outgoing
events in their stored form (`soorma.outbox`: the exact `Detail` of each, as base64), which
Powertools stores with the completed record; a redelivery gets them back without running the
handler, and the runtime flushes them again (same ids, same bytes).

An outbox DynamoDB refuses to store (over its 400 KB item limit: the bus budgets the stored form
at publish, so only a record from elsewhere gets here) is a permanent error: the claim is
released and the record dead-lettered with the reason, instead of staying in progress.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from soorma.outbox import StoredEvents
from soorma.runtime.records import DeliveredEvent
from soorma_common.delivery import TTL_ATTRIBUTE
from soorma_common.errors import ClaimExpiredError, ClaimInProgressError, OutboxNotStorableError


def claim_key(agent: str, event_id: str, replay: str | None = None) -> str:
    """The idempotency key of one agent handling one event (one replay counts as a new event)."""
    return f"{agent}#{event_id}" + (f"#replay={replay}" if replay else "")


def refuse_if_claim_expired(delivered: DeliveredEvent, key: str, ttl_seconds: int) -> bool:
    """Raise `ClaimExpiredError` (permanent) for a redelivered event with no claim that was put
    on the bus more than `ttl_seconds` ago: a claim made for it then has expired, so whether it
    was handled cannot be known (a dead letter redriven after the claim TTL). An event younger
    than the TTL with no claim was never handled: any claim made since it was put would still be
    there. An old event that does not say it was redriven (no `SoormaRedriven` message
    attribute: e.g. a producer's own old `Time`) is handled; returns True so the caller flags
    it.
    """
    age = delivered.age_seconds()
    if age is None or age <= ttl_seconds:
        return False
    if not delivered.redriven:
        return True
    raise ClaimExpiredError(
        f"event {delivered.envelope.id!r} was put on the bus {age:.0f} s ago, more than the "
        f"claim TTL ({ttl_seconds} s, SOORMA_IDEMPOTENCY_TTL_SECONDS), and has no claim "
        f"({key!r}): it may have been handled already, so it is not handled again. Publish "
        "it anew to have it handled, or keep claims longer"
    )


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
            IdempotencyPersistenceLayerError,
        )

        self._in_progress = IdempotencyAlreadyInProgressError
        self._not_saved = IdempotencyPersistenceLayerError
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

    def run_once(self, key: str, work: Callable[[], StoredEvents]) -> StoredEvents:
        """Run `work` unless `key` completed before; return its (stored) outgoing events.

        Raises `ClaimInProgressError` (transient) while another invocation holds the key, and
        `OutboxNotStorableError` (permanent, the claim released) when DynamoDB refuses the
        result as too large."""
        try:
            result: StoredEvents | None = self._once(claim={"key": key}, work=work)
        except self._in_progress:
            raise ClaimInProgressError(
                f"event claim {key!r} is held by another invocation; it will be retried"
            ) from None
        except self._not_saved as exc:
            if not _item_too_large(exc):
                raise
            self.persistence_layer.delete_record(data={"key": key}, exception=exc)
            raise OutboxNotStorableError(
                f"the events of claim {key!r} could not be stored with it: DynamoDB refused the "
                f"idempotency record as too large ({_cause(exc)}); nothing was published and "
                "the claim was released: publish fewer or smaller events"
            ) from exc
        return result if result is not None else []  # Powertools gives a stored [] back as None


def _run_work(claim: dict[str, str], work: Callable[[], StoredEvents]) -> StoredEvents:
    return work()


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    return f"{type(cause).__name__}: {str(cause)[:200]}"


def _item_too_large(exc: BaseException) -> bool:
    """Whether a failed save was DynamoDB's item size limit (a `ValidationException`)."""
    cause = exc.__cause__
    error = getattr(cause, "response", {}).get("Error", {}) if cause is not None else {}
    return error.get("Code") == "ValidationException" and "size" in str(error.get("Message"))
