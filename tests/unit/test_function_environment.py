"""`soorma_common.environment`: the one function that gives an agent function's environment, and
the variable names `soorma.config` reads."""

from __future__ import annotations

import pytest

from soorma.config import Settings
from soorma_common import environment, naming
from soorma_common.delivery import METRICS_NAMESPACE

TABLES = {role: naming.table_name("dev", role) for role in naming.TABLE_ROLES}

#: A value for each variable that differs from its default.
CHANGED = {
    environment.STAGE: "other",
    environment.EVENT_BUS: "a-bus",
    environment.EVENTS_TABLE: "t-events",
    environment.IDEMPOTENCY_TABLE: "t-idempotency",
    environment.REGISTRY_TABLE: "t-registry",
    environment.MEMORY_TABLE: "t-memory",
    environment.IDEMPOTENCY: "off",
    environment.IDEMPOTENCY_TTL_SECONDS: "7",
    environment.MAX_EVENT_BYTES: "1000",
    environment.MAX_HOPS: "7",
    environment.BATCH_STOP_MARGIN_MS: "500",
    environment.PUBLISH_MAX_ATTEMPTS: "9",
    environment.PUBLISH_BACKOFF_SECONDS: "1.5",
    environment.SCHEMA_MODE: "strict",
    environment.REGISTRY_CACHE_SECONDS: "5",
    environment.MEMORY_TTL_SECONDS: "11",
    environment.EVENT_LOG_TTL_SECONDS: "13",
    environment.EVENT_BUS_ARN: "arn:aws:events:us-east-1:123456789012:event-bus/a-bus",
    environment.DEADLINE_ROLE_ARN: "arn:aws:iam::123456789012:role/soorma-other-deadlines",
    environment.SCHEDULE_GROUP: "soorma-other",
}


def test_a_function_gets_its_stage_bus_every_table_and_powertools_names() -> None:
    env = environment.function_environment(
        stage="dev", agent="order-processor", bus="soorma-dev", tables=TABLES
    )
    assert env == {
        "SOORMA_STAGE": "dev",
        "SOORMA_EVENT_BUS": "soorma-dev",
        "SOORMA_REGISTRY_TABLE": "soorma-dev-registry",
        "SOORMA_MEMORY_TABLE": "soorma-dev-memory",
        "SOORMA_EVENTS_TABLE": "soorma-dev-events",
        "SOORMA_IDEMPOTENCY_TABLE": "soorma-dev-idempotency",
        "POWERTOOLS_SERVICE_NAME": "order-processor",
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    }


def test_the_deployers_own_variables_come_last_and_win() -> None:
    env = environment.function_environment(
        stage="dev",
        agent="a",
        bus="b",
        tables=TABLES,
        extra={"SOORMA_SCHEMA_MODE": "strict", "POWERTOOLS_SERVICE_NAME": "mine"},
    )
    assert env["SOORMA_SCHEMA_MODE"] == "strict"
    assert env["POWERTOOLS_SERVICE_NAME"] == "mine"


def test_a_missing_table_is_an_error_naming_it() -> None:
    tables = {role: name for role, name in TABLES.items() if role != "memory"}
    with pytest.raises(ValueError, match="memory"):
        environment.function_environment(stage="dev", agent="a", bus="b", tables=tables)
    with pytest.raises(ValueError, match="unknown table role"):
        environment.table_variable("cache")


def test_the_function_environment_configures_the_sdk() -> None:
    env = environment.function_environment(stage="qa", agent="a", bus="the-bus", tables=TABLES)
    settings = Settings.from_env(env)
    assert (settings.stage, settings.event_bus) == ("qa", "the-bus")
    assert settings.memory_table == "soorma-dev-memory"
    assert settings.idempotency_table == "soorma-dev-idempotency"
    assert settings.registry_table == "soorma-dev-registry"
    assert settings.events_table == "soorma-dev-events"


@pytest.mark.parametrize("variable", environment.SETTINGS_VARIABLES)
def test_every_settings_variable_is_read_by_the_sdk(variable: str) -> None:
    assert Settings.from_env({variable: CHANGED[variable]}) != Settings.from_env({})


def test_every_settings_variable_has_a_changed_value_here() -> None:
    assert set(CHANGED) == set(environment.SETTINGS_VARIABLES)
