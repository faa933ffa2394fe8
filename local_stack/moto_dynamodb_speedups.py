"""moto's DynamoDB overhead that is pure waste, cut while the local stack runs (each a context
manager, applied with ``moto_fixes``'s corrections; the others are in ``moto_speedups``):

- answers go through moto's model-driven serializer, which looks up every member of every
  attribute value of every item under several spellings (``direct_attribute_values``);
- UpdateItem's validators count clauses and look for overlapping paths at every node of the
  expression, each time over the node's whole subtree (``update_checks_once_at_root``);
- UpdateItem parses its expression (a hand-written tokenizer and parser) twice per request, the
  same few expressions every time (``parsed_update_expressions_reused``).

Each keeps moto's answers, errors included: a test compares them with moto's own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .moto_speedups import _replaced

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

    with _replaced([(BaseJSONSerializer, "_serialize_type_structure")], direct):
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

    with _replaced([(ActionCountValidator, "traverse")], once("verify_action_counts")), \
            _replaced([(OverlappingPathsValidator, "traverse")], once("check_for_overlapping_paths")):
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

    with _replaced([(UpdateExpressionParser, "make")], cached):
        yield
