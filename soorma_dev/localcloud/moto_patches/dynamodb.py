"""Speed patches to moto's DynamoDB expression parsing (`moto/dynamodb/parsing/`,
`moto/dynamodb/comparisons.py`): parse each expression once, walk its syntax tree cheaply."""

from __future__ import annotations

import functools
import importlib
from typing import Any


def memoize_update_expressions() -> None:
    """DynamoDB's `UpdateItem` tokenizes and parses its `UpdateExpression` twice per call
    (`moto/dynamodb/responses.py` and `models/__init__.py`, `UpdateExpressionParser.make`), and
    Powertools idempotency sends the same expression on every completion. The syntax tree is a
    pure function of the text and nobody mutates it: the validators work on a deep copy
    (`parsing/validators.py`, `Validator.__init__`) and the responses only read it
    (`find_clauses`). So the tree is cached by text; an invalid expression is never cached and
    raises as before."""
    expressions = importlib.import_module("moto.dynamodb.parsing.expressions")
    parser = expressions.UpdateExpressionParser
    make = parser.__dict__["make"].__func__
    if getattr(make, "__soorma_memoized__", False):
        return
    cached = functools.lru_cache(maxsize=1024)(lambda text: make(parser, text))

    def memoized_make(cls: Any, expression: Any) -> Any:
        if cls is parser and isinstance(expression, str):
            return cached(expression)
        return make(cls, expression)

    memoized_make.__soorma_memoized__ = True  # type: ignore[attr-defined]
    parser.make = classmethod(memoized_make)


def memoize_condition_expressions() -> None:
    """Every conditional DynamoDB write lexes and parses its `ConditionExpression` twice
    (`moto/dynamodb/comparisons.py`, `ConditionExpressionParser.parse`, once to validate the
    request and once to evaluate it); Powertools' claim sends the same expression with new
    values (`:now`) each time. The parse depends on the values only through the names of the
    placeholders (a value is looked up and stored, never inspected, until `_make_operand` wraps
    it), so the final syntax tree is cached by (expression, attribute names, value placeholder
    names) and the values of each call are put back into a copy of it before moto builds its
    operators. A parse that fails is never cached and raises as before."""
    from moto.dynamodb.comparisons import ConditionExpressionParser as Parser

    if getattr(Parser.parse, "__soorma_memoized__", False):
        return
    parse = Parser.parse
    make_op_condition = Parser._make_op_condition
    value_kind = Parser.Kind.EXPRESSION_ATTRIBUTE_VALUE
    cache: dict[Any, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {}

    def recording_make_op_condition(self: Any, node: Any) -> Any:
        # parse() calls this once with the finished tree, which then recurses on its children
        if getattr(self, "_soorma_tree", None) is None:
            self._soorma_tree = node
        return make_op_condition(self, node)

    def with_values(node: Any, values: dict[str, Any]) -> Any:
        if node.kind == value_kind:
            return node._replace(value=values[node.text])
        if not node.children:
            return node
        return node._replace(children=[with_values(child, values) for child in node.children])

    def key_of(parser: Any) -> Any:
        names = parser.expression_attribute_names or {}
        values = parser.expression_attribute_values or {}
        if not isinstance(names, dict) or not isinstance(values, dict):
            return None
        try:
            return (parser.condition_expression, frozenset(names.items()), frozenset(values))
        except TypeError:  # unhashable names: leave it to moto
            return None

    def memoized_parse(self: Any) -> Any:
        key = key_of(self) if self.condition_expression else None
        if key is None:
            return parse(self)
        hit = cache.get(key)
        if hit is not None:
            tree, names_found, values_found = hit
            self.expr_attr_names_found.extend(names_found)
            self.expr_attr_values_found.extend(values_found)
            return make_op_condition(self, with_values(tree, self.expression_attribute_values))
        names_before = len(self.expr_attr_names_found)
        values_before = len(self.expr_attr_values_found)
        self._soorma_tree = None
        op = parse(self)
        if self._soorma_tree is not None and len(cache) < 1024:
            cache[key] = (
                self._soorma_tree,
                tuple(self.expr_attr_names_found[names_before:]),
                tuple(self.expr_attr_values_found[values_before:]),
            )
        return op

    memoized_parse.__soorma_memoized__ = True  # type: ignore[attr-defined]
    Parser._make_op_condition = recording_make_op_condition  # type: ignore[method-assign]
    Parser.parse = memoized_parse  # type: ignore[method-assign]


def cache_traverser_node_types() -> None:
    """moto's update-expression validators walk the syntax tree ten times per `UpdateItem`, and
    at every node `DepthFirstTraverser.nodes_to_be_processed` rebuilds the processor's
    `_processing_map()` (a dict of bound methods) to read its keys: node classes written as
    literals in each processor class, so they are cached per class."""
    DepthFirstTraverser = importlib.import_module(
        "moto.dynamodb.parsing.ast_nodes"
    ).DepthFirstTraverser
    if getattr(DepthFirstTraverser.nodes_to_be_processed, "__soorma_memoized__", False):
        return
    original = DepthFirstTraverser.nodes_to_be_processed
    by_class: dict[type, tuple[type, ...]] = {}

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        types = by_class.get(type(self))
        if types is None:
            types = by_class[type(self)] = tuple(original(self))
        return types

    nodes_to_be_processed.__soorma_memoized__ = True  # type: ignore[attr-defined]
    DepthFirstTraverser.nodes_to_be_processed = nodes_to_be_processed


def fast_ast_traversal() -> None:
    """The ten validator passes over an update expression's syntax tree
    (`DepthFirstTraverser.traverse_node_recursively`) ask, at every node, two `isinstance`
    questions of an `abc.ABCMeta` class hierarchy (slow in CPython) and call an empty
    `pre_processing_of_child` hook per child. The answers depend only on the node's class and
    the processor's class, so they are cached by class; the hook is called only when a
    processor overrides it. Same order, same replacements, same result."""
    ast_nodes = importlib.import_module("moto.dynamodb.parsing.ast_nodes")
    DepthFirstTraverser, Node = ast_nodes.DepthFirstTraverser, ast_nodes.Node
    if getattr(DepthFirstTraverser.traverse_node_recursively, "__soorma_memoized__", False):
        return
    base_hook = DepthFirstTraverser.pre_processing_of_child
    is_node: dict[type, bool] = {}
    processes: dict[tuple[type, type], bool] = {}

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        node_type = type(node)
        node_like = is_node.get(node_type)
        if node_like is None:
            node_like = is_node[node_type] = isinstance(node, Node)
        if not node_like:
            return node
        parent_node = node.parent
        children = node.children
        if children is not None:
            hook = None if type(self).pre_processing_of_child is base_hook else self
            for i, child_node in enumerate(children):
                if hook is not None:
                    hook.pre_processing_of_child(node, i)
                self.traverse_node_recursively(child_node, i)
        key = (type(self), node_type)
        handled = processes.get(key)
        if handled is None:
            handled = processes[key] = isinstance(node, self.nodes_to_be_processed())
        if handled:
            node = self.process(node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
        return node

    traverse_node_recursively.__soorma_memoized__ = True  # type: ignore[attr-defined]
    DepthFirstTraverser.traverse_node_recursively = traverse_node_recursively
