"""The runtime's `Transport` in a fast-mode worker, and the boto3 session that routes the
`events` and `sqs` clients of the worker's other code (custom transports, tools) the same way.

Only the bus, the queues and the claims leave moto: pending requests and request deadlines
(DynamoDB, Scheduler), memory and the registry stay on the moto server, as in the faithful mode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import boto3

from soorma.config import Settings
from soorma.publishing import PutEventsEntry
from soorma.runtime.aws_transport import AwsTransport
from soorma.runtime.dead_letters import DeadLetterSender
from soorma.runtime.transport import ClaimKeeper, SqsRecord
from soorma_common.errors import PermanentError
from soorma_dev.localcloud.fast.store import FastStore


class FastTransport:
    """PutEvents routed in process, dead letters into the DLQ table (with the attributes the
    runtime's `DeadLetterSender` sets on AWS), claims in the claims table."""

    def __init__(self, store: FastStore, conf: Settings) -> None:
        self.store = store
        aws = AwsTransport(conf)  # its pending requests and deadlines: DynamoDB/Scheduler on moto
        #: The agent's sent requests (replies are checked against them), on moto.
        self.pending_requests = aws.pending_requests
        #: Request deadlines as Scheduler schedules, on moto (fired by the cloud's pump).
        self.deadlines = aws.deadlines
        self._claims: ClaimKeeper | None = (
            store.claims(expires_after_seconds=conf.idempotency_ttl_seconds)
            if aws.claims is not None
            else None
        )
        self._dead_letters = DeadLetterSender(store.sqs)

    @property
    def claims(self) -> ClaimKeeper | None:
        """The SQLite claim keeper (None when idempotency is off)."""
        return self._claims

    def put_entries(self, entries: Sequence[PutEventsEntry]) -> Mapping[int, str]:
        """One PutEvents request, routed by this process."""
        return self.store.eventbridge.put_entries(entries)

    def dead_letter(self, record: SqsRecord, error: PermanentError) -> None:
        """Put the record's body in its queue's DLQ with the error's reason."""
        self._dead_letters.send(record, error)


class WithStoreClaims:
    """A transport of the agent's own (a `Transport` subclass or wrapper) with the fast
    store's claims: every other attribute is the wrapped transport's."""

    def __init__(self, inner: Any, claims: ClaimKeeper) -> None:
        self._inner = inner
        self._claims = claims

    @property
    def claims(self) -> ClaimKeeper:
        """The SQLite claim keeper."""
        return self._claims

    def put_entries(self, entries: Sequence[PutEventsEntry]) -> Mapping[int, str]:
        """The wrapped transport's PutEvents (its `events` client is the store's)."""
        result: Mapping[int, str] = self._inner.put_entries(entries)
        return result

    def dead_letter(self, record: SqsRecord, error: PermanentError) -> None:
        """The wrapped transport's dead letter (its `sqs` client is the store's)."""
        self._inner.dead_letter(record, error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class FastSession(boto3.session.Session):  # type: ignore[misc]
    """A boto3 session whose `events` and `sqs` clients are the fast store's; every other
    service is a real client (of the moto server, through `AWS_ENDPOINT_URL`)."""

    def __init__(self, store: FastStore, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        """The fast store's client for `events` and `sqs`, else a boto3 client."""
        if service_name == "events":
            return self.store.eventbridge
        if service_name == "sqs":
            return self.store.sqs
        return super().client(service_name, *args, **kwargs)


def install_default_session(store: FastStore) -> None:
    """Make the `events` and `sqs` clients of this process the store's: `boto3.client(...)`'s
    and the runtime's own (`soorma.clients`, botocore clients without boto3)."""
    from soorma import clients

    boto3.DEFAULT_SESSION = FastSession(store)
    clients.use("events", store.eventbridge)
    clients.use("sqs", store.sqs)
