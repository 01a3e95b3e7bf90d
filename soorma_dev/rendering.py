"""How the CLI shows the local cloud's state: live activity lines, trace trees, dead letters (rich).

Every function takes the local cloud's own records (`ActivityLine`, `TraceNode`, `DeadLetter`)
and returns a rich renderable; nothing here talks to the cloud or prints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

#: The style of each outcome a handling or an activity line can have.
OUTCOME_STYLES = {
    "handled": "green",
    "sent": "cyan",
    "published": "cyan",
    "failed": "yellow",
    "retried": "yellow",
    "dead-lettered": "bold red",
    "redriven": "magenta",
}

#: The mark shown before an outcome in a trace tree.
OUTCOME_MARKS = {"handled": "✔", "failed": "↻", "dead-lettered": "✘"}


def short_time(value: Any) -> str:
    """`HH:MM:SS.mmm` of an ISO timestamp or datetime (the text unchanged if it is neither)."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def as_text(value: Any) -> str:
    """Any JSON value (or enum) as text: a string as it is, None and "" as "-", anything else
    (a number, an object an event carried where a string belongs) as compact JSON."""
    if value is None or value == "":
        return "-"
    value = getattr(value, "value", value)
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return str(value)


def short_id(value: Any, length: int = 8) -> str:
    """The first `length` characters of an id (enough to tell events of one trace apart); any
    JSON value is shown, an event's malformed id as well as a well-formed one."""
    return as_text(value)[:length]


def first_line(text: Any, limit: int = 100) -> str:
    """The first line of a (multi-line) reason, cut to `limit` characters."""
    stripped = as_text(text).strip() if text is not None else ""
    line = stripped.splitlines()[0] if stripped else "-"
    return line if len(line) <= limit else line[: limit - 1] + "…"


def outcome_text(outcome: str | None) -> Text:
    """An outcome in its colour."""
    label = as_text(outcome)
    return Text(label, style=OUTCOME_STYLES.get(label, "white"))


def _text(value: Any) -> str:
    return as_text(value)


def activity_line(line: Any) -> Text:
    """One live line: time, topic, event type, agent and outcome of one step of an event."""
    text = Text()
    text.append(short_time(line.time), style="dim")
    text.append("  ")
    text.append(f"{_text(line.topic):<19}", style="blue")
    text.append(" ")
    text.append(f"{_text(line.event_type):<28}", style="bold")
    text.append(" ")
    text.append(f"{_text(line.agent):<20}", style="magenta")
    text.append(" ")
    outcome = outcome_text(line.outcome)
    outcome.pad_right(13 - len(outcome))
    text.append_text(outcome)
    correlation = getattr(line, "correlation_id", None)
    if correlation:
        text.append(f"  {short_id(correlation)}", style="dim")
    reason = getattr(line, "reason", None)
    if reason:
        text.append(f"  {first_line(reason, 80)}", style="red")
    return text


def activity_header() -> Text:
    """The column titles above the live lines."""
    columns = f"{'time':<12}  {'topic':<19} {'event type':<28} {'agent':<20} {'outcome':<13}"
    return Text(f"{columns}  correlation", style="bold dim")


def _node_label(node: Any) -> Text:
    envelope = node.envelope
    label = Text()
    label.append(_text(envelope.type), style="bold")
    label.append(f"  [{_text(envelope.topic)}]", style="blue")
    label.append(f"  from {_text(envelope.source)}", style="dim")
    label.append(f"  id {short_id(envelope.id)}", style="dim")
    if getattr(envelope, "reply_to", None):
        label.append(f"  reply to {_text(envelope.reply_to)}", style="cyan")
    plan = plan_summary(envelope)
    if plan:
        label.append(f"  {plan}", style="green")
    return label


def plan_summary(envelope: Any) -> str | None:
    """For a plan lifecycle event, the plan's state as the event reports it
    (`plan 1a2b3c4d: completed, state fulfilled`); None for other events."""
    data = envelope.data if isinstance(envelope.data, dict) else {}
    if _text(getattr(envelope, "topic", None)) != "plan-events" or "plan_id" not in data:
        return None
    if "tool" in data and "input_tokens" in data:  # a language model's decision
        return f"plan {short_id(str(data['plan_id']))}: " + decision_summary(data)
    parts = [str(data[key]) for key in ("status",) if data.get(key)]
    if data.get("state"):
        parts.append(f"state {data['state']}")
    if data.get("from_state") and data.get("to_state"):
        parts.append(f"{data['from_state']} -> {data['to_state']}")
    return f"plan {short_id(str(data['plan_id']))}: " + (", ".join(parts) or "started")


def decision_summary(data: dict[str, Any]) -> str:
    """A `plan.decision`: the tool chosen, its tokens, repairs and the model's short reason
    (`chose draft-requested, 812+40 tokens, 1 repair: "notes are in"`)."""
    parts = [f"chose {data.get('tool') or 'nothing'}"]
    parts.append(f"{data.get('input_tokens', 0)}+{data.get('output_tokens', 0)} tokens")
    repairs = int(data.get("repairs") or 0)
    if repairs:
        parts.append(f"{repairs} repair{'s' if repairs > 1 else ''}")
    text = ", ".join(parts)
    reason = str(data.get("reason") or "").strip()
    if reason:
        text += f': "{reason[:60]}{"…" if len(reason) > 60 else ""}"'
    return text


def _handling_label(handling: Any) -> Text:
    label = Text()
    outcome = _text(handling.outcome)
    mark = OUTCOME_MARKS.get(outcome, "•")
    label.append(f"{mark} ", style=OUTCOME_STYLES.get(outcome, "white"))
    label.append(_text(handling.agent), style="magenta")
    label.append(" ")
    label.append_text(outcome_text(handling.outcome))
    label.append(f"  {short_time(handling.time)}", style="dim")
    if handling.reason:
        label.append(f"  {first_line(handling.reason)}", style="red")
    return label


def _add_node(parent: Tree, node: Any) -> None:
    branch = parent.add(_node_label(node))
    for handling in node.handled:
        branch.add(_handling_label(handling))
    for child in node.children:
        _add_node(branch, child)


def trace_tree(correlation_id: str, roots: Sequence[Any]) -> Tree:
    """The causation tree of one workflow: each event with who handled it, when, and how."""
    tree = Tree(Text.assemble(("trace ", "bold"), (_text(correlation_id), "cyan")))
    for root in roots:
        _add_node(tree, root)
    if not roots:
        tree.add(Text("no events recorded for this correlation id", style="yellow"))
    return tree


def walk(roots: Iterable[Any]) -> Iterable[Any]:
    """Every node of a trace, parents before their children (depth first)."""
    for root in roots:
        yield root
        yield from walk(root.children)


def dead_letter_table(letters: Sequence[Any]) -> Table:
    """Dead letters, one row each: agent, topic, kind, event, reason, message id."""
    table = Table(title=f"{len(letters)} dead letter(s)", title_justify="left")
    for column in ("agent", "topic", "kind", "event type", "reason", "message id"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        envelope = letter.envelope
        table.add_row(
            _text(letter.agent),
            _text(letter.topic),
            _text(letter.kind),
            _text(envelope.type) if envelope is not None else "?",
            first_line(letter.reason, 60),
            _text(letter.message_id),
        )
    return table


def dead_letter_detail(letter: Any) -> RenderableType:
    """One dead letter in full: where it came from, why it is there, and its body."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    envelope = letter.envelope
    rows = [
        ("message id", letter.message_id),
        ("agent", letter.agent),
        ("topic", _text(letter.topic)),
        ("kind", letter.kind),
        ("reason", letter.reason or "-"),
        ("source queue", letter.queue),
        ("dead-letter queue", letter.dlq_url),
    ]
    if envelope is not None:
        rows += [
            ("event", f"{_text(envelope.type)} ({_text(envelope.id)})"),
            ("correlation id", envelope.correlation_id),
        ]
    for name, value in rows:
        facts.add_row(name, _text(value))
    try:
        body = json.dumps(json.loads(letter.body), indent=2)
    except (TypeError, ValueError):
        body = str(letter.body)
    return Panel(
        Group(facts, Syntax(body, "json", word_wrap=True)),
        title="dead letter",
        title_align="left",
    )
