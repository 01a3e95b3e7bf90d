"""The local cloud and the moto harness register the agents' manifests, as `cdk deploy` does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from soorma import Tool, Worker
from soorma.registry import RegistryClient
from soorma_common import EventTopic
from soorma_dev.harness import MotoHarness
from tests.registry_catalog import ORDER_PLACED, RESERVE


@pytest.fixture
def agents() -> Iterator[tuple[Worker, Tool]]:
    orders = Worker("order-processor", events_consumed=[ORDER_PLACED], events_produced=[RESERVE])

    @orders.on_event("order.placed", topic=EventTopic.BUSINESS_FACTS)
    def placed(event: object, context: object) -> None:
        return None

    stock = Tool("stock", events_consumed=[RESERVE])

    @stock.on_invoke("inventory.reserve")
    def reserve(event: object, context: object) -> dict[str, bool]:
        return {"ok": True}

    with mock_aws():
        yield orders, stock


def test_provisioning_registers_every_declared_event_and_agent(agents: tuple[Worker, Tool]) -> None:
    with MotoHarness(agents) as harness:
        registry = RegistryClient(harness.platform.tables["registry"])
        assert {e.name for e in registry.all_events()} == {"order.placed", "inventory.reserve"}
        assert {a.name for a in registry.all_agents()} == {"order-processor", "stock"}
        assert registry.consumers_of("inventory.reserve") == ["stock"]


def test_provisioning_can_leave_the_registry_empty(agents: tuple[Worker, Tool]) -> None:
    with MotoHarness(agents, register=False) as harness:
        registry = RegistryClient(harness.platform.tables["registry"])
        assert registry.all_events() == [] and registry.all_agents() == []
