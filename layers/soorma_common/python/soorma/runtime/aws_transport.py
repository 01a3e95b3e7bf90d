"""The default `Transport`: boto3 clients of the process (EventBridge, SQS, DynamoDB)."""

from __future__ import annotations

from soorma.config import Settings, settings
from soorma.deadlines import Deadlines, SchedulerDeadlines
from soorma.publishing import EventBridgeSink
from soorma.requests import DynamoDBPendingRequests, PendingRequests
from soorma.runtime.claims import ClaimStore
from soorma.runtime.dead_letters import DeadLetterSender
from soorma.runtime.transport import ClaimKeeper, SqsRecord
from soorma_common.errors import PermanentError


class AwsTransport(EventBridgeSink):
    """PutEvents on EventBridge, dead letters to the source queue's DLQ on SQS, claims in the
    idempotency table (direct conditional writes on DynamoDB) when `SOORMA_IDEMPOTENCY` is on and
    `SOORMA_IDEMPOTENCY_TABLE` is set, and the agent's sent requests in that table when it is
    set (`soorma.requests`)."""

    def __init__(self, conf: Settings | None = None) -> None:
        super().__init__()
        conf = conf or settings()
        self._dead_letters = DeadLetterSender()
        table = conf.idempotency_table
        self._claims: ClaimKeeper | None = (
            ClaimStore(table, expires_after_seconds=conf.idempotency_ttl_seconds)
            if conf.idempotency and table
            else None
        )
        #: The agent's sent requests (replies are checked against them), or None without a table.
        self.pending_requests: PendingRequests | None = (
            DynamoDBPendingRequests(table, ttl_seconds=conf.idempotency_ttl_seconds)
            if table
            else None
        )
        #: Request deadlines as Scheduler schedules, or None when the stack gave no role for them.
        self.deadlines: Deadlines | None = (
            SchedulerDeadlines(
                bus_arn=conf.event_bus_arn,
                role_arn=conf.deadline_role_arn,
                group=conf.schedule_group,
            )
            if conf.event_bus_arn and conf.deadline_role_arn and self.pending_requests
            else None
        )

    @property
    def claims(self) -> ClaimKeeper | None:
        """The DynamoDB claim store, or None when idempotency is off or has no table."""
        return self._claims

    def dead_letter(self, record: SqsRecord, error: PermanentError) -> None:
        """`SendMessage` of the record's body to `<queue>-dlq`, the reason as attributes."""
        self._dead_letters.send(record, error)
