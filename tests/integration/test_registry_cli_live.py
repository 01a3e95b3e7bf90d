"""`soorma events/graph/asyncapi` against a running registry (moto server on 127.0.0.1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from soorma import Worker
from soorma.registry import sync_registry
from soorma_common import EventDefinition, EventTopic
from soorma_common.naming import table_name
from soorma_dev.cli import app
from soorma_dev.provision import create_table


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    dynamodb = boto3.client("dynamodb", endpoint_url=url)
    create_table(dynamodb, table_name("local", "registry"), "registry")
    routed = EventDefinition(
        event_name="ticket.routed",
        topic=EventTopic.BUSINESS_FACTS,
        description="A ticket found its desk",
        payload_schema={"type": "object", "properties": {"desk": {"type": "string"}}},
    )
    router = Worker("ticket-router", events_produced=[routed])
    router.on_event("ticket.created", topic=EventTopic.BUSINESS_FACTS)(lambda e, c: None)
    sync_registry(table_name("local", "registry"), [router.manifest()], dynamodb=dynamodb)
    yield url
    server.stop()


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(
        app, list(args), env={"COLUMNS": "200", "SOORMA_REGISTRY_TABLE": None, "SOORMA_STAGE": None}
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_events_from_the_running_registry(endpoint: str) -> None:
    output = invoke("events", "--endpoint-url", endpoint, "--stage", "local", "--json")
    catalog = json.loads(output)
    assert list(catalog["events"]) == ["ticket.routed"]
    assert catalog["agents"]["ticket-router"]["consumed"] == ["ticket.created"]
    table = invoke("events", "--endpoint-url", endpoint, "--table", "soorma-local-registry")
    assert "ticket.routed" in table and "A ticket found its desk" in table


def test_graph_and_asyncapi_from_the_running_registry(endpoint: str) -> None:
    graph = invoke("graph", "--endpoint-url", endpoint, "--stage", "local")
    assert "    agent_ticket_router --> event_ticket_routed\n" in graph
    assert "    event_ticket_created --> agent_ticket_router\n" in graph
    document = json.loads(invoke("asyncapi", "--endpoint-url", endpoint, "--stage", "local"))
    assert list(document["components"]["messages"]) == ["ticket.created", "ticket.routed"]
