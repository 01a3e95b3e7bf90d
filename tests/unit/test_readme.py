"""The README's agent runs as the README says (in memory, through the real runtime)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from soorma import Tool
from soorma_common import EventTopic
from soorma_dev.inmemory import InMemoryBus

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_agent() -> dict[str, Any]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1, "the README shows exactly one agent"
    namespace: dict[str, Any] = {"__name__": "readme_agent"}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    return namespace


def test_readme_commands_are_the_two_make_targets() -> None:
    text = README.read_text()
    first_screen = text[: text.index("## Read more")]
    commands = re.findall(r"^make (\w+)", first_screen, flags=re.M)
    assert commands == ["demo", "test"]
    makefile = (README.parent / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, flags=re.M)
    assert re.search(r"^test:", makefile, flags=re.M)
    assert "make test" in (README.parent / ".ci" / "run").read_text()


def test_readme_agent_requests_and_announces_with_one_correlation_id() -> None:
    namespace = _readme_agent()
    worker = namespace["worker"]
    assert namespace["handler"] == worker.lambda_handler

    inventory = Tool("inventory")

    @inventory.on_invoke("inventory.reserve")
    def reserve(event: Any, context: Any) -> dict[str, Any]:
        return {"order_id": event.data["order_id"], "reserved": True}

    with InMemoryBus([worker, inventory]) as bus:
        placed = bus.send(
            "order.placed", {"order_id": "o-1"}, topic=EventTopic.BUSINESS_FACTS, tenant_id="acme"
        )
        bus.run_until_idle()
        types = [e.type for e in bus.published]
        assert types == [
            "order.placed",
            "inventory.reserve",
            "inventory.reserved",
            "order.accepted",
        ]
        assert {e.correlation_id for e in bus.published} == {placed.correlation_id}
        assert {e.tenant_id for e in bus.published} == {"acme"}
        request, reply, accepted = bus.published[1:]
        assert request.causation_id == placed.id
        assert reply.causation_id == request.id and reply.reply_to == "order-processor"
        assert accepted.causation_id == reply.id
        assert accepted.data == {"order_id": "o-1"}


def test_every_page_the_readme_links_exists() -> None:
    links = re.findall(r"\]\(([^)#]+)\)", README.read_text())
    assert links, "the README links its docs"
    missing = [link for link in links if not (README.parent / link).is_file()]
    assert missing == []
