"""moto's DynamoDB overhead that is pure waste, cut while the local stack runs (each a context
manager, applied with ``moto_fixes``'s corrections; the others are in ``moto_speedups``):

- answers go through moto's model-driven serializer, which looks up every member of every
  attribute value of every item under several spellings (``direct_attribute_values``);
- UpdateItem's validators count clauses and look for overlapping paths at every node of the
  expression, each time over the node's whole subtree (``update_checks_once_at_root``);
- UpdateItem parses its expression (a hand-written tokenizer and parser) twice per request, the
  same few expressions every time (``parsed_update_expressions_reused``);
- each of an UpdateItem's ten validators walks the tree rebuilding its table of node types at
  every node, with an abstract-class `isinstance` per node and per type
  (``expression_walks_by_node_class``);
- building an item re-measures the whole item at each attribute it adds (``items_measured_once``);
- each validator deep-copies the expression tree with `copy.deepcopy`, which rebuilds each node
  through the pickle protocol's generic path (``expression_trees_copied_by_pickle``).

Each keeps moto's answers, errors included: a test compares them with moto's own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .moto_speedups import replaced

# Distinct UpdateExpressions kept parsed: the product has a handful; tests a few hundred at most.
PARSED_UPDATE_EXPRESSIONS = 512


@contextmanager
def direct_attribute_values() -> Iterator[None]:
    """moto serializes a DynamoDB answer by walking the service model: for each member of each
    `AttributeValue` (ten of them: S, N, B, …) of each attribute of each item it tries the key under
    several spellings. About a fifth of an UpdateItem's CPU and most of a GetItem's. An
    `AttributeValue` is already in wire shape once moto's `dynamo_to_dict` made it (`{"S": "x"}`,
    binary as bytes): it is copied as it is, binary base64-encoded as the serializer would."""
    from moto.core.serialize import BaseJSONSerializer

    def direct(original: Callable[..., None]) -> Callable[..., None]:
        def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
            if shape.name != "AttributeValue" or not isinstance(value, dict):
                original(self, serialized, value, shape, key)
                return
            wire = attribute_value_wire(value, self._base64)
            if key:
                self._default_serialize(serialized, wire, shape, key)
            else:
                serialized.update(wire)

        return _serialize_type_structure

    with replaced([(BaseJSONSerializer, "_serialize_type_structure")], direct):
        yield


def attribute_value_wire(value: dict[str, Any], base64: Any) -> dict[str, Any]:
    """One AttributeValue as DynamoDB's JSON carries it (members that are None are left out, as
    the model-driven serializer leaves them out)."""
    wire: dict[str, Any] = {}
    for kind, member in value.items():
        if member is None:
            continue
        if kind == "M":
            wire[kind] = {name: attribute_value_wire(item, base64) for name, item in member.items()}
        elif kind == "L":
            wire[kind] = [attribute_value_wire(item, base64) for item in member]
        elif kind == "B":
            wire[kind] = base64(member)
        elif kind == "BS":
            wire[kind] = [base64(item) for item in member]
        elif kind in ("S", "N"):
            wire[kind] = str(member)
        elif kind in ("SS", "NS"):
            wire[kind] = [str(item) for item in member]
        else:  # BOOL, NULL
            wire[kind] = member
    return wire


@contextmanager
def update_checks_once_at_root() -> Iterator[None]:
    """moto's UpdateItem validators count an expression's SET/ADD/REMOVE clauses, and look for two
    actions on overlapping paths, at every UpdateExpression node of its tree (one per action), each
    time walking the node's whole subtree: quadratic in the number of actions, the largest cost of
    an UpdateItem with a dozen SETs. The root's subtree holds every action, so one check there
    finds any fault a subtree has; only then is moto's own walk run, for its exact error."""
    from moto.dynamodb.parsing.ast_nodes import UpdateExpression
    from moto.dynamodb.parsing.validators import ActionCountValidator, OverlappingPathsValidator

    def once(check: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            def traverse(self: Any, node: Any) -> Any:
                if isinstance(node, UpdateExpression):
                    try:
                        getattr(self, check)(node)
                        return node
                    except Exception:  # noqa: S110 - moto's walk below raises the error moto would raise
                        pass
                return original(self, node)

            return traverse

        return make

    with replaced([(ActionCountValidator, "traverse")], once("verify_action_counts")), \
            replaced([(OverlappingPathsValidator, "traverse")], once("check_for_overlapping_paths")):
        yield


@contextmanager
def parsed_update_expressions_reused() -> Iterator[None]:
    """UpdateItem (and each Update of a transaction) parses its UpdateExpression in the request
    handler and again in the backend: moto's tokenizer and parser, pure Python, about a third of
    an UpdateItem's CPU. The product sends the same few expressions with new values each time.
    Nobody changes a parsed tree (the validators work on a deep copy), so each expression is parsed
    once; one that does not parse raises every time, as before."""
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    def cached(original: Callable[[str], Any]) -> Callable[[str], Any]:
        return functools.lru_cache(maxsize=PARSED_UPDATE_EXPRESSIONS)(original)

    with replaced([(UpdateExpressionParser, "make")], cached):
        yield


@contextmanager
def expression_walks_by_node_class() -> Iterator[None]:
    """The validators' depth-first walk (moto's `traverse_node_recursively`) asks at every node
    for the processor's table of node types (a new dict of bound methods and a tuple built from
    it), whether the node is a `Node` and whether it is one of those types: `isinstance` against
    abstract classes (`ABCMeta.__instancecheck__`, a Python-level call each), and calls a no-op
    hook before each child. A processor's table never changes (a literal of its own methods): it
    is built once per processor; the answers depend only on the node's class, so they are looked
    up once per class. The walk, the order, the hook (where a processor has one) and the
    replacements are moto's."""
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node

    is_node: dict[type, bool] = {}
    no_hook = DepthFirstTraverser.pre_processing_of_child

    def by_class(_original: Callable[..., Any]) -> Callable[..., Any]:
        def traverse(self: Any, root: Any) -> Any:
            types, table = _table(self)
            handled: dict[type, Callable[..., Any] | None] = {}
            hook = None if type(self).pre_processing_of_child is no_hook else self.pre_processing_of_child

            def processor_for(node_class: type) -> Callable[..., Any] | None:
                if node_class not in handled:
                    handled[node_class] = next((p for t, p in table if issubclass(node_class, t)), None)
                return handled[node_class]

            def walk(node: Any, child_id: int) -> Any:
                node_class = type(node)
                node_like = is_node.get(node_class)
                if node_like is None:
                    node_like = is_node[node_class] = isinstance(node, Node)
                if not node_like:
                    return node
                parent = node.parent
                children = node.children
                if children is not None:
                    for index, child in enumerate(children):
                        if hook is not None:
                            hook(node, index)
                        walk(child, index)
                processor = processor_for(node_class)
                if processor is not None:
                    node = processor(node)
                    node.parent = parent
                    if parent:
                        parent.children[child_id] = node
                return node

            return root if not types and hook is None else walk(root, -1)

        return traverse

    with replaced([(DepthFirstTraverser, "traverse")], by_class):
        yield


def _table(processor: Any) -> tuple[tuple[type, ...], tuple[tuple[type, Callable[..., Any]], ...]]:
    table = processor.__dict__.get("_speedup_table")
    if table is None:
        mapping = processor._processing_map()
        table = processor.__dict__["_speedup_table"] = (tuple(mapping), tuple(mapping.items()))
    return table


@contextmanager
def items_measured_once() -> Iterator[None]:
    """moto's item keeps DynamoDB's 400 KB limit in its attribute dict: every attribute set sums
    the size of every attribute already there. Building an item sets them one by one (every
    PutItem, every item a transaction or an update builds): quadratic in its attributes, 25-30 on
    a cell. Building one now keeps a running total, the same sums in the same order, so an item
    past the limit fails exactly where it failed (later updates keep moto's own check)."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    def measured_once(_original: Callable[..., None]) -> Callable[..., None]:
        def __init__(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:  # noqa: N807
            self.hash_key = hash_key
            self.range_key = range_key
            self.attrs = LimitedSizeDict()
            total = 0
            for key, value in attrs.items():
                typed = DynamoType(value)
                total += bytesize(key) + typed.size()
                if total > _ITEM_SIZE_LIMIT:
                    raise ItemSizeTooLarge
                dict.__setitem__(self.attrs, key, typed)

        return __init__

    with replaced([(Item, "__init__")], measured_once):
        yield


_ITEM_SIZE_LIMIT = 405000  # moto's LimitedSizeDict: between DynamoDB's measured 409 and 410 KB


@contextmanager
def expression_trees_copied_by_pickle() -> Iterator[None]:
    """An UpdateItem's validator works on a copy of the expression tree (`copy.deepcopy`), which
    reconstructs every node through `__reduce_ex__` one call at a time: a sixth of moto's CPU in a
    batch. A pickle round trip builds the same tree (the same classes, attributes and parent links)
    in C, about three times faster. Anything that does not pickle is deep-copied as before."""
    import copy
    import pickle

    import moto.dynamodb.parsing.validators as validators
    from moto.dynamodb.parsing.ast_nodes import Node

    def pickled(original: Callable[..., Any]) -> Callable[..., Any]:
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if memo is None and isinstance(value, Node):
                try:
                    return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301 - our own bytes
                except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
                    pass
            return copy.deepcopy(value, memo)

        return deepcopy

    with replaced([(validators, "deepcopy")], pickled):
        yield
