"""The environment of an agent's function: every variable's name, and the one function that
gives the variables a function is deployed with.

`function_environment` is called by the CDK stack (`infra.agent_function`, with tokens for the
bus and table names), by the local cloud and the moto harness (`soorma_dev.provision`), so that
a function sees the same variables on Lambda and locally. `soorma.config` reads the variables
by the names defined here; `docs/configuration.md` lists them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from soorma_common.delivery import METRICS_NAMESPACE
from soorma_common.naming import TABLE_ROLES

#: The stage (part of every resource name).
STAGE = "SOORMA_STAGE"
#: The EventBridge bus events are put on.
EVENT_BUS = "SOORMA_EVENT_BUS"
#: Exactly-once claims on (`on`) or off (`off`).
IDEMPOTENCY = "SOORMA_IDEMPOTENCY"
#: How long a completed claim is kept, in seconds.
IDEMPOTENCY_TTL_SECONDS = "SOORMA_IDEMPOTENCY_TTL_SECONDS"
#: The largest envelope that may be published, in bytes.
MAX_EVENT_BYTES = "SOORMA_MAX_EVENT_BYTES"
#: The deepest causation chain (hop count) an event may carry and still be handled.
MAX_HOPS = "SOORMA_MAX_HOPS"
#: A batch stops starting records when less than this (ms), plus its slowest record so far,
#: is left of the invocation: the records not started are retried, the handled ones flushed.
BATCH_STOP_MARGIN_MS = "SOORMA_BATCH_STOP_MARGIN_MS"
#: PutEvents tries for failed entries before the record fails.
PUBLISH_MAX_ATTEMPTS = "SOORMA_PUBLISH_MAX_ATTEMPTS"
#: The first retry delay of PutEvents, in seconds (doubles each attempt).
PUBLISH_BACKOFF_SECONDS = "SOORMA_PUBLISH_BACKOFF_SECONDS"
#: `strict` rejects events with no registered schema; `lenient` (default) lets them through.
SCHEMA_MODE = "SOORMA_SCHEMA_MODE"
#: How long registry entries (and misses) are trusted, in seconds.
REGISTRY_CACHE_SECONDS = "SOORMA_REGISTRY_CACHE_SECONDS"
#: TTL of working-memory and episodic items, in seconds.
MEMORY_TTL_SECONDS = "SOORMA_MEMORY_TTL_SECONDS"
#: How long the event log keeps an event, in seconds.
EVENT_LOG_TTL_SECONDS = "SOORMA_EVENT_LOG_TTL_SECONDS"
#: Request deadlines (`soorma.deadlines`): the bus's ARN, the role EventBridge Scheduler puts
#: the timeout replies with, and the schedule group.
EVENT_BUS_ARN = "SOORMA_EVENT_BUS_ARN"
DEADLINE_ROLE_ARN = "SOORMA_DEADLINE_ROLE_ARN"
SCHEDULE_GROUP = "SOORMA_SCHEDULE_GROUP"
#: The Bedrock model (id, inference profile id or ARN) the agent calls: its manifest's first
#: `llm_models` entry.
LLM_MODEL_ID = "SOORMA_LLM_MODEL_ID"
#: Which language-model provider the agent uses (`soorma.ai.providers.configured`).
LLM_PROVIDER = "SOORMA_LLM_PROVIDER"
#: Powertools' service name (the agent's name) and metrics namespace.
POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"


def table_variable(role: str) -> str:
    """The variable holding the name of the table of `role` (`SOORMA_MEMORY_TABLE`)."""
    if role not in TABLE_ROLES:
        raise ValueError(f"unknown table role {role!r}; expected one of {TABLE_ROLES}")
    return f"SOORMA_{role.upper()}_TABLE"


#: Table role -> the variable holding its name.
TABLE_VARIABLES: Mapping[str, str] = {role: table_variable(role) for role in TABLE_ROLES}
EVENTS_TABLE = TABLE_VARIABLES["events"]
IDEMPOTENCY_TABLE = TABLE_VARIABLES["idempotency"]
REGISTRY_TABLE = TABLE_VARIABLES["registry"]
MEMORY_TABLE = TABLE_VARIABLES["memory"]

#: Every `SOORMA_*` variable the SDK reads (`soorma.config.Settings.from_env`).
SETTINGS_VARIABLES: tuple[str, ...] = (
    STAGE,
    EVENT_BUS,
    *TABLE_VARIABLES.values(),
    IDEMPOTENCY,
    IDEMPOTENCY_TTL_SECONDS,
    MAX_EVENT_BYTES,
    MAX_HOPS,
    BATCH_STOP_MARGIN_MS,
    PUBLISH_MAX_ATTEMPTS,
    PUBLISH_BACKOFF_SECONDS,
    SCHEMA_MODE,
    REGISTRY_CACHE_SECONDS,
    MEMORY_TTL_SECONDS,
    EVENT_LOG_TTL_SECONDS,
    EVENT_BUS_ARN,
    DEADLINE_ROLE_ARN,
    SCHEDULE_GROUP,
)


def function_environment(
    *,
    stage: str,
    agent: str,
    bus: str,
    tables: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
    llm_models: Sequence[str] = (),
) -> dict[str, str]:
    """The environment an agent's function is deployed with.

    `bus` and `tables` (role -> table name, one per `naming.TABLE_ROLES`) are names, or CDK
    tokens standing for them; `llm_models` (the manifest's) sets `SOORMA_LLM_MODEL_ID` to the
    first; `extra` (the deployer's own variables) is added last and wins.
    """
    missing = [role for role in TABLE_ROLES if role not in tables]
    if missing:
        raise ValueError(f"function environment of {agent!r}: no table given for {missing}")
    return {
        STAGE: stage,
        EVENT_BUS: bus,
        **{TABLE_VARIABLES[role]: tables[role] for role in TABLE_ROLES},
        POWERTOOLS_SERVICE_NAME: agent,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        **({LLM_MODEL_ID: llm_models[0]} if llm_models else {}),
        **(extra or {}),
    }
