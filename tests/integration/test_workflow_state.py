"""`WorkflowState` writes are one UpdateItem each and never read first (also now that working
memory is per plan and user): counted with a botocore hook on moto."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from soorma import clients
from soorma.memory import MemoryClient, WorkflowState


@contextmanager
def dynamodb_calls() -> Iterator[list[str]]:
    """The names of the DynamoDB operations made inside the block."""
    made: list[str] = []

    def hook(model: Any, **_: Any) -> None:
        made.append(model.name)

    events = clients.client("dynamodb").meta.events
    events.register("provide-client-params.dynamodb", hook)
    try:
        yield made
    finally:
        events.unregister("provide-client-params.dynamodb", hook)


WRITES: list[tuple[str, Callable[[WorkflowState], Any]]] = [
    ("set", lambda s: s.set("k", {"a": 1})),
    ("set_compare", lambda s: s.set("fresh", 1, expected_version=0)),
    ("increment", lambda s: s.increment("n")),
    ("append", lambda s: s.append("list", "x")),
    ("record_action", lambda s: s.record_action("x.done")),
    ("update_dict", lambda s: s.update_dict("k", {"b": 2})),
    ("delete", lambda s: s.delete("k")),
]


@pytest.mark.parametrize(("name", "write"), WRITES, ids=[n for n, _ in WRITES])
def test_each_write_is_one_request_and_never_a_read(
    soorma_moto, name: str, write: Callable[[WorkflowState], Any]
) -> None:
    soorma_moto()
    memory = MemoryClient("acme", "ada")
    asyncio.run(memory.create_plan("g", plan_id="p"))
    state = WorkflowState(memory, "p")
    asyncio.run(state.set("k", {"a": 1}))  # update_dict on an existing map: the one-call path

    with dynamodb_calls() as made:
        asyncio.run(write(state))

    expected = {"delete": ["DeleteItem"], "record_action": ["UpdateItem", "PutItem"]}
    assert made == expected.get(name, ["UpdateItem"])  # never a read


def test_entries_of_one_plan_are_per_user(soorma_moto) -> None:
    soorma_moto()
    ada = WorkflowState(MemoryClient("acme", "ada"), "p")
    bob = WorkflowState(MemoryClient("acme", "bob"), "p")
    asyncio.run(ada.increment("n", 2))
    asyncio.run(bob.increment("n", 5))
    assert (asyncio.run(ada.get("n")), asyncio.run(bob.get("n"))) == (2, 5)
    assert asyncio.run(bob.cleanup()) == 1
    assert asyncio.run(ada.to_dict()) == {"n": 2}
