"""`soorma graph`: the agent/event flow as Mermaid text (asserted as text) and DOT."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from soorma_dev.cli.registry import catalog_from_manifests
from soorma_dev.graph import GraphvizNotFoundError, dot_graph, mermaid_graph, render

ROOT = Path(__file__).resolve().parents[2]

ORDER_FANOUT = """\
flowchart LR
    agent_audit_log["audit-log (agent)"]
    agent_inventory["inventory (worker)"]
    agent_notifier["notifier (agent)"]
    agent_warehouse["warehouse (tool)"]
    event_order_placed(["order.placed [business-facts]"])
    event_stock_reserve(["stock.reserve [action-requests]"])
    event_order_placed --> agent_audit_log
    event_order_placed --> agent_inventory
    event_order_placed --> agent_notifier
    event_stock_reserve --> agent_warehouse
"""

SEQUENTIAL_CHAIN = """\
flowchart LR
    agent_payments["payments (agent)"]
    agent_shipping["shipping (agent)"]
    agent_stock_reserver["stock-reserver (agent)"]
    event_inventory_reserved(["inventory.reserved [business-facts]"])
    event_order_placed(["order.placed [business-facts]"])
    event_order_shipped(["order.shipped"])
    event_payment_completed(["payment.completed [business-facts]"])
    agent_stock_reserver --> event_inventory_reserved
    event_inventory_reserved --> agent_payments
    event_order_placed --> agent_stock_reserver
    agent_shipping --> event_order_shipped
    agent_payments --> event_payment_completed
    event_payment_completed --> agent_shipping
"""


@pytest.fixture(scope="module")
def order_fanout() -> object:
    return catalog_from_manifests([ROOT / "examples" / "order-fanout"])


def test_order_fanout_example_as_mermaid(order_fanout: object) -> None:
    assert mermaid_graph(order_fanout) == ORDER_FANOUT  # type: ignore[arg-type]


def test_sequential_chain_example_as_mermaid() -> None:
    catalog = catalog_from_manifests([ROOT / "examples" / "sequential-chain"])
    assert mermaid_graph(catalog) == SEQUENTIAL_CHAIN


def test_dot_has_the_same_nodes_and_edges(order_fanout: object) -> None:
    dot = dot_graph(order_fanout)  # type: ignore[arg-type]
    assert dot.startswith("digraph soorma {\n    rankdir=LR;")
    assert '"agent_warehouse" [shape=box, label="warehouse\\n(tool)"];' in dot
    assert '"event_stock_reserve" -> "agent_warehouse";' in dot
    assert dot.count(" -> ") == ORDER_FANOUT.count(" --> ")


def test_svg_needs_graphviz(order_fanout: object) -> None:
    if shutil.which("dot"):
        assert render(dot_graph(order_fanout), "svg").lstrip().startswith(b"<")  # type: ignore[arg-type]
    else:
        with pytest.raises(GraphvizNotFoundError, match="install graphviz"):
            render(dot_graph(order_fanout), "svg")  # type: ignore[arg-type]
