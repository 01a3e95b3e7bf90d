"""`FastStore`: the fast mode's database and the clients every process builds on it, and
`create_store`, which the cloud calls once at start (queues, rules, settings)."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

from soorma_common.delivery import MAX_RECEIVE_COUNT
from soorma_common.envelope import EventEnvelope
from soorma_common.manifest import AgentManifest
from soorma_common.routing import rules_for
from soorma_dev.localcloud.fast.claims import SqliteClaimKeeper
from soorma_dev.localcloud.fast.database import Database
from soorma_dev.localcloud.fast.eventbridge import EVENT_LOG_TARGET, RoutingEventBridge
from soorma_dev.localcloud.fast.sqs import SqliteSqs
from soorma_dev.provision import Platform

#: The database's file name in the cloud's `<state_dir>/run`.
FAST_DATABASE = "fast.sqlite3"


class FastStore:
    """One fast local cloud's database, as SQS, EventBridge, claims and event log."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.database = Database(self.path)

    @cached_property
    def sqs(self) -> SqliteSqs:
        """The queues, as a boto3-like SQS client."""
        return SqliteSqs(self.database)

    @cached_property
    def eventbridge(self) -> RoutingEventBridge:
        """PutEvents routed in this process."""
        return RoutingEventBridge(self.database)

    def claims(self, *, expires_after_seconds: int) -> SqliteClaimKeeper:
        """A claim keeper (one per runtime: it holds the invocation's Lambda context)."""
        return SqliteClaimKeeper(self.database, expires_after_seconds=expires_after_seconds)

    def logged_envelopes(self, correlation_id: str) -> list[EventEnvelope]:
        """The event log's envelopes of one workflow, in time order, each once."""
        rows = self.database.read(
            "SELECT envelope FROM event_log WHERE correlation_id = ? ORDER BY sort_key",
            (correlation_id,),
        )
        envelopes: dict[str, EventEnvelope] = {}
        for (text,) in rows:
            envelope = EventEnvelope.from_json(text)
            envelopes.setdefault(envelope.id, envelope)
        return list(envelopes.values())

    def logged_correlation_ids(self, prefix: str) -> list[str]:
        """The correlation ids in the event log that start with `prefix`."""
        rows = self.database.read(
            "SELECT DISTINCT correlation_id FROM event_log WHERE substr(correlation_id, 1, ?) = ?",
            (len(prefix), prefix),
        )
        return sorted(str(row[0]) for row in rows)


def create_store(
    path: Path,
    platform: Platform,
    manifests: list[AgentManifest],
    *,
    visibility_timeout_seconds: int,
    event_log_agent: str | None,
) -> FastStore:
    """A new database for `platform`: its queues (the names and URLs moto gave them), each with
    its DLQ after `MAX_RECEIVE_COUNT` receives, and the rules of every manifest; the rules of
    `event_log_agent` (the platform's event log) target the event log table."""
    path.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    store = FastStore(path)
    store.database.create()
    account = platform.bus_arn.split(":")[4] if platform.bus_arn else "123456789012"
    region = platform.bus_arn.split(":")[3] if platform.bus_arn else "us-east-1"
    with store.database.write() as db:
        db.executemany(
            "INSERT INTO settings VALUES (?, ?)",
            [("bus_name", platform.bus_name), ("account", account), ("region", region)],
        )
        for agent in platform.agents.values():
            for url, arn, dlq_url in agent.queues.values():
                dlq_name = dlq_url.rsplit("/", 1)[-1]
                dlq_arn = ":".join([*arn.split(":")[:5], dlq_name])
                db.execute(
                    "INSERT INTO queues VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        url,
                        url.rsplit("/", 1)[-1],
                        arn,
                        1000 * visibility_timeout_seconds,
                        dlq_url,
                        MAX_RECEIVE_COUNT,
                    ),
                )
                db.execute(
                    "INSERT INTO queues VALUES (?, ?, ?, ?, NULL, NULL)",
                    (dlq_url, dlq_name, dlq_arn, 1000 * visibility_timeout_seconds),
                )
        for manifest in manifests:
            queues = platform.agents[manifest.name].queues
            for rule in rules_for(manifest):
                target = (
                    EVENT_LOG_TARGET if manifest.name == event_log_agent else queues[rule.topic][0]
                )
                db.execute(
                    "INSERT INTO rules (target, pattern) VALUES (?, ?)",
                    (target, json.dumps(rule.pattern)),
                )
    return store
