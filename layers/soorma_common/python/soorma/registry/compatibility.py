"""Is a new JSON Schema of an event compatible with the registered one?

The rule is FULL by default, as in schema registries (Confluent's `FULL`): producers and
consumers of an event are deployed independently, so a changed schema must hold both ways:

- backward: new consumers accept what old producers send (events in flight, in a DLQ being
  redriven, in the archive being replayed, from producers not yet redeployed);
- forward: old consumers accept what new producers send (consumers not yet redeployed, or
  deployed by other teams, still check payloads against the old schema).

An event may declare `metadata={"compatibility": "BACKWARD"}` (consumers are upgraded first:
only the backward direction is checked) or `"FORWARD"` (producers are upgraded first). The rule
read is the candidate's, so changing the rule and the schema is one deliberate act.

Breaks the backward direction: a required field added; a type narrowed or changed; an enum (or
`const`) narrowed or added; a `minimum`/`minLength`/`minItems`... raised or added; a
`maximum`/`maxLength`/`maxItems`... lowered or added; a `pattern`/`format`/`multipleOf` added
or changed; `additionalProperties: false` added; `uniqueItems` turned on.
Breaks the forward direction: a required field removed or made optional; a property removed
(its name would be free for any value, which old consumers check against the old schema); a
type widened; an enum widened or removed; a bound lowered, raised or removed (the mirror of the
above); `additionalProperties: false` removed; a property added to an object whose old schema
refuses undeclared fields.
Compatible both ways: adding an optional property to an object that accepts undeclared fields
(the registry assumes old producers did not send an undeclared field of that name with another
type), descriptions, titles, examples, defaults. Going back to the schema that the last change
replaced is allowed: that is what a CloudFormation rollback does. An incompatible change needs a
new event name carrying a version (`order.placed.v2`), which is a new registry entry.
"""

from __future__ import annotations

from enum import StrEnum

from soorma.registry.entries import EventRecord
from soorma.registry.schema_diff import breaking_changes
from soorma.registry.schemas import check_event_schemas
from soorma_common.definitions import JsonSchema
from soorma_common.errors import PermanentError

#: The metadata key of an event's compatibility rule.
RULE_KEY = "compatibility"


class IncompatibleSchemaError(PermanentError):
    """A re-registration that changes an event's schema incompatibly."""


class CompatibilityRule(StrEnum):
    """Which directions a schema change must keep (see the module's docstring)."""

    FULL = "FULL"
    BACKWARD = "BACKWARD"
    FORWARD = "FORWARD"


def schema_changes(
    old: JsonSchema | None,
    new: JsonSchema | None,
    rule: CompatibilityRule | str = CompatibilityRule.FULL,
) -> list[str]:
    """The incompatible changes from `old` to `new` under `rule`, as sentences (empty when
    compatible)."""
    if not old or not new:
        return []
    rule = CompatibilityRule(rule)
    return breaking_changes(
        old,
        new,
        backward=rule is not CompatibilityRule.FORWARD,
        forward=rule is not CompatibilityRule.BACKWARD,
    )


def check_compatible(registered: EventRecord, candidate: EventRecord) -> None:
    """Raise `InvalidSchemaError` when a schema of `candidate` is not a valid JSON Schema, and
    `IncompatibleSchemaError` naming the event and every change when `candidate` may not
    replace `registered`."""
    check_event_schemas(candidate.name, candidate.payload_schema, candidate.response_schema)
    problems = incompatibilities(registered, candidate)
    if problems:
        raise IncompatibleSchemaError("; ".join(problems))


def rule_of(record: EventRecord) -> CompatibilityRule | None:
    """The rule an event declares (`metadata["compatibility"]`, default FULL); None when the
    declared value is not a rule."""
    declared = str(record.metadata.get(RULE_KEY, CompatibilityRule.FULL)).upper()
    try:
        return CompatibilityRule(declared)
    except ValueError:
        return None


def incompatibilities(registered: EventRecord, candidate: EventRecord) -> list[str]:
    """Every reason why `candidate` may not replace `registered` (empty when it may)."""
    problems: list[str] = []
    if registered.topic != candidate.topic:
        problems.append(
            f"event {candidate.name!r}: topic changed from {registered.topic.value} to "
            f"{candidate.topic.value}"
        )
    rule = rule_of(candidate)
    if rule is None:
        problems.append(
            f"event {candidate.name!r}: metadata {RULE_KEY!r} is "
            f"{candidate.metadata.get(RULE_KEY)!r}: use FULL, BACKWARD or FORWARD"
        )
        return problems
    pairs = (
        (
            "payload",
            registered.payload_schema,
            registered.previous_payload_schema,
            candidate.payload_schema,
        ),
        (
            "response",
            registered.response_schema,
            registered.previous_response_schema,
            candidate.response_schema,
        ),
    )
    for which, current, previous, new in pairs:
        if new is not None and new == previous:
            continue  # a rollback to the schema the last change replaced
        for change in schema_changes(current, new, rule):
            problems.append(f"event {candidate.name!r}: {which} {change} [rule {rule.value}]")
    if problems:
        problems.append(
            f"an incompatible change needs a new versioned name (e.g. "
            f"{_next_version_name(candidate.name)!r})"
        )
    return problems


def _next_version_name(name: str) -> str:
    stem, _, number = name.rpartition(".v")
    if stem and number.isdigit():
        return f"{stem}.v{int(number) + 1}"
    return f"{name}.v2"
