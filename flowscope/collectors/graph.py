"""The neutral shape of a workflow definition: steps as nodes, transitions as edges.

Each cloud's `definition.py` (the one parser of that cloud's definitions) draws its definitions
into this shape; the dashboard lays it out and paints metrics on it. No cloud knowledge here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Node:
    name: str
    type: str = "other"
    parent: str | None = None


@dataclass
class Edge:
    source: str
    target: str
    kind: str = "next"        # next | choice | default | catch | branch | observed


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    starts: list[str] = field(default_factory=list)

    def add(self, name: str, type_: str = "other", parent: str | None = None) -> None:
        if name not in self.nodes:
            self.nodes[name] = Node(name, type_, parent)

    def link(self, source: str | None, target: str | None, kind: str = "next") -> None:
        if not source or not target or source == target and kind != "observed":
            return
        if not any(e.source == source and e.target == target for e in self.edges):
            self.edges.append(Edge(source, target, kind))


class DefinitionError(ValueError):
    """The stored definition cannot be read as the format it claims."""
