"""What you can do with a running local cloud, in its own process or from another terminal."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soorma_common.envelope import EventEnvelope
from soorma_dev.envelopes import OutsideSender, put_envelopes
from soorma_dev.localcloud.activity import ActivityLog
from soorma_dev.localcloud.dead_letters import DeadLetterQueues
from soorma_dev.localcloud.models import ActivityLine
from soorma_dev.localcloud.trace import PARTITION_PREFIX, handlings_of, logged_envelopes
from soorma_dev.provision import Platform
from soorma_dev.testing.records import (
    DeadLetter,
    Handling,
    TraceNode,
    causation_tree,
    last_failure_reasons,
)

if TYPE_CHECKING:  # pragma: no cover
    from soorma_dev.localcloud.fast.store import FastStore


class CloudOperations(OutsideSender):
    """The harness verbs (`soorma_dev.testing.AgentHarness`: send, run_until_idle, handlings,
    dead_letters, redrive, trace) and `activity`, on a platform reached through `session`."""

    session: Any
    platform: Platform
    state_dir: Path
    activity_log: ActivityLog

    #: The fast mode's database (queues, claims, event log), None in the faithful mode.
    store: FastStore | None = None

    def _bind(
        self,
        session: Any,
        platform: Platform,
        state_dir: Path,
        activity: ActivityLog,
        store: FastStore | None = None,
    ) -> None:
        self.session = session
        self.store = store
        self.platform = platform
        self.state_dir = Path(state_dir)
        self.activity_log = activity
        self._clients: dict[str, Any] = {}
        self._counted = 0  # activity lines already returned by run_until_idle

    def client(self, service: str) -> Any:
        """A cached boto3 client of the local endpoint (in the fast mode, `events` and `sqs`
        are the fast store's)."""
        if self.store is not None and service in ("events", "sqs"):
            return self.store.eventbridge if service == "events" else self.store.sqs
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]

    # ---- events in ----------------------------------------------------------------------------

    #: `soorma send` and other terminals send as the CLI.
    default_source = "soorma.cli"

    def put_outside(self, envelopes: Sequence[EventEnvelope]) -> None:
        """What `send` puts with (a real PutEvents, see `publish`)."""
        self.publish(envelopes)

    def publish(self, envelopes: Sequence[EventEnvelope]) -> None:
        """Put ready-made envelopes on the bus (PutEvents, 10 per call, failed entries retried)."""
        put_envelopes(
            self.platform.bus_name,
            self.client("events"),
            envelopes,
            idempotency_table=self.platform.tables["idempotency"],
            dynamodb_client=self.client("dynamodb"),
        )

    # ---- waiting ------------------------------------------------------------------------------

    def wait_until_idle(self, timeout: float = 30.0) -> None:
        """Return once the platform is idle (`LocalCloud`, the process that runs the workers)."""
        raise NotImplementedError(
            "only the process that started the local cloud can wait for its workers: "
            "call run_until_idle on the LocalCloud itself"
        )

    def run_until_idle(self, timeout: float = 60.0) -> int:
        """Wait until every queue is empty with nothing in flight and the dead letters are
        recorded; return how many handlings were made since the previous call (or the start).
        The workers run on their own: what they handled before this call counts too.
        `TimeoutError` after `timeout` s."""
        self.wait_until_idle(timeout)
        total = len(self.activity())
        made, self._counted = total - self._counted, total
        return made

    # ---- what happened ------------------------------------------------------------------------

    def activity(self, since: int = 0) -> list[ActivityLine]:
        """Every handling outcome so far, in order; `since` skips the first lines (a cursor)."""
        return self.activity_log.read(since)

    def handlings(self, agent: str | None = None) -> list[Handling]:
        """Every record delivered (to one agent, or to any) and its outcome, in order."""
        return [h for h in handlings_of(self.activity()) if agent is None or h.agent == agent]

    def trace(self, correlation_id: str) -> list[TraceNode]:
        """The causation tree of one workflow (roots first), from the event log and activity."""
        if self.store is not None:
            envelopes = self.store.logged_envelopes(correlation_id)
        else:
            envelopes = logged_envelopes(
                self.client("dynamodb"), self.platform.tables["events"], correlation_id
            )
        return causation_tree(envelopes, self.handlings())

    def logged_correlation_ids(self, prefix: str) -> list[str]:
        """The correlation ids in the event log that start with `prefix` (a scan: local only)."""
        if self.store is not None:
            return self.store.logged_correlation_ids(prefix)
        found: set[str] = set()
        pages = (
            self.client("dynamodb")
            .get_paginator("scan")
            .paginate(
                TableName=self.platform.tables["events"],
                FilterExpression="begins_with(pk, :prefix)",
                ExpressionAttributeValues={":prefix": {"S": PARTITION_PREFIX + prefix}},
                ProjectionExpression="pk",
            )
        )
        for page in pages:
            found.update(item["pk"]["S"].removeprefix(PARTITION_PREFIX) for item in page["Items"])
        return sorted(found)

    # ---- dead letters -------------------------------------------------------------------------

    def dead_letter_queues(self) -> DeadLetterQueues:
        """The DLQs of the platform."""
        return DeadLetterQueues(
            self.platform,
            self.client("sqs"),
            self.state_dir,
            lambda: last_failure_reasons(self.handlings()),
        )

    def dead_letters(self, agent: str | None = None) -> list[DeadLetter]:
        """Every dead letter of every agent (or of one), with its kind and the last error."""
        return self.dead_letter_queues().scan(agent)

    def redrive(self, agent: str | None = None, message_ids: Iterable[str] | None = None) -> int:
        """Send dead letters back to their source queue explicitly; return how many moved."""
        return self.dead_letter_queues().redrive(agent, message_ids)
