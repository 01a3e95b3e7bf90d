"""The agent/event flow of a registry `Catalog` as a graph: Mermaid text, Graphviz DOT, SVG/PNG.

An arrow `agent --> event` means the agent publishes the event; `event --> agent` means the agent
consumes it (declared, or matched by one of its subscriptions). Output is sorted, so the same
catalog always gives the same text.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from soorma.registry import Catalog

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


class GraphvizNotFoundError(RuntimeError):
    """SVG or PNG output was asked for but Graphviz's `dot` is not on PATH."""


def _node_id(prefix: str, name: str) -> str:
    return f"{prefix}_{_UNSAFE.sub('_', name)}"


def _edges(catalog: Catalog) -> list[tuple[str, str, str]]:
    """(kind, agent, event) for every publish and consume, sorted."""
    edges: set[tuple[str, str, str]] = set()
    for name in catalog.event_names():
        for producer in catalog.producers_of(name):
            edges.add(("publishes", producer, name))
        for consumer in catalog.consumers_of(name):
            edges.add(("consumes", consumer, name))
    return sorted(edges, key=lambda e: (e[2], e[0] == "consumes", e[1]))


def mermaid_graph(catalog: Catalog) -> str:
    """A Mermaid `flowchart LR`: agents as boxes, events as stadiums labelled with their topic."""
    lines = ["flowchart LR"]
    for name, agent in sorted(catalog.agents.items()):
        lines.append(f'    {_node_id("agent", name)}["{name} ({agent.kind.value})"]')
    for name in catalog.event_names():
        topic = catalog.topic_of(name)
        label = f"{name} [{topic.value}]" if topic else name
        lines.append(f'    {_node_id("event", name)}(["{label}"])')
    for kind, agent_name, event in _edges(catalog):
        a, e = _node_id("agent", agent_name), _node_id("event", event)
        lines.append(f"    {a} --> {e}" if kind == "publishes" else f"    {e} --> {a}")
    return "\n".join(lines) + "\n"


def dot_graph(catalog: Catalog) -> str:
    """The same graph in Graphviz DOT."""
    lines = ["digraph soorma {", "    rankdir=LR;", '    node [fontname="Helvetica"];']
    for name, agent in sorted(catalog.agents.items()):
        lines.append(
            f'    "{_node_id("agent", name)}" [shape=box, label="{name}\\n({agent.kind.value})"];'
        )
    for name in catalog.event_names():
        topic = catalog.topic_of(name)
        label = f"{name}\\n{topic.value}" if topic else name
        lines.append(f'    "{_node_id("event", name)}" [shape=ellipse, label="{label}"];')
    for kind, agent_name, event in _edges(catalog):
        a, e = _node_id("agent", agent_name), _node_id("event", event)
        lines.append(f'    "{a}" -> "{e}";' if kind == "publishes" else f'    "{e}" -> "{a}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_source: str, fmt: str) -> bytes:
    """Render DOT to `svg` or `png` with Graphviz's `dot`."""
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizNotFoundError(
            "Graphviz `dot` is not on PATH: install graphviz (apt-get install graphviz, "
            "brew install graphviz) or use --format mermaid / dot"
        )
    done = subprocess.run(
        [dot, f"-T{fmt}"], input=dot_source.encode(), capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"dot -T{fmt} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout
