"""`PlatformContext`'s public attributes have real types (none is `Any`), and they are built
by the context itself: the memory of the handled event's tenant and user, the registry of
`SOORMA_REGISTRY_TABLE`."""

from __future__ import annotations

import typing
from functools import cached_property

import pytest

from soorma import PlatformContext, Worker
from soorma.agent_spec import AgentSpec
from soorma.bus import BusClient
from soorma.config import settings
from soorma.context import HandlerLogger
from soorma.memory import MemoryClient
from soorma.memory.scope import DEFAULT_TENANT, DEFAULT_USER
from soorma.registry import EventToolkit, RegistryClient
from soorma.registry.client import reset_shared_clients
from soorma_common import EventEnvelope, EventTopic

#: The types `soorma.context` imports only when first used (off the runtime's cold start).
LAZY_TYPES = {
    "MemoryClient": MemoryClient,
    "RegistryClient": RegistryClient,
    "EventToolkit": EventToolkit,
}


def public_types() -> dict[str, object]:
    """Each public attribute of `PlatformContext` and its annotated type."""
    found: dict[str, object] = {}
    for name, member in vars(PlatformContext).items():
        if name.startswith("_"):
            continue
        function = member.fget if isinstance(member, property) else member
        function = member.func if isinstance(member, cached_property) else function
        found[name] = typing.get_type_hints(function, localns=LAZY_TYPES)["return"]
    constructor = typing.get_type_hints(PlatformContext.__init__)
    for name in ("agent", "event", "bus", "lambda_context"):
        found[name] = constructor[name]
    return found


def test_no_public_attribute_is_any() -> None:
    types = public_types()
    assert set(types) >= {"agent", "event", "bus", "logger", "memory", "registry", "toolkit"}
    assert [name for name, kind in types.items() if kind is typing.Any] == []
    assert types["memory"] is MemoryClient
    assert types["registry"] is RegistryClient
    assert types["toolkit"] is EventToolkit
    assert types["agent"] is AgentSpec
    assert types["logger"] is HandlerLogger


def context_for(event: EventEnvelope) -> PlatformContext:
    worker = Worker(name="typed")
    return PlatformContext(worker, event, BusClient(worker.name, worker.source, handled=event))


@pytest.fixture(autouse=True)
def fresh_settings() -> typing.Iterator[None]:
    """Settings are read once per process: read them again around each test."""
    settings.cache_clear()
    yield
    settings.cache_clear()


def test_memory_is_the_handled_events_tenant_and_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOORMA_MEMORY_TABLE", "typed-memory")
    event = EventEnvelope(
        source="soorma.x",
        type="a.b",
        topic=EventTopic.BUSINESS_FACTS,
        data={},
        tenant_id="acme",
        user_id="ada",
    )
    memory = context_for(event).memory
    assert (memory.tenant_id, memory.user_id) == ("acme", "ada")
    anonymous = EventEnvelope(source="soorma.x", type="a.b", topic=EventTopic.BUSINESS_FACTS)
    memory = context_for(anonymous).memory
    assert (memory.tenant_id, memory.user_id) == (DEFAULT_TENANT, DEFAULT_USER)
    assert memory.table_name == "typed-memory"  # the table itself is private


def test_registry_and_toolkit_share_the_process_wide_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOORMA_REGISTRY_TABLE", "typed-registry")
    reset_shared_clients()
    try:
        event = EventEnvelope(source="soorma.x", type="a.b", topic=EventTopic.BUSINESS_FACTS)
        first, second = context_for(event), context_for(event)
        assert first.registry is second.registry is RegistryClient.from_env()
        assert first.toolkit.registry is first.registry
        assert first.registry.table.name == "typed-registry"
    finally:
        reset_shared_clients()
