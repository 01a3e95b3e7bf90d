"""`MotoHarness` leaves the process as it found it: the `SOORMA_*` variables are restored."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from soorma import Agent
from soorma.config import settings
from soorma_common import EventEnvelope, EventTopic
from soorma_dev.harness import MotoHarness


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def listener() -> Agent:
    agent = Agent("env-listener")

    @agent.on_event("thing.happened", topic=EventTopic.BUSINESS_FACTS)
    def seen(event: EventEnvelope, context: Any) -> None:
        pass

    return agent


def test_closing_the_harness_restores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOORMA_EVENT_BUS", "the-callers-bus")
    monkeypatch.delenv("SOORMA_REGISTRY_TABLE", raising=False)
    monkeypatch.delenv("SOORMA_IDEMPOTENCY_TABLE", raising=False)
    settings.cache_clear()

    with MotoHarness([listener()]) as harness:
        assert os.environ["SOORMA_EVENT_BUS"] == harness.platform.bus_name
        assert settings().event_bus == harness.platform.bus_name
        assert os.environ["SOORMA_REGISTRY_TABLE"] == harness.platform.tables["registry"]

    assert os.environ["SOORMA_EVENT_BUS"] == "the-callers-bus"
    assert "SOORMA_REGISTRY_TABLE" not in os.environ
    assert "SOORMA_IDEMPOTENCY_TABLE" not in os.environ
    assert settings().event_bus == "the-callers-bus"  # the cached settings were dropped too
    harness.close()  # a second close changes nothing
    assert os.environ["SOORMA_EVENT_BUS"] == "the-callers-bus"
