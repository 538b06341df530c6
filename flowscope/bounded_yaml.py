"""YAML read with its aliases bounded: the one reader of every YAML text flowscope is handed (an imported file,
a GCP workflow's source from an export or the live API, the dashboard's state graph of a stored definition).

Why: YAML's aliases (``*name``) repeat a list or mapping without writing it again, so a 500-byte "alias bomb"
(a list of nine aliases of a list of nine aliases of ...) reads as billions of nodes, and every step after the
parse walks them: `flowscope import` of one hung for hours. Each document's nodes are sized before they are
built into Python objects, in time proportional to the text; past `MAX_ALIAS_NODES` (or at a list or mapping
that holds itself, ``&a [*a]``, which no walk ends) it is refused with a `yaml.MarkedYAMLError` naming the line
and column of that list or mapping, so a caller that handles bad YAML handles it the same way.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_ALIAS_NODES = 100_000
"""Nodes a text's aliases may add, its documents together: each alias of a list or mapping counts as that list
or mapping written out again. gcloud writes no alias, and the few of a hand-written file add hundreds."""


class AliasBombError(yaml.MarkedYAMLError):
    """Aliases that repeat beyond `MAX_ALIAS_NODES`, or a list or mapping inside itself: refused, where it is."""


def safe_load_all(text: str) -> list[Any]:
    """`yaml.safe_load_all` of `text` (every document, None for an empty one), each document's aliases counted
    before it is built; raises `AliasBombError` (a `yaml.YAMLError`) past the bound."""
    loader = yaml.SafeLoader(text)
    count = _AliasCount()
    docs: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                count.walk(node)
                docs.append(loader.construct_document(node))
    finally:
        loader.dispose()
    return docs


def safe_load(text: str) -> Any:
    """`yaml.safe_load` of a text of one document, its aliases bounded; None for an empty text. A second
    document is a `yaml.YAMLError`, as `yaml.safe_load` says."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _AliasCount().walk(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


class _AliasCount:
    """What aliases add to a text's documents, over all of them: `AliasBombError` naming the list or mapping
    where that goes past `MAX_ALIAS_NODES`, or one that holds itself. Each list or mapping is sized once."""

    def __init__(self) -> None:
        self.added = 0

    def walk(self, root: yaml.Node) -> None:
        """Size a document's lists and mappings, children first, without recursion."""
        sizes: dict[int, int] = {}          # id(list or mapping) -> its nodes, aliases written out
        claimed: set[int] = set()           # reached once already: another reference is an alias
        opened: set[int] = set()            # the lists and mappings from the root to the one walked
        stack: list[tuple[yaml.Node, bool]] = [(root, False)]
        while stack:
            node, children_sized = stack.pop()
            if children_sized:
                opened.discard(id(node))
                sizes[id(node)] = self._size(node, sizes, claimed)
            elif id(node) in opened:
                raise _refused(node, "a list or mapping that holds itself (an alias of it inside it): refused")
            elif id(node) not in sizes:
                opened.add(id(node))
                stack.append((node, True))
                stack.extend((child, False) for child in _nodes_in(node) if not isinstance(child, yaml.ScalarNode))

    def _size(self, node: yaml.Node, sizes: dict[int, int], claimed: set[int]) -> int:
        """The node's size; what its aliases add, counted."""
        size = 1
        for child in _nodes_in(node):
            if isinstance(child, yaml.ScalarNode):
                size += 1
                continue
            if id(child) in claimed:
                self.added += sizes[id(child)]
            claimed.add(id(child))
            size += sizes[id(child)]
        if self.added > MAX_ALIAS_NODES:
            raise _refused(node, f"its aliases (*name) repeat lists and mappings beyond {MAX_ALIAS_NODES:,} "
                                 "nodes (an alias bomb?): refused")
        return size


def _refused(node: yaml.Node, reason: str) -> AliasBombError:
    return AliasBombError(problem=reason, problem_mark=node.start_mark)


def _nodes_in(node: yaml.Node) -> list[yaml.Node]:
    """A list's items, a mapping's keys and values; nothing of a scalar."""
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
