"""Speed patches applied to moto inside the local cloud's server process only.

Each one leaves moto's observable behaviour unchanged; docs/local-cloud.md says why each exists.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any


def memoize_jsonpath_parse() -> None:
    """moto's EventBridge builds a jsonpath parser for 8 input paths per event per target
    (`moto/events/utils.py`, `EventTemplateParser.parse` imports `jsonpath_ng.ext.parse` on every
    call): the parsed expressions are immutable, so cache them by path text."""
    import jsonpath_ng.ext

    parse = getattr(jsonpath_ng.ext, "parse")  # noqa: B009
    if getattr(parse, "__soorma_memoized__", False):
        return
    cached: Any = functools.lru_cache(maxsize=1024)(parse)
    cached.__soorma_memoized__ = True
    setattr(jsonpath_ng.ext, "parse", cached)  # noqa: B010


def cache_moto_module_list() -> None:
    """moto's server lists its own package directory (`os.listdir` + `isdir` on ~150 folders)
    on every request to find the backend for a host (`backends.list_of_moto_modules`); the list
    never changes while the server runs."""
    import moto.backends

    if getattr(moto.backends.list_of_moto_modules, "__soorma_memoized__", False):
        return
    modules = tuple(moto.backends.list_of_moto_modules())

    def list_of_moto_modules() -> Any:
        return iter(modules)

    list_of_moto_modules.__soorma_memoized__ = True  # type: ignore[attr-defined]
    moto.backends.list_of_moto_modules = list_of_moto_modules


def fast_sqs_clock() -> None:
    """moto's SQS asks `unix_time()` (two naive datetimes and a subtraction) for every message
    it looks at: visibility and delay checks run per message per receive and per attribute
    read, so the clock dominates receives on deep queues. Without an argument it is
    `time.time()`."""
    import time

    import moto.sqs.models as sqs_models
    from moto.core import utils

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else utils.unix_time(dt)

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time(dt) * 1000.0

    setattr(sqs_models, "unix_time", unix_time)  # noqa: B010
    setattr(sqs_models, "unix_time_millis", unix_time_millis)  # noqa: B010


def single_pass_queue_attributes() -> None:
    """`SQSBackend.get_queue_attributes` rebuilds `queue.attributes` (every attribute, with
    O(queue depth) message counts) three times per attribute asked for, and every received
    message pays one such call for its retention check. Build the attributes once, and read the
    retention period straight from the queue."""
    from moto.sqs import models as sqs_models
    from moto.sqs.exceptions import InvalidAttributeName

    backend = sqs_models.SQSBackend

    def get_queue_attributes(self: Any, queue_name: str, attribute_names: list[str]) -> Any:
        queue = self.get_queue(queue_name)
        if not attribute_names:
            return {}
        valid = ["All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
        invalid = next((n for n in attribute_names if n not in valid), None)
        if invalid or invalid == "":
            raise InvalidAttributeName(invalid)
        every = queue.attributes
        if "All" in attribute_names:
            return every
        return {n: every[n] for n in attribute_names if every.get(n) is not None}

    def is_message_valid_based_on_retention_period(
        self: Any, queue_name: str, message: Any
    ) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > getattr(sqs_models, "unix_time")())  # noqa: B009

    setattr(backend, "get_queue_attributes", get_queue_attributes)  # noqa: B010
    setattr(  # noqa: B010
        backend,
        "is_message_valid_based_on_retention_period",
        is_message_valid_based_on_retention_period,
    )


def single_pass_message_counts() -> None:
    """Every SendMessage reads `queue.attributes` (for one FIFO setting), which counts visible,
    in-flight and delayed messages with three scans calling two clock reads per message; every
    ReceiveMessage scans for visible messages the same way. Read the clock once per scan and
    compare the messages' own timestamps (same rules: visible once `now > visible_at`, delayed
    while `now < delayed_until`). Still O(queue depth), about ten times cheaper."""
    import time

    from moto.sqs.models import Queue

    def now_ms() -> float:
        return time.time() * 1000.0

    def messages(self: Any) -> list[Any]:
        now = now_ms()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def delayed(self: Any) -> int:
        now = now_ms()
        return sum(1 for m in self._messages if now < m.delayed_until)

    def not_visible(self: Any) -> int:
        now = now_ms()
        return sum(1 for m in self._messages if not now > m.visible_at)

    def visible(self: Any) -> int:
        return len(messages(self))

    Queue.messages = property(messages)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_delayed = property(delayed)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages_not_visible = property(not_visible)  # type: ignore[assignment,method-assign]
    Queue.approximate_number_of_messages = property(visible)  # type: ignore[assignment,method-assign]


def memoize_name_helpers() -> None:
    """Every request runs `inspect.getmembers` on its response class to list its methods
    (`method_names_from_class`, in `BaseResponse.call_action`), and every `queue.attributes`
    converts ~15 CamelCase names to snake_case: both are pure functions of their argument."""
    import moto.core.responses as responses
    import moto.sqs.models as sqs_models
    from moto.core import utils

    to_snake = functools.lru_cache(maxsize=4096)(utils.camelcase_to_underscores)
    methods = functools.lru_cache(maxsize=1024)(
        lambda clazz: tuple(utils.method_names_from_class(clazz))
    )

    def method_names_from_class(clazz: object) -> list[str]:
        return list(methods(clazz))

    for module in (utils, responses, sqs_models):
        module.camelcase_to_underscores = to_snake  # type: ignore[attr-defined]
    responses.method_names_from_class = method_names_from_class  # type: ignore[attr-defined]


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


def fast_random_strings() -> None:
    """SQS makes a 185-letter receipt handle per received message and moto a 20-character
    request id per response, each with one `random.choice` call per character
    (`moto/sqs/utils.py`, `generate_receipt_handle`; `MotoRandom.get_random_string`). One
    `choices(k=...)` call on the same (seedable) generator draws from the same alphabet."""
    import string

    import moto.sqs.models as sqs_models
    from moto.moto_api._internal import mock_random
    from moto.moto_api._internal.moto_random import MotoRandom

    if getattr(MotoRandom.get_random_string, "__soorma_memoized__", False):
        return
    letters = string.ascii_lowercase

    def generate_receipt_handle() -> str:
        return "".join(mock_random.choices(letters, k=185))

    def get_random_string(
        self: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False
    ) -> str:
        pool = string.ascii_letters + (string.digits if include_digits else "")
        text = "".join(self.choices(pool, k=length))
        return text.lower() if lower_case else text

    get_random_string.__soorma_memoized__ = True  # type: ignore[attr-defined]
    setattr(sqs_models, "generate_receipt_handle", generate_receipt_handle)  # noqa: B010
    MotoRandom.get_random_string = get_random_string  # type: ignore[method-assign]


def single_pass_delete_message() -> None:
    """`Queue.delete_message` scans the queue twice and, for every message, builds the list of
    every receipt handle it ever had (`all_receipt_handles`): O(queue depth) list building per
    deleted message, which is most of `DeleteMessageBatch` on a deep queue. One pass with the
    same rules: an already deleted handle is ignored, an unknown one raises
    `ReceiptHandleIsInvalid`, and every message that ever had the handle is removed and its
    handles remembered as deleted."""
    from moto.sqs.exceptions import ReceiptHandleIsInvalid
    from moto.sqs.models import Queue

    def delete_message(self: Any, receipt_handle: str) -> None:
        if receipt_handle in self.deleted_messages:
            return
        kept = []
        found = False
        for message in self._messages:
            if (
                message.receipt_handle == receipt_handle
                or receipt_handle in message._old_receipt_handles
            ):
                found = True
                self.pending_messages.discard(message)
                self.deleted_messages.update(message.all_receipt_handles)
            else:
                kept.append(message)
        if not found:
            raise ReceiptHandleIsInvalid()
        self._messages = kept

    Queue.delete_message = delete_message  # type: ignore[method-assign]


def fast_events_clock() -> None:
    """EventBridge's `PutEvents` reads `unix_time()` (two naive datetimes and a subtraction)
    twice per event per rule on the bus, matched or not; without an argument it is
    `time.time()` (as in `fast_sqs_clock`)."""
    import time

    import moto.events.models as events_models
    from moto.core import utils

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else utils.unix_time(dt)

    setattr(events_models, "unix_time", unix_time)  # noqa: B010


def shallow_event_message_copy() -> None:
    """`PutEvents` deep-copies its template event message (`_BASE_EVENT_MESSAGE`: strings, an
    empty list and an empty dict) once per event per rule on the bus. A copy with a new list
    and dict is the same thing at a fraction of the cost; anything else still goes to
    `copy.deepcopy`."""
    import copy
    import types

    from moto.events.utils import _BASE_EVENT_MESSAGE as base

    events_models = importlib.import_module("moto.events.models")
    if isinstance(events_models.copy, types.SimpleNamespace):
        return
    plain = all(isinstance(v, str) or v in ([], {}) for v in base.values())

    def deepcopy(value: Any, memo: Any = None) -> Any:
        if value is base and plain:
            return {k: v if isinstance(v, str) else type(v)() for k, v in base.items()}
        return copy.deepcopy(value, memo)

    setattr(events_models, "copy", types.SimpleNamespace(deepcopy=deepcopy))  # noqa: B010


def quiet_request_log() -> None:
    """Werkzeug logs one line per request: at local-cloud rates that is most of the output."""
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def apply_all() -> list[str]:
    """Apply every patch; return their names (the server prints them)."""
    patches = [
        memoize_jsonpath_parse,
        cache_moto_module_list,
        fast_sqs_clock,
        single_pass_queue_attributes,
        single_pass_message_counts,
        memoize_name_helpers,
        memoize_update_expressions,
        memoize_condition_expressions,
        cache_traverser_node_types,
        fast_ast_traversal,
        fast_random_strings,
        single_pass_delete_message,
        fast_events_clock,
        shallow_event_message_copy,
        quiet_request_log,
    ]
    for patch in patches:
        patch()
    return [p.__name__ for p in patches]
