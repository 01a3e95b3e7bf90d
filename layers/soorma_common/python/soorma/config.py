"""Every `SOORMA_*` environment variable of an agent's runtime, read in one place (`Settings`).

What each means and its default is docs/configuration.md, one table: a test keeps it listing
exactly `soorma_common.environment.SETTINGS_VARIABLES` (a copy of that table kept here had
drifted: four variables were missing).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from soorma_common import environment as variables
from soorma_common.delivery import DLQ_RETENTION_SECONDS
from soorma_common.naming import bus_name

#: How long an SQS queue keeps a message by default (4 days): a dead letter redriven to its
#: queue is handled within that time, or dead-lettered again.
SOURCE_QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
#: How long a claim (and the events stored with it) is kept: the longest way an event can take
#: back to its agent, a dead letter kept `DLQ_RETENTION_SECONDS` (14 days) then redriven and
#: waiting in its queue up to `SOURCE_QUEUE_RETENTION_SECONDS` (4 days): 18 days. A redelivery
#: older than the claim TTL whose claim is gone is refused (`ClaimExpiredError`).
DEFAULT_CLAIM_TTL_SECONDS = DLQ_RETENTION_SECONDS + SOURCE_QUEUE_RETENTION_SECONDS
#: The deepest causation chain (hop count) an event may carry and still be handled: a chain of
#: 50 request/reply steps. Deeper events are dead-lettered as a loop (`LoopDetectedError`).
DEFAULT_MAX_HOPS = 100
#: Left of an invocation (beyond its slowest record so far) for the batch to flush its events
#: and answer: PutEvents with its retries, and the claims' completion.
DEFAULT_BATCH_STOP_MARGIN_MS = 2000


def _flag(value: str) -> bool:
    return value.strip().lower() not in {"0", "off", "false", "no", ""}


@dataclass(frozen=True)
class Settings:
    """A snapshot of the `SOORMA_*` environment."""

    stage: str
    event_bus: str
    events_table: str | None
    idempotency_table: str | None
    registry_table: str | None
    memory_table: str | None
    idempotency: bool
    idempotency_ttl_seconds: int
    max_event_bytes: int
    publish_max_attempts: int
    publish_backoff_seconds: float
    strict_schemas: bool
    memory_ttl_seconds: int
    event_log_ttl_seconds: int
    registry_cache_seconds: float = 60.0
    max_hops: int = DEFAULT_MAX_HOPS
    batch_stop_margin_ms: int = DEFAULT_BATCH_STOP_MARGIN_MS
    event_bus_arn: str | None = None
    deadline_role_arn: str | None = None
    schedule_group: str = "default"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read the settings from `env` (default: `os.environ`)."""
        env = dict(os.environ if env is None else env)
        stage = env.get(variables.STAGE, "dev")
        return cls(
            stage=stage,
            event_bus=env.get(variables.EVENT_BUS) or bus_name(stage),
            events_table=env.get(variables.EVENTS_TABLE) or None,
            idempotency_table=env.get(variables.IDEMPOTENCY_TABLE) or None,
            registry_table=env.get(variables.REGISTRY_TABLE) or None,
            memory_table=env.get(variables.MEMORY_TABLE) or None,
            idempotency=_flag(env.get(variables.IDEMPOTENCY, "on")),
            idempotency_ttl_seconds=int(
                env.get(variables.IDEMPOTENCY_TTL_SECONDS, str(DEFAULT_CLAIM_TTL_SECONDS))
            ),
            max_event_bytes=int(env.get(variables.MAX_EVENT_BYTES, str(256 * 1024))),
            publish_max_attempts=max(1, int(env.get(variables.PUBLISH_MAX_ATTEMPTS, "4"))),
            publish_backoff_seconds=float(env.get(variables.PUBLISH_BACKOFF_SECONDS, "0.05")),
            strict_schemas=env.get(variables.SCHEMA_MODE, "lenient").lower() == "strict",
            memory_ttl_seconds=int(env.get(variables.MEMORY_TTL_SECONDS, str(7 * 24 * 3600))),
            event_log_ttl_seconds=int(
                env.get(variables.EVENT_LOG_TTL_SECONDS, str(14 * 24 * 3600))
            ),
            registry_cache_seconds=max(0.0, float(env.get(variables.REGISTRY_CACHE_SECONDS, "60"))),
            max_hops=max(1, int(env.get(variables.MAX_HOPS, str(DEFAULT_MAX_HOPS)))),
            batch_stop_margin_ms=max(
                0,
                int(env.get(variables.BATCH_STOP_MARGIN_MS, str(DEFAULT_BATCH_STOP_MARGIN_MS))),
            ),
            event_bus_arn=env.get(variables.EVENT_BUS_ARN) or None,
            deadline_role_arn=env.get(variables.DEADLINE_ROLE_ARN) or None,
            schedule_group=env.get(variables.SCHEDULE_GROUP) or "default",
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings of this process, read once (`settings.cache_clear()` after changing env)."""
    return Settings.from_env()


def metrics_disabled() -> bool:
    """Whether Powertools metrics are switched off (`POWERTOOLS_METRICS_DISABLED`)."""
    return os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() in {"1", "true", "yes"}
