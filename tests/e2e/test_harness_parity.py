"""One scenario, three harnesses, the same records: the in-memory bus, moto and the local cloud
(`soorma_harness`, parametrized) give the same handlings, the same trace shape and the same dead
letters, so a test moves between them by changing its fixture only.

The scenario (agents in `harness_parity/`): an order goes to the shop, which asks the stock tool
(request/reply) and confirms the order to two subscribers (fan-out); the mailer's first attempt
fails transiently and succeeds on retry; a cancellation the ledger cannot read is dead-lettered
at once, then redriven after the fix and handled.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from soorma_dev.testing import AgentHarness, Handling, TraceNode

AGENTS = Path(__file__).resolve().parent / "harness_parity"
FACTS = "business-facts"
POISON_REASON = "UnreadableAmountError: amount '12,50' is not a number: use a decimal point"

#: (agent, event type, outcome, receive count, reason) of every handling, sorted.
HANDLINGS = sorted(
    [
        ("shop", "order.placed", "handled", 1, None),
        ("stock", "stock.check", "handled", 1, None),
        ("shop", "stock.checked", "handled", 1, None),
        ("ledger", "order.confirmed", "handled", 1, None),
        ("mailer", "order.confirmed", "failed", 1, "TransientError: mail server busy"),
        ("mailer", "order.confirmed", "handled", 2, None),
        ("ledger", "order.cancelled", "dead-lettered", 1, POISON_REASON),
    ],
    key=repr,
)
#: The order's causation tree: (event type, [(agent, outcome)], children).
TRACE = [
    (
        "order.placed",
        [("shop", "handled")],
        [
            (
                "stock.check",
                [("stock", "handled")],
                [
                    (
                        "stock.checked",
                        [("shop", "handled")],
                        [
                            (
                                "order.confirmed",
                                [
                                    ("ledger", "handled"),
                                    ("mailer", "failed"),
                                    ("mailer", "handled"),
                                ],
                                [],
                            )
                        ],
                    )
                ],
            )
        ],
    )
]


def summary(handlings: Sequence[Handling]) -> list[tuple[Any, ...]]:
    return sorted(
        ((h.agent, h.event_type, h.outcome, h.receive_count, h.reason) for h in handlings), key=repr
    )


def shape(nodes: Sequence[TraceNode]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            node.envelope.type,
            sorted((h.agent, h.outcome) for h in node.handlings),
            shape(node.children),
        )
        for node in nodes
    )


@pytest.mark.parametrize("soorma_harness", ["bus", "moto", "local_cloud"], indirect=True)
def test_one_scenario_gives_the_same_records_on_every_harness(
    soorma_harness: Callable[..., AgentHarness], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARITY_STATE", str(tmp_path))  # inherited by the local cloud's workers
    harness = soorma_harness(AGENTS)
    assert isinstance(harness, AgentHarness)

    order = harness.send("order.placed", {"order_id": "o-1"}, topic=FACTS, tenant_id="acme")
    poison = harness.send(
        "order.cancelled", {"order_id": "o-2", "amount": "12,50"}, topic=FACTS, tenant_id="acme"
    )
    assert harness.run_until_idle(timeout=120) == len(HANDLINGS)

    assert summary(harness.handlings()) == HANDLINGS
    assert [h.event_type for h in harness.handlings("stock")] == ["stock.check"]
    assert shape(harness.trace(order.correlation_id)) == TRACE
    [letter] = harness.dead_letters()
    assert (letter.agent, letter.topic, letter.kind, letter.reason) == (
        "ledger",
        FACTS,
        "permanent-error",
        POISON_REASON,
    )
    assert letter.envelope is not None and letter.envelope.id == poison.id
    assert harness.dead_letters("mailer") == []

    (tmp_path / "ledger-fixed").touch()  # the fix, then the redrive
    assert harness.redrive("ledger", [letter.message_id]) == 1
    assert harness.run_until_idle(timeout=120) == 1
    assert harness.dead_letters() == []
    [*_, redriven] = harness.handlings("ledger")
    assert (redriven.event_id, redriven.outcome, redriven.receive_count) == (
        poison.id,
        "handled",
        1,
    )
    assert redriven.message_id != letter.message_id  # a new message on the source queue


@pytest.mark.parametrize("soorma_harness", ["local_cloud"], indirect=True)
def test_what_the_workers_handled_before_the_wait_is_counted(
    soorma_harness: Callable[..., AgentHarness], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local cloud's workers run on their own: a record handled between a send (or a
    redrive) and `run_until_idle` still counts in what the call returns."""
    monkeypatch.setenv("PARITY_STATE", str(tmp_path))
    harness = soorma_harness(AGENTS)
    harness.send("order.placed", {"order_id": "o-1"}, topic=FACTS, tenant_id="acme")
    deadline = time.monotonic() + 60
    while not harness.handlings() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert harness.handlings(), "no worker took the order within a minute"

    made = harness.run_until_idle(timeout=120)

    assert made == len(harness.handlings()) == 6  # the order's six handlings, all counted
    assert harness.run_until_idle(timeout=120) == 0
