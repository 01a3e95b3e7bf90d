"""Pytest fixtures for testing Soorma agents (the `soorma` pytest11 plugin, loaded automatically
once `soorma-serverless` is installed).

Each fixture is a factory taking agents: agent objects, function folders
(`functions/<name>`, `examples/<scenario>/<agent>`), or folders of agents (a scenario folder).
The three harnesses offer the same verbs with the same records (`soorma_dev.testing.
AgentHarness`: `send`, `run_until_idle`, `handlings`, `dead_letters`, `redrive`, `trace`), so a
test moves between them by changing its fixture only.

- `soorma_bus(*agents, **options)`: the in-memory bus (`InMemoryBus`): no moto, fast.
- `soorma_moto(*agents, stage="test")`: a `MotoHarness` inside `moto.mock_aws`: real PutEvents,
  rules, SQS queues, DLQs and the DynamoDB idempotency table, in this process.
- `soorma_tables`: the platform's DynamoDB tables (memory, registry, events) on an in-process
  moto, with `SOORMA_*_TABLE` set: for agents that keep state (planners, `context.memory`) while
  the bus stays in memory (`soorma_bus`). Returns the table names by role.
- `soorma_local_cloud(*paths, **options)`: the local cloud (`LocalCloud`: moto's server, one
  worker process per agent), started for the test and stopped after it; agents as folders.
- `soorma_harness(*agents, **options)`: one of the three, named by the test's parameter
  (`bus` unless parametrized: `@pytest.mark.parametrize("soorma_harness", HARNESSES,
  indirect=True)` runs the test on each).

```python
def test_greeting(soorma_bus):
    bus = soorma_bus("examples/hello-world")
    bus.send("visitor.arrived", {"name": "Ada"}, topic="business-facts")
    bus.run_until_idle()
    assert [h.outcome for h in bus.handlings("greeter")] == ["handled"]
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
    from soorma_dev.moto_item_limit import use_dynamodb_item_limit

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
            use_dynamodb_item_limit()
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
    from soorma.registry.client import reset_shared_clients
    from soorma_common import naming
    from soorma_common.environment import table_variable
    from soorma_dev.moto_item_limit import use_dynamodb_item_limit
    from soorma_dev.provision import create_table

    saved = dict(os.environ)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    clients.reset()
    try:
        with mock_aws():
            use_dynamodb_item_limit()
            import boto3

            dynamodb = boto3.client("dynamodb")
            tables = {role: naming.table_name("test", role) for role in STATE_TABLES}
            for role, name in tables.items():
                create_table(dynamodb, name, role)
                os.environ[table_variable(role)] = name
            settings.cache_clear()
            clients.reset()
            reset_shared_clients()  # no registry copy of an earlier test is trusted
            yield tables
    finally:
        os.environ.clear()
        os.environ.update(saved)
        settings.cache_clear()
        clients.reset()


#: The tables agents keep state in (the idempotency table belongs to the runtime).
STATE_TABLES = ("memory", "registry", "events")


#: The local cloud's `time_scale` in tests: a failed record is visible again after 1 s (the
#: visibility timeout of a 30 s function is 180 s; SQS's unit is the second).
TEST_TIME_SCALE = 1 / 180


@pytest.fixture
def soorma_local_cloud(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Factory: `soorma_local_cloud(*paths, **options)` -> a started `LocalCloud` (stopped after
    the test). Options are `LocalCloud`'s (`fast=True`: the fast mode); `state_dir` defaults to a
    temporary folder and `time_scale` to `TEST_TIME_SCALE` (a failed record comes back after
    1 s)."""
    clouds: list[Any] = []

    def start(*paths: Any, **options: Any) -> Any:
        from soorma_dev.localcloud import LocalCloud

        options.setdefault("state_dir", tmp_path / ".soorma")
        options.setdefault("time_scale", TEST_TIME_SCALE)
        cloud = LocalCloud(agent_sources(paths), **options)
        clouds.append(cloud)
        cloud.start()
        return cloud

    yield start
    for cloud in reversed(clouds):
        cloud.stop()


#: The harnesses `soorma_harness` gives, by parameter, and the fixture of each.
HARNESSES = {"bus": "soorma_bus", "moto": "soorma_moto", "local_cloud": "soorma_local_cloud"}


@pytest.fixture
def soorma_harness(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Factory: `soorma_harness(*agents, **options)` -> the harness named by the test's
    parameter (`"bus"`, `"moto"` or `"local_cloud"`; `"bus"` when not parametrized), an
    `AgentHarness`. Parametrize it indirectly to run one test on several:
    `@pytest.mark.parametrize("soorma_harness", ["bus", "moto", "local_cloud"], indirect=True)`.
    """
    name = getattr(request, "param", "bus")
    if name not in HARNESSES:
        raise ValueError(f"no harness named {name!r}: choose one of {sorted(HARNESSES)}")
    factory: Callable[..., Any] = request.getfixturevalue(HARNESSES[name])
    return factory
