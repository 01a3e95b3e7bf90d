"""Transition conditions: a small, safe expression language over an event's data.

A condition is parsed once with `ast` and evaluated by walking the tree; nothing is ever passed
to `eval`. Allowed: literals (numbers, strings, `True/False/None`, and JSON's `true/false/null`),
names from the evaluation namespace (e.g. `data`, `results`, `goal`), subscripts (`data["k"]`,
`items[0]`), attribute access on mappings (`data.amount` reads the key `amount`), comparisons
(`== != < <= > >= in not in is is not`), `and`, `or`, `not`, unary minus, and list/tuple
literals (for `in`). Function calls, lambdas, comprehensions, arithmetic and dunder names are
rejected when the condition is compiled.

A missing name, key or index evaluates to None, so `data.missing == 1` is simply false and
`data.missing == null` (`is None`) true; an ordering comparison between values that cannot be
ordered (`None < 3`) is false as well, and so is the negation of what is not a number (`-x` of
a missing value or a string is missing). Two missing values never make a comparison hold: when
both sides are missing (`data.approved_by == goal.manager`, an LLM having left out both), every
operator is false, `!=` and `is not` included; in a list literal a missing element matches no
missing value (`x in [a, b]` means `x == a or x == b`, `x not in [a, b]` `x != a and x != b`).
A value present as `null` is not missing: `data.note == goal.missing` holds when `note` is null.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from soorma_common.errors import PermanentError

MAX_CONDITION_LENGTH = 2000
#: How deeply a condition's expressions may nest (`not not ... x`, `a[b[c[...]]]`): far more than
#: any real condition, far less than Python's recursion limit (which `ast.parse` and the
#: checking walk would otherwise hit, raising `RecursionError`).
MAX_CONDITION_DEPTH = 50
_JSON_LITERALS = {"true": True, "false": False, "null": None}


class _Missing:
    """What a missing name, key or index evaluates to: None in every comparison, except that
    two missing values never make one hold."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


class _ListLiteral(list[Any]):
    """A list literal's value: it may hold missing values (a list from the data cannot)."""


_COMPARATORS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}


class ConditionSyntaxError(PermanentError, ValueError):
    """A condition that is not valid in the condition language (says what is not allowed)."""


class Condition:
    """A compiled condition: `Condition("data.amount > 100").evaluate({"data": {...}})`."""

    def __init__(self, source: str) -> None:
        if not isinstance(source, str) or not source.strip():
            raise ConditionSyntaxError(f"a condition must be a non-empty string, got {source!r}")
        if len(source) > MAX_CONDITION_LENGTH:
            raise ConditionSyntaxError(
                f"a condition may be at most {MAX_CONDITION_LENGTH} characters, got {len(source)}"
            )
        self.source = source
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            raise ConditionSyntaxError(
                f"condition {source[:80]!r} does not parse: {type(exc).__name__}: {exc}"
            ) from None
        _check(tree.body, source)
        self._tree = tree.body

    def evaluate(self, namespace: Mapping[str, Any]) -> bool:
        """Whether the condition holds for `namespace` (names -> values)."""
        return bool(_evaluate(self._tree, namespace))

    def __repr__(self) -> str:
        return f"Condition({self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Condition) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)


def evaluate(source: str, namespace: Mapping[str, Any]) -> bool:
    """Compile and evaluate `source` once."""
    return Condition(source).evaluate(namespace)


# ---- checking: only the allowed node types, at compile time -------------------------------


def _check(node: ast.AST, source: str, depth: int = 0) -> None:
    if depth > MAX_CONDITION_DEPTH:
        raise ConditionSyntaxError(
            f"condition {source[:80]!r} nests deeper than {MAX_CONDITION_DEPTH} levels: "
            "write it flatter"
        )
    _check_node(node, source, depth + 1)


def _check_node(node: ast.AST, source: str, depth: int) -> None:
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, str | int | float | bool | type(None)):
            _reject(node, source, f"literal {node.value!r}")
        return
    if isinstance(node, ast.Name):
        if node.id.startswith("_"):
            _reject(node, source, f"name {node.id!r} (names starting with '_' are not allowed)")
        return
    if isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            _reject(node, source, f"attribute {node.attr!r} (names starting with '_')")
        _check(node.value, source, depth)
        return
    if isinstance(node, ast.Subscript):
        if isinstance(node.slice, ast.Slice):
            _reject(node, source, "slices")
        _check(node.value, source, depth)
        _check(node.slice, source, depth)
        return
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, source, depth)
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.Not | ast.USub):
            _reject(node, source, f"operator {type(node.op).__name__}")
        _check(node.operand, source, depth)
        return
    if isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _COMPARATORS:
                _reject(node, source, f"comparison {type(op).__name__}")
        _check(node.left, source, depth)
        for comparator in node.comparators:
            _check(comparator, source, depth)
        return
    if isinstance(node, ast.List | ast.Tuple):
        for element in node.elts:
            _check(element, source, depth)
        return
    _reject(node, source, type(node).__name__)


def _reject(node: ast.AST, source: str, what: str) -> None:
    raise ConditionSyntaxError(
        f"condition {source!r}: {what} is not allowed (column {getattr(node, 'col_offset', 0)}); "
        "use literals, names, subscripts, attributes, comparisons, and/or/not"
    )


# ---- evaluating ---------------------------------------------------------------------------


def _evaluate(node: ast.AST, namespace: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in namespace:
            return namespace[node.id]
        return _JSON_LITERALS.get(node.id, _MISSING)
    if isinstance(node, ast.Attribute):
        return _lookup(_evaluate(node.value, namespace), node.attr)
    if isinstance(node, ast.Subscript):
        return _lookup(_evaluate(node.value, namespace), _evaluate(node.slice, namespace))
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            result: Any = True
            for value in node.values:
                result = _evaluate(value, namespace)
                if not result:
                    return result
            return result
        result = False
        for value in node.values:
            result = _evaluate(value, namespace)
            if result:
                return result
        return result
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, namespace)
        if isinstance(node.op, ast.Not):
            return not operand
        is_number = isinstance(operand, int | float) and not isinstance(operand, bool)
        return -operand if is_number else _MISSING
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, namespace)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(comparator, namespace)
            if not _compare(op, left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.List | ast.Tuple):
        return _ListLiteral(_evaluate(e, namespace) for e in node.elts)
    raise ConditionSyntaxError(f"unexpected node {type(node).__name__}")  # pragma: no cover


def _lookup(container: Any, key: Any) -> Any:
    if isinstance(container, Mapping):
        return container.get(key, _MISSING) if _hashable(key) else _MISSING
    is_index = isinstance(key, int) and not isinstance(key, bool)
    if isinstance(container, Sequence) and not isinstance(container, str) and is_index:
        return container[key] if -len(container) <= key < len(container) else _MISSING
    return _MISSING


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _compare(op: ast.cmpop, left: Any, right: Any) -> bool:
    if left is _MISSING and right is _MISSING:
        return False  # nothing compared with nothing: `data.a == goal.b` with both left out
    if left is _MISSING and isinstance(op, ast.In | ast.NotIn) and isinstance(right, _ListLiteral):
        # element by element, so that a missing element equals no missing value either
        if isinstance(op, ast.In):
            return any(_compare(ast.Eq(), left, element) for element in right)
        return all(_compare(ast.NotEq(), left, element) for element in right)
    try:
        return bool(_COMPARATORS[type(op)](_present(left), _present(right)))
    except TypeError:
        return False


def _present(value: Any) -> Any:
    """`value`, a missing value (also in a list literal) read as None."""
    if value is _MISSING:
        return None
    if isinstance(value, _ListLiteral):
        return [_present(element) for element in value]
    return value
