"""Scenarios: a folder of agents plus `scenario.json` (events to send, what should happen).

`soorma dev PATH --scenario NAME` and the e2e tests both load a scenario, send its events to a
local cloud, wait until it is idle and compare the traces with the scenario's expectations.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from soorma_common.envelope import EventEnvelope
from soorma_common.topics import EventTopic
from soorma_dev.manifests import HANDLER_FILE

SCENARIO_FILE = "scenario.json"


class ScenarioError(Exception):
    """A scenario folder that cannot be run: missing or invalid `scenario.json`."""


class ScenarioEvent(BaseModel):
    """One event a scenario sends; extra keys are envelope attributes (`response_event`, ...)."""

    model_config = ConfigDict(extra="allow")

    topic: EventTopic
    event_type: str = Field(min_length=1)
    data: Any = None
    tenant_id: str | None = None
    user_id: str | None = None
    correlation_id: str | None = None

    @field_validator("topic", mode="before")
    @classmethod
    def _known_topic(cls, value: Any) -> EventTopic:
        return EventTopic.parse(value)

    def envelope_attributes(self) -> dict[str, Any]:
        """The extra envelope attributes given in the scenario (e.g. `response_event`)."""
        return dict(self.model_extra or {})


class Expectations(BaseModel):
    """What a scenario expects, compared as multisets (order aside; parents precede children in a
    causation tree anyway): `(agent, event_type)` handlings by the scenario's agents, the event
    types published in its workflows, and the number of dead letters."""

    model_config = ConfigDict(extra="allow")

    handled: list[tuple[str, str]] | None = None
    published: list[str] | None = None
    dead_letters: int | None = None


class AfterFix(Expectations):
    """The second act of a scenario: switch the fix on (`env` of the agents), redrive the dead
    letters (`redrive`: arguments of `redrive`), and expect what happens *since* the redrive."""

    env: dict[str, str] = Field(default_factory=dict)
    redrive: dict[str, Any] = Field(default_factory=dict)


class Scenario(BaseModel):
    """A runnable scenario read from `<folder>/scenario.json`."""

    name: str
    description: str = ""
    #: The agents' environment while the scenario runs (e.g. `SOORMA_LLM_PROVIDER`).
    env: dict[str, str] = Field(default_factory=dict)
    send: list[ScenarioEvent] = Field(default_factory=list)
    expect: Expectations = Field(default_factory=Expectations)
    after_fix: AfterFix | None = None
    folder: Path = Field(default=Path("."), exclude=True)

    @classmethod
    def load(cls, folder: str | Path) -> Scenario:
        """Read `folder/scenario.json`; `ScenarioError` says what is wrong with it."""
        folder = Path(folder)
        file = folder / SCENARIO_FILE
        if not file.is_file():
            raise ScenarioError(f"{folder} is not a scenario: it has no {SCENARIO_FILE}")
        try:
            raw = json.loads(file.read_text())
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"{file}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        try:
            return cls.model_validate({**raw, "folder": folder})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, error['loc']))}: {error['msg'].removeprefix('Value error, ')}"
                for error in exc.errors()
            )
            raise ScenarioError(f"{file}: {problems}") from None

    def agent_folders(self) -> list[Path]:
        """The scenario's agent folders (sub-folders with a handler module), sorted by name."""
        return agent_folders(self.folder)


def is_scenario(folder: str | Path) -> bool:
    """Whether `folder` holds a `scenario.json`."""
    return (Path(folder) / SCENARIO_FILE).is_file()


def agent_folders(path: str | Path) -> list[Path]:
    """The agent folders PATH names: itself if it has a handler module, else its sub-folders
    that have one (a folder of agents such as `functions/`, or a scenario folder)."""
    path = Path(path)
    if (path / HANDLER_FILE).is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_dir() and (p / HANDLER_FILE).is_file())


@dataclass
class ScenarioRun:
    """What running a scenario produced: the envelopes sent and, per correlation id, its trace."""

    sent: list[EventEnvelope]
    traces: dict[str, list[Any]] = field(default_factory=dict)
    dead_letters: list[Any] = field(default_factory=list)

    def correlation_ids(self) -> list[str]:
        """The correlation ids of the events sent, each once, in sending order."""
        return list(dict.fromkeys(e.correlation_id for e in self.sent))


def send_events(cloud: Any, scenario: Scenario) -> list[EventEnvelope]:
    """Send the scenario's events to a local cloud (`LocalCloud` or `LocalCloudClient`)."""
    return [
        cloud.send(
            event.event_type,
            event.data,
            topic=event.topic,
            tenant_id=event.tenant_id,
            user_id=event.user_id,
            correlation_id=event.correlation_id,
            **event.envelope_attributes(),
        )
        for event in scenario.send
    ]


def collect(cloud: Any, sent: list[EventEnvelope]) -> ScenarioRun:
    """Read back the traces of the sent events and the dead letters."""
    run = ScenarioRun(sent=sent)
    for correlation_id in run.correlation_ids():
        run.traces[correlation_id] = list(cloud.trace(correlation_id))
    run.dead_letters = list(cloud.dead_letters())
    return run


def handled_pairs(roots: list[Any], outcome: str = "handled") -> list[tuple[str, str]]:
    """`(agent, event_type)` for every handling with `outcome` in a trace, parents first."""
    from soorma_dev.rendering import walk

    return [
        (handling.agent, node.envelope.type)
        for node in walk(roots)
        for handling in node.handled
        if handling.outcome == outcome
    ]


@dataclass
class Observed:
    """What a set of traces shows: handlings by the scenario's agents and the types published."""

    handled: Counter[tuple[str, str]]
    published: Counter[str]
    dead_letters: int

    @classmethod
    def of(cls, run: ScenarioRun, agents: Collection[str]) -> Observed:
        """Count the handlings (by `agents` only: not the platform's) and events of a run."""
        from soorma_dev.rendering import walk

        handled: Counter[tuple[str, str]] = Counter()
        published: Counter[str] = Counter()
        for roots in run.traces.values():
            handled.update(pair for pair in handled_pairs(roots) if pair[0] in agents)
            published.update(node.envelope.type for node in walk(roots))
        return cls(handled, published, len(run.dead_letters))

    def __sub__(self, before: Observed) -> Observed:
        return Observed(
            self.handled - before.handled, self.published - before.published, self.dead_letters
        )


def _difference(label: str, expected: Counter[Any], found: Counter[Any]) -> list[str]:
    problems = []
    for item in sorted((expected - found), key=str):
        problems.append(f"missing {label}: {item} (expected {expected[item]}, found {found[item]})")
    for item in sorted((found - expected), key=str):
        problems.append(
            f"unexpected {label}: {item} (expected {expected[item]}, found {found[item]})"
        )
    return problems


def unmet_expectations(expect: Expectations, observed: Observed) -> list[str]:
    """What the observed run did differently from `expect` (empty when all is met)."""
    problems: list[str] = []
    if expect.handled is not None:
        expected_handled = Counter((agent, event_type) for agent, event_type in expect.handled)
        problems += _difference("handling", expected_handled, observed.handled)
    if expect.published is not None:
        problems += _difference("published event", Counter(expect.published), observed.published)
    if expect.dead_letters is not None and observed.dead_letters != expect.dead_letters:
        problems.append(
            f"expected {expect.dead_letters} dead letter(s), found {observed.dead_letters}"
        )
    return problems
