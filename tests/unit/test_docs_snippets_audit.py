"""README.md and docs/*.md name what the code has: the README's agent runs, dotted names
resolve, every `soorma` command and option shown exists, and the defaults and limits the pages
state are the code's. (docs/deployment.md, docs/performance.md and docs/reliability.md have
tests of their own and are left out here.)"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
#: The pages checked here: the README and every docs page but the three named above.
PAGES = [ROOT / "README.md"] + [
    page
    for page in sorted(DOCS.glob("*.md"))
    if page.name not in {"deployment.md", "performance.md", "reliability.md"}
]


def text(page: Path) -> str:
    return page.read_text()


def test_the_readme_agent_runs_and_carries_the_workflow_over() -> None:
    from soorma import Tool
    from soorma_dev.inmemory import InMemoryBus

    [block] = re.findall(r"^```python\n(.*?)^```", text(ROOT / "README.md"), re.M | re.S)
    namespace: dict[str, Any] = {"__name__": "readme"}
    exec(compile(block, "README.md", "exec"), namespace)
    inventory = Tool(name="inventory")

    @inventory.on_invoke("inventory.reserve")
    def reserve(event: Any, context: Any) -> dict[str, Any]:
        return {"order_id": event.data["order_id"], "reserved": True}

    with InMemoryBus([namespace["worker"], inventory]) as bus:
        sent = bus.send(
            "order.placed", {"order_id": "o-1"}, topic="business-facts", tenant_id="acme"
        )
        bus.run_until_idle()
        [accepted] = [e for e in bus.published if e.type == "order.accepted"]
    assert accepted.data == {"order_id": "o-1"}
    assert (accepted.correlation_id, accepted.tenant_id) == (sent.correlation_id, "acme")
    assert namespace["handler"] == namespace["worker"].lambda_handler


DOTTED = re.compile(r"\b((?:soorma|soorma_common|soorma_dev)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def resolves(name: str) -> bool:
    """Whether `name` is a module, or an attribute (or a dataclass or pydantic field) of one."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            fields = {
                **getattr(found, "__dataclass_fields__", {}),
                **getattr(found, "model_fields", {}),
            }
            if part in fields:
                return True
            if not hasattr(found, part):
                return False
            found = getattr(found, part)
        return True
    return False


def test_every_dotted_name_of_the_code_resolves() -> None:
    """`soorma.ai.providers.configured_model` yes, `soorma.ai.configured_model` no. Event
    sources (`soorma.planner`) name no module of the package and are not names of the code."""
    packages = {"soorma", "soorma_common", "soorma_dev"}
    missing = []
    for page in PAGES:
        for name in sorted(set(DOTTED.findall(text(page)))):
            top, first = name.split(".")[:2]
            module = f"{top}.{first}"
            is_code = importlib.util.find_spec(top) is not None and (
                importlib.util.find_spec(module) is not None
                or hasattr(importlib.import_module(top), first)
            )
            if top in packages and is_code and not resolves(name):
                missing.append(f"{page.name}: {name}")
    assert missing == []


def cli_commands() -> Any:
    import typer.main

    from soorma_dev.cli.app import app

    return typer.main.get_command(app)


def shown_commands() -> list[tuple[str, str]]:
    """Every `soorma ...` the pages show: in backticks, or a line of a shell block."""
    shown = []
    for page in PAGES:
        body = text(page)
        spans = re.findall(r"`(soorma [^`]+)`", body)
        for block in re.findall(r"^```(?:bash|sh)\n(.*?)^```", body, re.M | re.S):
            spans += [line.strip() for line in block.splitlines()]
        shown += [(page.name, span) for span in spans if span.startswith("soorma ")]
    return shown


def test_every_command_and_option_shown_exists() -> None:
    root = cli_commands()
    problems = []
    shown = shown_commands()
    assert len(shown) > 30
    for page, span in shown:
        words = span.split("#")[0].split()
        commands = [root]
        for word in words[1:3]:
            if not all(hasattr(c, "commands") for c in commands) or word.startswith(("-", "...")):
                break
            names = word.split("\\|")  # `soorma events\|graph\|asyncapi` in a table
            if not all(n in c.commands for c in commands for n in names):
                if word.isidentifier() or word.isalpha():
                    problems.append(f"{page}: {span!r}: no command {word!r}")
                break
            commands = [c.commands[n] for c in commands for n in names]
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", span):
            for command in commands:
                opts = {o for p in command.params for o in [*p.opts, *p.secondary_opts]}
                if option not in opts and option != "--help":
                    problems.append(f"{page}: {span!r}: {command.name} has no {option}")
    assert problems == []


def test_the_configuration_table_defaults_are_the_settings_defaults() -> None:
    from soorma.config import Settings

    defaults = Settings.from_env({})
    table = dict(
        re.findall(r"^\| `(SOORMA_[A-Z_]+)` \| `([^`]+)`", text(DOCS / "configuration.md"), re.M)
    )
    field_of = {
        "SOORMA_STAGE": "stage",
        "SOORMA_IDEMPOTENCY_TTL_SECONDS": "idempotency_ttl_seconds",
        "SOORMA_MAX_EVENT_BYTES": "max_event_bytes",
        "SOORMA_BATCH_STOP_MARGIN_MS": "batch_stop_margin_ms",
        "SOORMA_MAX_HOPS": "max_hops",
        "SOORMA_PUBLISH_MAX_ATTEMPTS": "publish_max_attempts",
        "SOORMA_PUBLISH_BACKOFF_SECONDS": "publish_backoff_seconds",
        "SOORMA_REGISTRY_CACHE_SECONDS": "registry_cache_seconds",
        "SOORMA_MEMORY_TTL_SECONDS": "memory_ttl_seconds",
        "SOORMA_EVENT_LOG_TTL_SECONDS": "event_log_ttl_seconds",
        "SOORMA_SCHEDULE_GROUP": "schedule_group",
    }
    for variable, field in field_of.items():
        value = getattr(defaults, field)
        stated = table[variable]
        assert (float(stated) == value) if not isinstance(value, str) else stated == value, variable
    assert table["SOORMA_IDEMPOTENCY"] == "on" and defaults.idempotency
    assert table["SOORMA_SCHEMA_MODE"] == "lenient" and not defaults.strict_schemas


def test_the_retention_the_memory_page_states_is_the_code() -> None:
    from soorma.config import DEFAULT_CLAIM_TTL_SECONDS
    from soorma.deadlines import DEADLINE_MARGIN_SECONDS
    from soorma_common.delivery import DLQ_RETENTION_SECONDS

    erasure = text(DOCS / "memory.md").split("erasure coverage)", 1)[1].split("\n## ", 1)[0]
    days = 24 * 3600
    assert f"`SOORMA_IDEMPOTENCY_TTL_SECONDS` ({DEFAULT_CLAIM_TTL_SECONDS // days} days;" in erasure
    assert f"at least {DEADLINE_MARGIN_SECONDS // days} days past it" in erasure
    assert f"{DLQ_RETENTION_SECONDS // days} days (`DLQ_RETENTION_SECONDS`)" in erasure


def test_the_wire_format_lists_every_attribute_of_the_envelope() -> None:
    from soorma_common.envelope import EXTENSION_WIRE_NAMES, EventEnvelope

    page = text(DOCS / "wire-format.md")
    for name, field in EventEnvelope.model_fields.items():
        if name in EXTENSION_WIRE_NAMES:
            assert f"| `{EXTENSION_WIRE_NAMES[name]}` | `{name}` |" in page, name
        else:  # a CloudEvents core attribute, by its wire name
            assert f"| `{field.serialization_alias or name}` |" in page, name


@pytest.mark.parametrize("argument", ["include_replies", "include_own_events"])
def test_observers_subscribe_with_the_decorator_the_page_shows(argument: str) -> None:
    from soorma import Agent

    assert argument in inspect.signature(Agent.on_event).parameters
    assert f"{argument}=True" in text(DOCS / "events-and-topics.md")
    assert "no decorator argument" not in text(DOCS / "events-and-topics.md")
