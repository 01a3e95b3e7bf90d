"""Pytest fixtures for testing Soorma agents (the `soorma` pytest11 plugin, loaded automatically
once `soorma-serverless` is installed).

Each fixture is a factory taking agents: agent objects, function folders
(`functions/<name>`, `examples/<scenario>/<agent>`), or folders of agents (a scenario folder).

- `soorma_bus(*agents, **options)`: the in-memory bus (`InMemoryBus`): no moto, fast.
- `soorma_moto(*agents, stage="test")`: a `MotoHarness` inside `moto.mock_aws`: real PutEvents,
  rules, SQS queues, DLQs and the DynamoDB idempotency table, in this process.
- `soorma_tables`: the platform's DynamoDB tables (memory, registry, events) on an in-process
  moto, with `SOORMA_*_TABLE` set: for agents that keep state (planners, `context.memory`) while
  the bus stays in memory (`soorma_bus`). Returns the table names by role.
- `soorma_local_cloud(*paths, **options)`: the local cloud (`LocalCloud`: moto's server, one
  worker process per agent), started for the test and stopped after it.

```python
def test_greeting(soorma_bus):
    bus = soorma_bus("examples/hello-world")
    bus.send("visitor.arrived", {"name": "Ada"}, topic="business-facts")
    bus.run_until_idle()
    assert bus.handled("greeter")[0].data == {"name": "Ada"}
```
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest


def agent_sources(items: Iterable[Any]) -> list[Any]:
    """Agents as given, with each folder of agents (no handler module of its own) expanded into
    its agent folders. Accepts one list or several arguments."""
    from soorma_dev.manifests import HANDLER_FILE, function_folders

    found: list[Any] = []
    for item in items:
        if isinstance(item, list | tuple):
            found += agent_sources(item)
        elif isinstance(item, str | Path) and Path(item).is_dir():
            folder = Path(item)
            found += [folder] if (folder / HANDLER_FILE).is_file() else function_folders(folder)
        else:
            found.append(item)
    return found


@pytest.fixture
def soorma_bus() -> Iterator[Callable[..., Any]]:
    """Factory: `soorma_bus(*agents, **options)` -> an `InMemoryBus` (closed after the test)."""
    from soorma_dev.inmemory import InMemoryBus

    buses: list[InMemoryBus] = []

    def make(*agents: Any, **options: Any) -> InMemoryBus:
        bus = InMemoryBus(agent_sources(agents), **options)
        buses.append(bus)
        return bus

    yield make
    for bus in reversed(buses):
        bus.close()


@pytest.fixture
def soorma_moto() -> Iterator[Callable[..., Any]]:
    """Factory: `soorma_moto(*agents, stage="test")` -> a `MotoHarness` on an in-process moto.

    The environment the harness sets (`SOORMA_*`) and the SDK's cached clients and settings are
    restored after the test.
    """
    from moto import mock_aws

    from soorma import clients
    from soorma.config import settings
    from soorma_dev.harness import MotoHarness
    from soorma_dev.manifests import load_agent

    saved = dict(os.environ)
    harnesses: list[MotoHarness] = []

    def make(*agents: Any, **options: Any) -> MotoHarness:
        loaded = [load_agent(a) if isinstance(a, str | Path) else a for a in agent_sources(agents)]
        harness = MotoHarness(loaded, **options)
        harnesses.append(harness)
        return harness

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # moto needs a region; boto3 too
    clients.reset()
    try:
        with mock_aws():
            yield make
            for harness in reversed(harnesses):
                harness.close()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        settings.cache_clear()
        clients.reset()


@pytest.fixture
def soorma_tables() -> Iterator[dict[str, str]]:
    """The platform's state tables on an in-process moto, named for stage `test`; the
    `SOORMA_*_TABLE` variables point at them until the end of the test."""
    from moto import mock_aws

    from soorma import clients
    from soorma.config import settings
    from soorma_common import naming
    from soorma_common.environment import table_variable
    from soorma_dev.provision import create_table

    saved = dict(os.environ)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    clients.reset()
    try:
        with mock_aws():
            import boto3

            dynamodb = boto3.client("dynamodb")
            tables = {role: naming.table_name("test", role) for role in STATE_TABLES}
            for role, name in tables.items():
                create_table(dynamodb, name, role)
                os.environ[table_variable(role)] = name
            settings.cache_clear()
            clients.reset()
            yield tables
    finally:
        os.environ.clear()
        os.environ.update(saved)
        settings.cache_clear()
        clients.reset()


#: The tables agents keep state in (the idempotency table belongs to the runtime).
STATE_TABLES = ("memory", "registry", "events")


@pytest.fixture
def soorma_local_cloud(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Factory: `soorma_local_cloud(*paths, **options)` -> a started `LocalCloud` (stopped after
    the test). Options are `LocalCloud`'s; `state_dir` defaults to a temporary folder."""
    clouds: list[Any] = []

    def start(*paths: Any, **options: Any) -> Any:
        from soorma_dev.localcloud import LocalCloud

        options.setdefault("state_dir", tmp_path / ".soorma")
        cloud = LocalCloud(agent_sources(paths), **options)
        clouds.append(cloud)
        cloud.start()
        return cloud

    yield start
    for cloud in reversed(clouds):
        cloud.stop()
