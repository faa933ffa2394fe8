"""moto's DynamoDB, faster (``local_stack.moto_dynamodb_speedups``) and the same: every speedup
gives moto's own answers and errors, and does its work once where moto repeated it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local_stack.moto_speedups import SPEEDUP

pytestmark = pytest.mark.unit


@pytest.fixture
def update() -> Iterator[Callable[..., Any]]:
    """UpdateItem of item `key` of a fresh table: the new item, or the error."""
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")

        def update(expression: str, key: str = "k") -> Any:
            try:
                return ddb.update_item(TableName="t", Key={"pk": {"S": key}}, UpdateExpression=expression,
                                       ExpressionAttributeValues={":v": {"N": "1"}}, ReturnValues="ALL_NEW")["Attributes"]
            except ClientError as error:
                return error.response["Error"]

        yield update


MANY_SETS = ", ".join(f"a{i} = :v" for i in range(12))
UPDATES = [f"SET {MANY_SETS} ADD n :v", "SET a = :v SET b = :v", "ADD a :v ADD b :v", "SET a = :v REMOVE b REMOVE c",
           "SET a = :v, a = :v", "SET m = :v, m.x = :v", "SET a = :v REMOVE a", "SET a = :v,", "SET a = = :v"]


def test_given_update_checks_once_at_root_then_updates_and_their_errors_are_moto_own(update: Callable[..., Any]) -> None:

    from moto.dynamodb.parsing.validators import ActionCountValidator, OverlappingPathsValidator

    from local_stack.moto_dynamodb_speedups import update_checks_once_at_root

    expected = [update(case) for case in UPDATES]
    assert expected[0]["n"] == {"N": "1"} and all("Message" in e for e in expected[1:])  # moto's own answers
    with update_checks_once_at_root(), mock.patch.object(
            ActionCountValidator, "verify_action_counts", autospec=True,
            side_effect=ActionCountValidator.verify_action_counts) as counted, mock.patch.object(
            OverlappingPathsValidator, "check_for_overlapping_paths", autospec=True,
            side_effect=OverlappingPathsValidator.check_for_overlapping_paths) as overlaps:
        assert update(f"SET {MANY_SETS}") is not None
        assert counted.call_count == overlaps.call_count == 1  # once at the root, not once per action (12)
        assert [update(case) for case in UPDATES[1:]] == expected[1:]
    assert not getattr(ActionCountValidator.traverse, SPEEDUP, False)  # restored
    assert not getattr(OverlappingPathsValidator.traverse, SPEEDUP, False)


def test_given_parsed_update_expressions_reused_then_each_is_parsed_once_and_answers_are_moto_own(
    update: Callable[..., Any],
) -> None:

    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.parsing.tokens import ExpressionTokenizer

    from local_stack.moto_dynamodb_speedups import parsed_update_expressions_reused

    expected = [update(case, "moto") for case in UPDATES * 3]
    with parsed_update_expressions_reused(), mock.patch.object(
            ExpressionTokenizer, "make_list", side_effect=ExpressionTokenizer.make_list) as tokenized:
        answers = [update(case, "reused") for case in UPDATES * 3]  # a bad expression fails every time
    assert [{**a, "pk": None} if "pk" in a else a for a in answers] == [
        {**e, "pk": None} if "pk" in e else e for e in expected]
    parsed = [call.args[0] for call in tokenized.call_args_list]
    assert sorted(set(parsed)) == sorted(parsed[: len(set(parsed))]) and parsed.count(UPDATES[0]) == 1
    assert isinstance(vars(UpdateExpressionParser)["make"], classmethod)  # restored as it was


def test_given_cached_handler_methods_then_each_class_is_listed_once(update: Callable[..., Any]) -> None:

    import moto.core.utils as utils

    from local_stack.moto_speedups import cached_handler_methods

    with cached_handler_methods(), mock.patch.object(utils.inspect, "getmembers",
                                                    side_effect=utils.inspect.getmembers) as listed:
        answers = [update("SET a = :v"), update("SET a = :v, a = :v")]
    assert answers[0]["a"] == {"N": "1"} and "Two document paths overlap" in answers[1]["Message"]
    assert listed.call_count == 1


EVERY_ATTRIBUTE_TYPE = {
    "pk": {"S": "CELL#1"}, "text": {"S": ""}, "number": {"N": "-12.50"}, "blob": {"B": b"\x00\xffraw"},
    "strings": {"SS": ["a", "b"]}, "numbers": {"NS": ["1", "2.5"]}, "blobs": {"BS": [b"x", b"\x01"]},
    "flag": {"BOOL": False}, "nothing": {"NULL": True}, "empty_map": {"M": {}}, "empty_list": {"L": []},
    "nested": {"M": {"list": {"L": [{"S": "s"}, {"N": "3"}, {"B": b"b"}, {"M": {"deep": {"BOOL": True}}}]},
                     "map": {"M": {"n": {"NULL": True}}}}},
}


def test_given_direct_attribute_values_then_every_dynamodb_answer_is_the_one_moto_serializes() -> None:
    """Every attribute type, nested, through every read the product makes: the same answers as
    moto's model-driven serializer, which the fix bypasses for AttributeValues."""

    from moto.core.serialize import BaseJSONSerializer

    from local_stack.moto_dynamodb_speedups import direct_attribute_values

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        ddb.put_item(TableName="t", Item=EVERY_ATTRIBUTE_TYPE)
        key = {"pk": {"S": "CELL#1"}}

        def answers() -> list[Any]:
            got = [
                ddb.get_item(TableName="t", Key=key)["Item"],
                ddb.batch_get_item(RequestItems={"t": {"Keys": [key]}})["Responses"]["t"],
                ddb.query(TableName="t", KeyConditionExpression="pk = :k",
                          ExpressionAttributeValues={":k": key["pk"]})["Items"],
                ddb.update_item(TableName="t", Key=key, UpdateExpression="SET flag = :f",
                                ExpressionAttributeValues={":f": {"BOOL": False}}, ReturnValues="ALL_NEW")["Attributes"],
                ddb.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": key}}])["Responses"],
            ]
            return got

        expected = answers()
        assert expected[0] == EVERY_ATTRIBUTE_TYPE  # moto's own serializer round-trips every type
        with direct_attribute_values(), mock.patch(
            "local_stack.moto_dynamodb_speedups.attribute_value_wire", wraps=__import__(
                "local_stack.moto_dynamodb_speedups", fromlist=["x"]).attribute_value_wire) as direct:
            assert answers() == expected
            assert direct.call_count >= 5  # the fix answered (one call per AttributeValue at the top)
        assert not getattr(BaseJSONSerializer._serialize_type_structure, SPEEDUP, False)  # restored


def test_given_expression_walks_by_node_class_then_each_processor_builds_its_table_once_and_answers_are_moto_own(
    update: Callable[..., Any],
) -> None:
    from moto.dynamodb.parsing.validators import ExecuteOperations

    from local_stack.moto_dynamodb_speedups import expression_walks_by_node_class

    expected = [update(case, "moto") for case in UPDATES]
    with expression_walks_by_node_class(), mock.patch.object(
            ExecuteOperations, "_processing_map", autospec=True, side_effect=ExecuteOperations._processing_map) as built:
        answers = [update(case, "tables") for case in UPDATES]
        validated = built.call_count
        update(f"SET {MANY_SETS}", "tables")
    assert [{**a, "pk": None} if "pk" in a else a for a in answers] == [
        {**e, "pk": None} if "pk" in e else e for e in expected]
    assert built.call_count - validated == 1  # one table for a 12-action expression, not one per node


def test_given_items_measured_once_then_items_past_the_limit_fail_where_they_failed_and_others_are_moto_own() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    from local_stack.moto_dynamodb_speedups import items_measured_once

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")

        def put(key: str, attributes: dict[str, Any]) -> Any:
            try:
                ddb.put_item(TableName="t", Item={"pk": {"S": key}, **attributes})
                return ddb.get_item(TableName="t", Key={"pk": {"S": key}})["Item"] | {"pk": None}
            except ClientError as error:
                return error.response["Error"]

        many = {f"a{i}": {"M": {"s": {"S": "x" * i}, "n": {"N": str(i)}, "l": {"L": [{"BOOL": True}]}}} for i in range(60)}
        # Around the limit: 404,990 bytes of attributes fit, 405,001 do not (moto's own line).
        near = [{"big": {"S": "y" * (404_990 - len("big") - len("pk") - 1)}},
                {"big": {"S": "y" * (405_001 - len("big") - len("pk") - 1)}},
                {"one": {"S": "z" * 200_000}, "two": {"S": "z" * 200_000}, "three": {"S": "z" * 5_000}}]
        cases = [many, *near]
        expected = [put(f"moto{n}", case) for n, case in enumerate(cases)]
        assert "Message" not in expected[0] and "Message" in expected[2]
        with items_measured_once(), mock.patch.object(DynamoType, "size", autospec=True,
                                                       side_effect=DynamoType.size) as measured:
            assert [put(f"once{n}", case) for n, case in enumerate(cases)] == expected
            measured.reset_mock()
            put("linear", many)
        assert measured.call_count < 400  # 61 attributes measured once each (maps recurse), not 61 x 62 / 2


def test_given_expression_trees_copied_by_pickle_then_updates_are_moto_own_and_no_tree_goes_through_deepcopy(
    update: Callable[..., Any],
) -> None:
    import copy

    from local_stack.moto_dynamodb_speedups import expression_trees_copied_by_pickle

    expected = [update(case, "moto") for case in [*UPDATES, "SET l = list_append(if_not_exists(l, :v), :v)"]]
    with expression_trees_copied_by_pickle(), mock.patch.object(copy, "_reconstruct",
                                                                side_effect=copy._reconstruct) as rebuilt:
        answers = [update(case, "pickled") for case in [*UPDATES, "SET l = list_append(if_not_exists(l, :v), :v)"]]
    assert [{**a, "pk": None} if "pk" in a else a for a in answers] == [
        {**e, "pk": None} if "pk" in e else e for e in expected]
    assert rebuilt.call_count == 0  # every node was rebuilt by pickle


def test_given_expression_walks_by_node_class_then_updates_are_moto_own_and_take_the_walk_by_class(
    update: Callable[..., Any],
) -> None:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser

    from local_stack.moto_dynamodb_speedups import expression_walks_by_node_class

    cases = [*UPDATES, "SET l = list_append(if_not_exists(l, :v), :v)", "SET m.x = :v", "REMOVE a[0]", "SET n = n + :v"]
    expected = [update(case, "moto") for case in cases]
    with expression_walks_by_node_class(), mock.patch.object(
            DepthFirstTraverser, "traverse_node_recursively", autospec=True,
            side_effect=DepthFirstTraverser.traverse_node_recursively) as moto_walk:
        answers = [update(case, "walked") for case in cases]
    assert [{**a, "pk": None} if "pk" in a else a for a in answers] == [
        {**e, "pk": None} if "pk" in e else e for e in expected]
    assert moto_walk.call_count == 0
