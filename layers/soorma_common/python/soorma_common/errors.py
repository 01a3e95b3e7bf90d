"""The one error hierarchy of Soorma.

Every error is either *permanent* (retrying cannot help: bad payload, unknown topic, schema
mismatch, oversized event, forged source) or *transient* (retrying may help: throttling, a
partial PutEvents failure, an idempotency claim still in progress). The runtime sends permanent
errors to the dead-letter queue at once and reports transient ones for redelivery.
"""

from __future__ import annotations


class SoormaError(Exception):
    """Base class of every error raised by Soorma."""

    #: Whether retrying the same input can succeed.
    transient: bool = False


class PermanentError(SoormaError):
    """An error that no retry can fix: the input or the code must change."""

    transient = False


class TransientError(SoormaError):
    """An error that a later retry may not meet (throttling, contention, partial failure)."""

    transient = True


class UnknownTopicError(PermanentError, ValueError):
    """A topic name outside the 8 fixed topics."""


class InvalidEnvelopeError(PermanentError, ValueError):
    """An event envelope that does not satisfy the wire contract."""


class InvalidEventTypeError(PermanentError, ValueError):
    """An event type (or subscription pattern) outside the naming rule of the wire contract."""


class MalformedRecordError(PermanentError, ValueError):
    """An SQS record whose body is not an EventBridge event carrying an envelope."""


class ForgedSourceError(PermanentError):
    """An envelope whose `source` differs from the EventBridge `source` it arrived with."""


class NoHandlerError(PermanentError):
    """An event that reached an agent with no handler for its type and topic."""


class EventTooLargeError(PermanentError, ValueError):
    """An envelope over the size limit (`SOORMA_MAX_EVENT_BYTES`)."""


class TrustViolationError(PermanentError):
    """An attempt, inside a handler, to change the handled event's tenant, user or correlation."""


class UndeclaredEventError(PermanentError):
    """A publish of an event type the agent did not list in `events_produced`."""


class SchemaValidationError(PermanentError, ValueError):
    """A payload that does not match its event's registered schema."""


class DomainError(PermanentError):
    """A business failure raised by a handler on purpose.

    When the handled event is a request with a `response_event`, the runtime replies
    `{"success": false, "error": str(exc)}` to the requester instead of dead-lettering it.
    """


class PublishError(TransientError):
    """PutEvents still reported failed entries after every retry."""


class ClaimInProgressError(TransientError):
    """Another invocation is handling the same event right now (idempotency claim held)."""


class TenantIsolationError(PermanentError):
    """A call that names a tenant other than the handled event's."""


class IllegalTransitionError(PermanentError, ValueError):
    """A plan status change that the plan state machine does not allow."""


class VersionConflictError(TransientError):
    """A compare-and-set whose expected version no longer holds."""


class NotFoundError(PermanentError, LookupError):
    """A plan, session or task that does not exist (for the caller's tenant and user)."""


class AlreadyExistsError(PermanentError):
    """A create whose unique key (e.g. `(tenant_id, plan_id)`) is already taken."""


class OutboxNotStorableError(EventTooLargeError):
    """A handler's outgoing events that cannot be kept in one idempotency record (DynamoDB's
    400 KB item limit)."""


class UnreadableClaimError(PermanentError):
    """An idempotency record whose stored events cannot be read back (not written by this
    runtime)."""


class ClaimExpiredError(PermanentError):
    """A redelivered event older than the claim TTL whose claim is gone: whether it was handled
    before can no longer be known, so it is not handled again."""


class LoopDetectedError(PermanentError):
    """An event whose hop count (causation depth) is over `SOORMA_MAX_HOPS`."""


class ForgedReplyError(PermanentError):
    """A reply that names no request its addressee sent, or that comes from an agent the request
    could not have reached (the requester itself)."""


class UnreachableReplyError(PermanentError, ValueError):
    """A request whose reply would go where its requester has no result handler listening."""


class DeadlinesNotConfiguredError(PermanentError):
    """`request(..., timeout=)` where no deadline can be set (no Scheduler role configured)."""


class UnloggableEventError(PermanentError, ValueError):
    """An event the event log cannot store as one DynamoDB item: a key or the item over
    DynamoDB's limits, or data its serialiser cannot write back."""


class RegistryNotConfiguredError(PermanentError, RuntimeError):
    """No usable registry table: `SOORMA_REGISTRY_TABLE` is unset, or names no table (the stack
    and the local cloud set it for every agent function)."""


class RegistryTableNotFoundError(RegistryNotConfiguredError, LookupError):
    """`SOORMA_REGISTRY_TABLE` (or the table a registry client was given) names a DynamoDB table
    that does not exist in the client's account and region."""


class RegistryEntryTooLargeError(PermanentError, ValueError):
    """A registry entry (an event with its schemas, or an agent) over DynamoDB's 400 KB item
    limit: refused before any write."""


class UnstorableNumberError(PermanentError, ValueError):
    """A number DynamoDB cannot hold (more than 38 significant digits, or a magnitude outside
    1E-130 to 9.99E+125) in a value to be stored: the message names where it is."""


class EmptyDelegationError(PermanentError, ValueError):
    """A delegation of no sub-request (`delegate_parallel([])`): nothing could ever reply."""
